package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

var quiet = slog.New(slog.DiscardHandler)

// summary renders an event without card data, for comparisons.
func summary(ev reader.Event) string {
	switch ev.Kind {
	case reader.EventCard:
		r := ev.Read
		return fmt.Sprintf("card %s %s %s %s serial=%s", r.Source, r.Envelope.Format, r.MaskedPAN, r.EntryMode, r.Device.Serial)
	case reader.EventRefused:
		return "refused " + decrypt.CodeOf(ev.Err)
	case reader.EventPrompt:
		return "prompt " + string(ev.Prompt)
	}
	return string(ev.Kind)
}

// play opens a transcript through the Driver, runs it to its end and
// returns the events and Run's error.
func play(t *testing.T, file string, arm bool) ([]string, sale.Reader, error) {
	t.Helper()
	d := &Driver{Files: []string{filepath.Join("testdata", file)}, Log: quiet}
	devs, err := d.Scan(context.Background())
	if err != nil || len(devs) != 1 || devs[0].Broken != "" {
		t.Fatalf("Scan = %+v, %v", devs, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := d.Open(ctx, devs[0])
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	events := make(chan reader.Event, 100)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, func(ev reader.Event) { events <- ev }) }()
	if arm {
		if err := r.Arm(ctx, reader.Transaction{AmountCents: 1250, Timeout: 30 * time.Second}); err != nil {
			t.Fatalf("Arm: %v", err)
		}
	}
	runErr := <-done
	close(events)
	var got []string
	for ev := range events {
		if ev.Time.IsZero() {
			t.Errorf("event %s has no time", ev.Kind)
		}
		if ev.Reader.ID != devs[0].ID {
			t.Errorf("event names reader %q", ev.Reader.ID)
		}
		got = append(got, summary(ev))
	}
	return got, r.Info(), runErr
}

// Every supported model's transcript plays through the protocol code of a
// real device and gives the reads the captures hold.
func TestModels(t *testing.T) {
	tests := []struct {
		file   string
		arm    bool
		serial string
		want   []string
	}{
		{"magtek_dynamag_hid.txt", false, "B27F1A0", []string{
			"card magtek-hid magnesafe 5452********7189 S serial=B27F1A0",
		}},
		{"magtek_kb_serial.txt", false, "", []string{
			"card magnesafe magnesafe 5452********7189 S serial=",
		}},
		{"idtech_securemag_serial.txt", false, "", []string{
			"card idtech-binary idtech 4761********0043 S serial=310T061040",
			"card idtech-binary idtech 4266********9999 S serial=",
			"refused bad_lrc",
		}},
		{"idtech_securemag_hid.txt", false, "", []string{
			"card idtech-binary idtech 4761********0043 S serial=310T061040",
			"card idtech-binary idtech 4761********0076 S serial=417T028740",
		}},
		{"vp3350_idg_serial.txt", true, "630Z000001", []string{
			"prompt present_card",
			"prompt processing",
			"card vivopay idtech 4761********0043 S serial=630Z000001",
		}},
		{"vp3300_contact_hid.txt", true, "0820619250", []string{
			"prompt present_card",
			"prompt processing",
			"card vivopay ksn 4761********0119 C serial=0820619250",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, info, err := play(t, tc.file, tc.arm)
			if !errors.Is(err, reader.ErrDetached) {
				t.Errorf("Run = %v, want ErrDetached at the transcript's detach", err)
			}
			if info.Device.Serial != tc.serial {
				t.Errorf("serial = %q, want %q", info.Device.Serial, tc.serial)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestScanBroken(t *testing.T) {
	d := NewDriver(filepath.Join(t.TempDir(), "missing.txt"), filepath.Join("testdata", "captures", "magtek_v5_kb_string.txt"))
	devs, err := d.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 {
		t.Fatalf("got %d devices", len(devs))
	}
	if !strings.Contains(devs[0].Broken, "does not exist") {
		t.Errorf("missing file: Broken = %q", devs[0].Broken)
	}
	if !strings.Contains(devs[1].Broken, "line 1") {
		t.Errorf("not a transcript: Broken = %q", devs[1].Broken)
	}
	if _, err := d.Open(context.Background(), reader.Device{ID: "hid:x"}); err == nil {
		t.Error("Open of a foreign device succeeded")
	}
}
