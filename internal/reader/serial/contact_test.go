package serial

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/proto"
)

// contactRig is a pty fake VP3300 with an opened vivopay reader on it.
type contactRig struct {
	f *fakeVP3300
	s *session
}

func newContactRig(t *testing.T, hostTimeout time.Duration, f *fakeVP3300) *contactRig {
	t.Helper()
	master, path := newPTY(t)
	f.master = master
	f.swipe = readHex(t, "idtech_vp3350_0240_swipe_frame.hex")
	f.contact = readHex(t, "idtech_vp3300_contact_emv_tlv.hex")
	f.tap = readHexAt(t, filepath.Join("..", "..", "decrypt", "testdata", "idtech_neo2_ctls_mastercard_record.hex"))
	go f.run()
	d := &Driver{Ports: []Port{{Path: path, Protocol: "vivopay"}}, Log: quiet, HostResponseTimeout: hostTimeout}
	return &contactRig{f: f, s: open(t, d, path)}
}

func (c *contactRig) arm(t *testing.T) {
	t.Helper()
	if err := c.s.r.Arm(context.Background(), reader.Transaction{AmountCents: 1250, Timeout: 30 * time.Second}); err != nil {
		t.Fatalf("Arm: %v", err)
	}
	if ev := c.s.next(t); summary(ev) != "prompt present_card" {
		t.Fatalf("after Arm: %s", summary(ev))
	}
}

// card waits for the card event after the processing prompt.
func (c *contactRig) card(t *testing.T) reader.Event {
	t.Helper()
	if ev := c.s.next(t); summary(ev) != "prompt processing" {
		t.Fatalf("got %s, want prompt processing", summary(ev))
	}
	ev := c.s.next(t)
	if ev.Kind != reader.EventCard {
		t.Fatalf("got %s (%v), want a card", summary(ev), ev.Err)
	}
	return ev
}

func (c *contactRig) commands() string {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return strings.Join(c.f.commands, " ")
}

func (c *contactRig) arcs() []string {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return slices.Clone(c.f.arcs)
}

// TestVivopayContactCompletion: a contact card that goes online waits for
// the host response; the handler sends it as Apply Host Response (60-12)
// with 8A, and the card's answer at the second GENERATE AC comes back, then
// the remove-card prompt.
func TestVivopayContactCompletion(t *testing.T) {
	tests := []struct {
		name       string
		scenario   string
		secondAC   byte
		offline    byte
		arc        string
		approved   bool
		cryptogram string
		commands   string
	}{
		{"approved, card accepts", "chip", 0x40, 0, reader.ARCApproved, true, "TC", "02-01 60-12"},
		{"approved, card declines at 2nd GENERATE AC", "chip", 0x00, 0, reader.ARCApproved, false, "AAC", "02-01 60-12"},
		{"gateway declined", "chip", 0x40, 0x40, reader.ARCDeclined, false, "AAC", "02-01 60-12"},
		{"gateway unknown: unable to go online", "chip", 0x40, 0x00, reader.ARCUnableOnline, false, "AAC", "02-01 60-12"},
		{"unable to go online, card approves offline", "chip", 0x40, 0x40, reader.ARCUnableOnline, true, "TC", "02-01 60-12"},
		{"no auto-authenticate: host sends 60-11", "chip-auth", 0x40, 0, reader.ARCApproved, true, "TC", "02-01 60-11 60-12"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newContactRig(t, time.Hour, &fakeVP3300{scenarios: []string{tc.scenario}, secondAC: tc.secondAC, offline: tc.offline})
			c.arm(t)
			ev := c.card(t)
			if ev.Read.EntryMode != "C" || ev.Complete == nil {
				t.Fatalf("entry %q, completion offered: %v", ev.Read.EntryMode, ev.Complete != nil)
			}
			d, err := ev.Complete(context.Background(), reader.HostResponse{ARC: tc.arc})
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if d.Approved != tc.approved || d.Cryptogram != tc.cryptogram || d.ARC != tc.arc {
				t.Errorf("decision %+v, want approved %v %s, 8A %s", d, tc.approved, tc.cryptogram, tc.arc)
			}
			if got := c.arcs(); !slices.Equal(got, []string{tc.arc}) {
				t.Errorf("the card was told %v, want [%s]", got, tc.arc)
			}
			if ev := c.s.next(t); summary(ev) != "prompt remove_card" {
				t.Errorf("after completion: %s", summary(ev))
			}
			if got := c.commands(); got != "18-01 12-01 "+tc.commands {
				t.Errorf("commands %s", got)
			}
			// Once only: a second host response finds no card waiting.
			if _, err := ev.Complete(context.Background(), reader.HostResponse{ARC: reader.ARCApproved}); !errors.Is(err, proto.ErrNotWaiting) {
				t.Errorf("second Complete: %v", err)
			}
		})
	}
}

// TestVivopayOneStepReads: swipe, fallback swipe and contactless end at the
// first answer; none offers a completion.
func TestVivopayOneStepReads(t *testing.T) {
	c := newContactRig(t, time.Hour, &fakeVP3300{scenarios: []string{"swipe", "fallback", "tap"}})
	for _, want := range []string{"S", "F", "P"} {
		c.arm(t)
		ev := c.card(t)
		if string(ev.Read.EntryMode) != want || ev.Complete != nil {
			t.Errorf("entry %q (want %s), completion offered: %v", ev.Read.EntryMode, want, ev.Complete != nil)
		}
	}
	if got := c.commands(); strings.Contains(got, "60-") {
		t.Errorf("contact commands for one-step reads: %s", got)
	}
}

// TestVivopayNoHostResponse: nobody answers for the card: the handler tells
// it "unable to go online" itself after its timeout, and the card decides.
func TestVivopayNoHostResponse(t *testing.T) {
	c := newContactRig(t, 50*time.Millisecond, &fakeVP3300{scenarios: []string{"chip", "swipe"}, offline: 0x00})
	c.arm(t)
	ev := c.card(t)
	if ev.Complete == nil {
		t.Fatal("no completion offered")
	}
	if ev := c.s.next(t); summary(ev) != "prompt remove_card" {
		t.Fatalf("after the host-response timeout: %s", summary(ev))
	}
	if got := c.arcs(); !slices.Equal(got, []string{reader.ARCUnableOnline}) {
		t.Errorf("the card was told %v, want [Z3]", got)
	}
	if _, err := ev.Complete(context.Background(), reader.HostResponse{ARC: reader.ARCApproved}); !errors.Is(err, proto.ErrNotWaiting) {
		t.Errorf("late Complete: %v", err)
	}
	c.arm(t) // the reader takes the next transaction
	if ev := c.card(t); ev.Read.EntryMode != "S" {
		t.Errorf("next read %s", summary(ev))
	}
}

// TestVivopayOneTransactionAtATime: while a card waits for its host
// response no second transaction starts; Arm waits for the completion.
func TestVivopayOneTransactionAtATime(t *testing.T) {
	c := newContactRig(t, time.Hour, &fakeVP3300{scenarios: []string{"chip", "swipe"}, secondAC: 0x40})
	c.arm(t)
	ev := c.card(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.s.r.Arm(ctx, reader.Transaction{AmountCents: 100}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Arm while the card waits: %v", err)
	}
	if got := c.commands(); strings.Count(got, "02-01") != 1 {
		t.Fatalf("a second transaction reached the reader: %s", got)
	}
	// The fake reader itself refuses one too.
	if out := c.f.handle(idgCommand(0x02, 0x01)); len(out) != 1 || out[0][11] != 0x0B {
		t.Errorf("fake reader answered a second 02-01 with %X", out)
	}
	if _, err := ev.Complete(context.Background(), reader.HostResponse{ARC: reader.ARCApproved}); err != nil {
		t.Fatal(err)
	}
	if ev := c.s.next(t); summary(ev) != "prompt remove_card" {
		t.Fatalf("after completion: %s", summary(ev))
	}
	c.arm(t)
	if ev := c.card(t); ev.Read.EntryMode != "S" {
		t.Errorf("next read %s", summary(ev))
	}
}

// TestVivopayReaderGaveUp: the reader's own host-response timeout passed:
// it refuses the late host response and the handler says so.
func TestVivopayReaderGaveUp(t *testing.T) {
	c := newContactRig(t, time.Hour, &fakeVP3300{scenarios: []string{"chip"}, hostTimeout: time.Nanosecond})
	c.arm(t)
	ev := c.card(t)
	_, err := ev.Complete(context.Background(), reader.HostResponse{ARC: reader.ARCApproved})
	if !errors.Is(err, proto.ErrProtocol) || !strings.Contains(err.Error(), "0B") {
		t.Fatalf("Complete after the reader gave up: %v", err)
	}
}

// TestVivopayRefusedChipReadReleased: a contact card whose read is refused
// (here: not encrypted) still waits for a host response; it is declined at
// once instead of waiting for the timeout.
func TestVivopayRefusedChipReadReleased(t *testing.T) {
	c := newContactRig(t, time.Hour, &fakeVP3300{scenarios: []string{"chip-clear", "swipe"}})
	c.arm(t)
	ev := c.s.next(t)
	if ev.Kind != reader.EventRefused {
		t.Fatalf("got %s", summary(ev))
	}
	if ev := c.s.next(t); summary(ev) != "prompt remove_card" {
		t.Fatalf("after the refusal: %s", summary(ev))
	}
	if got := c.arcs(); !slices.Equal(got, []string{reader.ARCDeclined}) {
		t.Errorf("the card was told %v, want [05]", got)
	}
	c.arm(t)
	if ev := c.card(t); ev.Read.EntryMode != "S" {
		t.Errorf("next read %s", summary(ev))
	}
}
