package proto

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/emv"
	"github.com/posagent/posagent/internal/reader"
)

// hidVP3300 answers Apply Host Response over 64-byte HID reports: the
// completion of a contact card works over HID as over serial.
type hidVP3300 struct {
	fakeConn
	got []byte // the 60-12 frame, reassembled from its reports
}

func (c *hidVP3300) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written = append(c.written, append([]byte(nil), p...))
	if len(p) != 64 {
		return len(p), nil
	}
	c.got = append(c.got, p[1:]...)
	f, _, err := decrypt.ParseIDG(c.got)
	if err != nil {
		return len(p), nil // more reports to come
	}
	c.got = nil
	if f.Cmd == 0x60 && f.Sub == 0x12 {
		tlvs, _, _ := emv.Decode(f.Data)
		a, _ := emv.Find(tlvs, tagARC)
		out := emv.AppendTLV(nil, tagARC, a.Value)
		out = emv.AppendTLV(out, tagCID, []byte{0x40})
		rep := make([]byte, 64)
		rep[0] = reportSingle
		copy(rep[1:], response(0x60, 0x00, out))
		c.reads = append(c.reads, rep)
	}
	return len(p), nil
}

func TestVivopayHIDCompletion(t *testing.T) {
	tlvs := load(t, "idtech_vp3300_contact_emv_tlv.hex")
	c := &hidVP3300{fakeConn: fakeConn{reads: [][]byte{
		append([]byte{1}, response(0x18, 0, nil)...),
		append([]byte{1}, response(0x12, 0, []byte("SN1\x00"))...),
	}}}
	r, err := Open(context.Background(), c, Options{Protocol: VivopayHID, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Arm(context.Background(), reader.Transaction{AmountCents: 1250}); err != nil {
		t.Fatal(err)
	}
	// The go-online answer spans several reports: 02 first, 03 middle, 04 last.
	c.mu.Lock()
	c.reads = splitReports(response(0x02, 0x23, tlvs), 64)
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan reader.Event, 16)
	go func() { _ = r.Run(ctx, func(ev reader.Event) { events <- ev }) }()
	var card reader.Event
	for card.Kind != reader.EventCard {
		select {
		case card = <-events:
		case <-time.After(10 * time.Second):
			t.Fatal("no card event")
		}
	}
	if card.Complete == nil {
		t.Fatal("the contact read offers no completion")
	}
	d, err := card.Complete(context.Background(), reader.HostResponse{ARC: reader.ARCApproved})
	if err != nil || !d.Approved || d.ARC != "00" {
		t.Fatalf("decision %+v, %v", d, err)
	}
	c.mu.Lock()
	last := c.written[len(c.written)-1]
	c.mu.Unlock()
	if last[0] != reportSingle || !bytes.Contains(last, []byte{0x8A, 0x02, '0', '0'}) || !bytes.Contains(last, []byte{0xDF, 0xEE, 0x1B, 0x08}) {
		t.Errorf("60-12 report %X", last)
	}
}

// splitReports cuts a reader→host frame into HID input reports.
func splitReports(frame []byte, size int) [][]byte {
	var out [][]byte
	reps := appendReports(nil, frame, size)
	for len(reps) > 0 {
		out = append(out, reps[:size])
		reps = reps[size:]
	}
	return out
}
