package hid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/replay"
	"github.com/posagent/posagent/internal/sale"
)

var quiet = slog.New(slog.DiscardHandler)

// fakeBackend plays transcripts as devices: the path of an Info names the
// transcript in ../replay/testdata.
type fakeBackend struct {
	infos   []Info
	denied  map[string]bool
	players []*replay.Player
}

func (f *fakeBackend) backend() Backend {
	return Backend{
		Supported: func() bool { return true },
		Enumerate: func() ([]Info, error) { return f.infos, nil },
		Open: func(in Info) (Handle, error) {
			if f.denied[in.Path] {
				return nil, errors.New("hidapi: failed to open device")
			}
			tr, err := replay.Load(filepath.Join("..", "replay", "testdata", in.Path))
			if err != nil {
				return nil, err
			}
			p := replay.NewPlayer(tr)
			f.players = append(f.players, p)
			return p, nil
		},
		Access: func(in Info) error {
			if f.denied[in.Path] {
				return fs.ErrPermission
			}
			return nil
		},
	}
}

func TestScan(t *testing.T) {
	f := &fakeBackend{
		infos: []Info{
			{Path: "magtek_dynamag_hid.txt", VID: 0x0801, PID: 0x0011, Product: "USB Swipe Reader"},
			{Path: "magtek_dynamag_hid.txt", VID: 0x0801, PID: 0x0011}, // a second interface entry
			{Path: "kb", VID: 0x0801, PID: 0x0001},
			{Path: "kb2", VID: 0x0ACD, PID: 0x2030},
			{Path: "locked", VID: 0x0ACD, PID: 0x3530},
			{Path: "new", VID: 0x0ACD, PID: 0x9999},
			{Path: "mouse", VID: 0x046D, PID: 0xC077},
		},
		denied: map[string]bool{"locked": true},
	}
	d := &Driver{Backend: f.backend(), Log: quiet}
	devs, err := d.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"hid:0801:0011:magtek_dynamag_hid.txt": "",
		"hid:0801:0001:kb":                     KeyboardAdvice,
		"hid:0acd:2030:kb2":                    KeyboardAdvice,
		"hid:0acd:3530:locked":                 "(vendor 0acd): install posagent's udev rules",
		"hid:0acd:9999:new":                    "unsupported ID TECH product 0acd:9999",
	}
	if len(devs) != len(want) {
		t.Fatalf("got %d devices: %+v", len(devs), devs)
	}
	for _, dv := range devs {
		w, ok := want[dv.ID]
		switch {
		case !ok:
			t.Errorf("unexpected device %s", dv.ID)
		case w == "" && dv.Broken != "":
			t.Errorf("%s broken: %s", dv.ID, dv.Broken)
		case !strings.Contains(dv.Broken, w):
			t.Errorf("%s: Broken = %q, want it to say %q", dv.ID, dv.Broken, w)
		}
		if dv.Device.Transport != "hid" {
			t.Errorf("%s: transport %q", dv.ID, dv.Device.Transport)
		}
	}
	d.OnlyVID, d.OnlyPID = 0x0ACD, 0x3530
	if devs, _ := d.Scan(context.Background()); len(devs) != 1 || devs[0].ID != "hid:0acd:3530:locked" {
		t.Errorf("vid/pid filter: %+v", devs)
	}
	if _, err := d.Open(context.Background(), devDevice(Info{Path: "kb", VID: 0x0801, PID: 0x0001})); err == nil {
		t.Error("Open of a keyboard-mode reader succeeded")
	}
	_, err = d.Open(context.Background(), devDevice(Info{Path: "locked", VID: 0x0ACD, PID: 0x3530}))
	if err == nil || !strings.Contains(err.Error(), "udev") {
		t.Errorf("Open of a locked device: %v", err)
	}
}

func TestNotCompiled(t *testing.T) {
	d := &Driver{Backend: Backend{Supported: func() bool { return false }}}
	if _, err := d.Scan(context.Background()); !errors.Is(err, ErrNotCompiled) || !strings.Contains(err.Error(), "built without cgo") {
		t.Errorf("Scan = %v", err)
	}
	if _, err := d.Open(context.Background(), reader.Device{}); !errors.Is(err, ErrNotCompiled) {
		t.Errorf("Open = %v", err)
	}
}

func devDevice(in Info) (d reader.Device) {
	d.ID = ID(in)
	d.Device.VID, d.Device.PID, d.Device.Path = in.VID, in.PID, in.Path
	return d
}

func summary(ev reader.Event) string {
	switch ev.Kind {
	case reader.EventCard:
		r := ev.Read
		return fmt.Sprintf("card %s %s %s %s serial=%s model=%s", r.Source, r.Envelope.Format, r.MaskedPAN, r.EntryMode, r.Device.Serial, r.Device.Model)
	case reader.EventRefused:
		return "refused " + decrypt.CodeOf(ev.Err)
	case reader.EventPrompt:
		return "prompt " + string(ev.Prompt)
	}
	return string(ev.Kind)
}

// runAll opens a device, runs it to its detach and returns its events.
func runAll(t *testing.T, d *Driver, in Info, arm bool) (reader.Reader, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := d.Open(ctx, devDevice(in))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	evs := make(chan reader.Event, 64)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, func(ev reader.Event) { evs <- ev }) }()
	if arm {
		if err := r.Arm(ctx, reader.Transaction{AmountCents: 1250}); err != nil {
			t.Fatalf("Arm: %v", err)
		}
	}
	if err := <-done; !errors.Is(err, reader.ErrDetached) {
		t.Errorf("Run = %v, want ErrDetached", err)
	}
	close(evs)
	var got []string
	for ev := range evs {
		got = append(got, summary(ev))
	}
	return r, got
}

// Recorded report sequences of each HID model run through the driver, the
// same code path as a real device.
func TestModels(t *testing.T) {
	tests := []struct {
		in     Info
		arm    bool
		serial string
		want   []string
	}{
		{Info{Path: "magtek_dynamag_hid.txt", VID: 0x0801, PID: 0x0011}, false, "B27F1A0", []string{
			"card magtek-hid magnesafe 5452********7189 S serial=B27F1A0 model=MagTek Dynamag",
		}},
		{Info{Path: "idtech_securemag_hid.txt", VID: 0x0ACD, PID: 0x2010}, false, "", []string{
			"card idtech-binary idtech 4761********0043 S serial=310T061040 model=ID TECH SecureMag",
			"card idtech-binary idtech 4761********0076 S serial=417T028740 model=ID TECH SecureMag",
		}},
		{Info{Path: "vp3300_contact_hid.txt", VID: 0x0ACD, PID: 0x3530}, true, "0820619250", []string{
			"prompt present_card",
			"prompt processing",
			"card vivopay ksn 4761********0119 C serial=0820619250 model=ID TECH VP3300",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.in.Path, func(t *testing.T) {
			f := &fakeBackend{}
			d := &Driver{Backend: f.backend(), Log: quiet}
			r, got := runAll(t, d, tc.in, tc.arm)
			if s := r.Info().Device.Serial; s != tc.serial {
				t.Errorf("serial %q, want %q", s, tc.serial)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if !f.players[0].Done() {
				t.Error("the transcript was not played to its end")
			}
		})
	}
}

// Recording a HID session (feature reports included) and replaying the
// recording gives the same read.
func TestRecord(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rec.txt")
	f := &fakeBackend{}
	d := &Driver{Backend: f.backend(), Log: quiet, Record: func(reader.Device) (io.WriteCloser, error) { return os.Create(file) }}
	r, got := runAll(t, d, Info{Path: "magtek_dynamag_hid.txt", VID: 0x0801, PID: 0x0011}, false)
	r.Close()
	rec, err := replay.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := replay.Load(filepath.Join("..", "replay", "testdata", "magtek_dynamag_hid.txt"))
	kinds := func(tr *replay.Transcript) (s []string) {
		for _, e := range tr.Events {
			s = append(s, e.Kind)
		}
		return s
	}
	if a, b := strings.Join(kinds(rec), " "), strings.Join(kinds(orig), " "); a != b {
		t.Errorf("recorded events %s, want %s", a, b)
	}
	if rec.Header.Protocol != "magtek-hid" || rec.Header.VID != 0x0801 || rec.Header.FeatureSize != 60 {
		t.Errorf("header %+v", rec.Header)
	}
	p := replay.NewPlayer(rec)
	rr, err := replay.OpenPlayer(context.Background(), p, rec.Header, sale.Reader{ID: "replay:x"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var again []string
	rr.Run(context.Background(), func(ev reader.Event) { again = append(again, summary(ev)) })
	if len(again) != 1 || !strings.HasPrefix(again[0], "card magtek-hid magnesafe 5452********7189") || len(got) != 1 {
		t.Errorf("replayed %v, live %v", again, got)
	}
}
