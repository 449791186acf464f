package proto

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

var quiet = slog.New(slog.DiscardHandler)

// fakeConn returns scripted reads, then (0, nil) after a short sleep, then
// end (if set) once the script is done and closed is requested.
type fakeConn struct {
	mu      sync.Mutex
	reads   [][]byte
	end     error // returned when reads run out; nil means idle forever
	written [][]byte
	closed  bool
	feature error
}

func (c *fakeConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, io.ErrClosedPipe
	}
	if len(c.reads) == 0 {
		if c.end != nil {
			return 0, c.end
		}
		c.mu.Unlock()
		time.Sleep(time.Millisecond)
		c.mu.Lock()
		return 0, nil
	}
	n := copy(p, c.reads[0])
	c.reads = c.reads[1:]
	return n, nil
}

func (c *fakeConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written = append(c.written, append([]byte(nil), p...))
	return len(p), nil
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

type featureConn struct {
	fakeConn
}

func (c *featureConn) SendFeatureReport(b []byte) (int, error) { return 0, c.feature }
func (c *featureConn) GetFeatureReport(b []byte) (int, error)  { return 0, c.feature }

func runCollect(t *testing.T, r *Reader, ctx context.Context) ([]reader.Event, error) {
	t.Helper()
	var evs []reader.Event
	err := r.Run(ctx, func(ev reader.Event) { evs = append(evs, ev) })
	return evs, err
}

func TestOpenUnknownProtocol(t *testing.T) {
	c := &fakeConn{}
	if _, err := Open(context.Background(), c, Options{Protocol: "telepathy", Log: quiet}); err == nil || !c.closed {
		t.Fatalf("Open = %v, closed %v", err, c.closed)
	}
}

func TestRunEnds(t *testing.T) {
	// Detach: the transport's error is wrapped with ErrDetached.
	c := &fakeConn{reads: [][]byte{swipeFrame(t)}, end: io.EOF}
	r, err := Open(context.Background(), c, Options{Protocol: IDTech, Log: quiet, Info: sale.Reader{ID: "x:1"}})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := runCollect(t, r, context.Background())
	if !errors.Is(err, reader.ErrDetached) || !errors.Is(err, io.EOF) || !strings.HasPrefix(err.Error(), "x:1: ") {
		t.Errorf("Run = %v", err)
	}
	if len(evs) != 1 || evs[0].Kind != reader.EventCard || evs[0].Read.Device.Transport != "" && evs[0].Reader.ID != "x:1" {
		t.Errorf("events %+v", evs)
	}
	// Cancel: Run returns nil.
	ctx, cancel := context.WithCancel(context.Background())
	r, _ = Open(ctx, &fakeConn{}, Options{Protocol: MagTek, Log: quiet})
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := runCollect(t, r, ctx); err != nil {
		t.Errorf("Run after cancel = %v", err)
	}
	// Close: Run returns nil.
	r, _ = Open(context.Background(), &fakeConn{}, Options{Protocol: MagTek, Log: quiet})
	time.AfterFunc(20*time.Millisecond, func() { r.Close() })
	if _, err := runCollect(t, r, context.Background()); err != nil {
		t.Errorf("Run after Close = %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// A frame that stops halfway is reported once FrameGap passes in silence.
func TestStaleFrame(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(300 * time.Millisecond)
		return now
	}
	c := &fakeConn{reads: [][]byte{swipeFrame(t)[:100], nil, nil, nil, nil, nil}, end: io.EOF}
	r, _ := Open(context.Background(), c, Options{Protocol: IDTech, Log: quiet, Now: clock})
	evs, _ := runCollect(t, r, context.Background())
	if len(evs) != 1 || evs[0].Kind != reader.EventRefused || !errors.Is(evs[0].Err, ErrIncompleteFrame) {
		t.Fatalf("events %+v", evs)
	}
}

// MagTek HID: feature failures are not fatal, short reports are ignored,
// a card report is a read.
func TestMagTekHID(t *testing.T) {
	c := &featureConn{}
	c.feature = errors.New("stall")
	c.reads = [][]byte{make([]byte, 24), load(t, "magtek_v5_hid_report_856.hex"), make([]byte, 856)}
	c.end = io.EOF
	r, err := Open(context.Background(), c, Options{Protocol: MagTekHID, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := runCollect(t, r, context.Background())
	if len(evs) != 2 || evs[0].Kind != reader.EventCard || evs[1].Kind != reader.EventRefused {
		t.Fatalf("events %+v", evs)
	}
	if r.Info().Device.Serial != "" {
		t.Errorf("serial %q", r.Info().Device.Serial)
	}
}

func TestVivopayNoReply(t *testing.T) {
	if testing.Short() {
		t.Skip("waits ReplyTimeout")
	}
	c := &fakeConn{}
	_, err := Open(context.Background(), c, Options{Protocol: Vivopay, Log: quiet})
	if !errors.Is(err, ErrNoReply) || !c.closed {
		t.Fatalf("Open = %v", err)
	}
	if len(c.written) != 1 || string(c.written[0][10:12]) != "\x18\x01" {
		t.Errorf("wrote %x", c.written)
	}
}

// Over HID the activate command goes out in a 64-byte report with report
// ID 01 (TestAppendReports covers longer frames); the prompt is queued.
func TestVivopayHIDArm(t *testing.T) {
	c := &fakeConn{reads: [][]byte{
		append([]byte{1}, response(0x18, 0, nil)...),
		append([]byte{1}, response(0x12, 0, []byte("SN1\x00"))...),
	}}
	at := time.Date(2025, 12, 31, 23, 59, 58, 0, time.UTC)
	r, err := Open(context.Background(), c, Options{Protocol: VivopayHID, Log: quiet, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if r.Info().Device.Serial != "SN1" {
		t.Errorf("serial %q", r.Info().Device.Serial)
	}
	c.written = nil
	if err := r.Arm(context.Background(), reader.Transaction{AmountCents: 123456, Type: 0x20, Timeout: 90 * time.Second}); err != nil {
		t.Fatal(err)
	}
	var frame []byte
	for i, rep := range c.written {
		if len(rep) != 64 {
			t.Fatalf("report %d is %d bytes", i, len(rep))
		}
		frame = append(frame, rep[1:]...)
	}
	want := "ViVOtech2\x00\x02\x01\x00\x1d\x5a" + "\x9f\x02\x06\x00\x00\x00\x12\x34\x56" + "\x9c\x01\x20" + "\x5f\x2a\x02\x08\x40" +
		"\x9a\x03\x25\x12\x31" + "\x9f\x21\x03\x23\x59\x58"
	if !strings.HasPrefix(string(frame), want) {
		t.Errorf("activate frame %x\nwant prefix %x", frame, want)
	}
	if len(c.written) != 1 || c.written[0][0] != reportSingle {
		t.Errorf("%d reports, first id %02x", len(c.written), c.written[0][0])
	}
	r.mu.Lock()
	q := len(r.queue)
	r.mu.Unlock()
	if q != 1 {
		t.Errorf("%d events queued, want the present_card prompt", q)
	}
}

func TestNackError(t *testing.T) {
	tests := []struct {
		data []byte
		want string
	}{
		{nil, "(IDG status 0A)"},
		{[]byte{0x42}, "error code 42)"},
		{[]byte{0x20, 0x6A, 0x82, 0x00}, "error code 20, SW 6A82"},
		{[]byte{0xFF, 0xEE, 0x1F, 0x04, 0x30, 0x69, 0x85, 0x00}, "error code 30, SW 6985"},
	}
	for _, tc := range tests {
		if got := nackError(tc.data).Error(); !strings.Contains(got, tc.want) {
			t.Errorf("nackError(% x) = %q, want %q", tc.data, got, tc.want)
		}
	}
}

func TestAppendReports(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 126, 127, 200} {
		frame := make([]byte, n)
		for i := range frame {
			frame[i] = byte(i + 1)
		}
		reps := appendReports(nil, frame, 64)
		if len(reps)%64 != 0 || len(reps) == 0 {
			t.Fatalf("%d bytes: %d bytes of reports", n, len(reps))
		}
		var got, ids []byte
		for i := 0; i < len(reps); i += 64 {
			ids = append(ids, reps[i])
			got = append(got, reps[i+1:i+64]...)
		}
		if string(got[:n]) != string(frame) {
			t.Errorf("%d bytes: payload differs", n)
		}
		want := []byte{reportSingle}
		if k := len(ids); k > 1 {
			want = append([]byte{reportFirst}, bytes.Repeat([]byte{reportMiddle}, k-2)...)
			want = append(want, reportLast)
		}
		if !bytes.Equal(ids, want) {
			t.Errorf("%d bytes: report ids % x, want % x", n, ids, want)
		}
	}
}

func TestQueueBounded(t *testing.T) {
	r, _ := Open(context.Background(), &fakeConn{}, Options{Protocol: IDTech, Log: quiet})
	for range 3 * maxQueued {
		r.prompt(sale.PromptRetry, time.Now(), nil)
	}
	if len(r.queue) != maxQueued {
		t.Errorf("%d events queued", len(r.queue))
	}
}

// Status 23 (go online, an ARQC) carries a card read like status 00; a
// response while nothing is armed is dropped.
func TestVivopayGoOnline(t *testing.T) {
	tlvs := load(t, "idtech_vp3300_contact_emv_tlv.hex")
	c := &fakeConn{reads: [][]byte{response(0x18, 0, nil), response(0x12, 0, []byte("SN"))}}
	r, err := Open(context.Background(), c, Options{Protocol: Vivopay, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Arm(context.Background(), reader.Transaction{AmountCents: 1250}); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.reads = [][]byte{response(0x02, 0x23, tlvs), response(0x02, 0x00, tlvs)}
	c.end = io.EOF
	c.mu.Unlock()
	evs, _ := runCollect(t, r, context.Background())
	var got []string
	for _, ev := range evs {
		s := string(ev.Kind) + " " + string(ev.Prompt)
		if ev.Read != nil {
			s += string(ev.Read.EntryMode) + " " + ev.Read.Device.Serial
		}
		got = append(got, strings.TrimSpace(s))
	}
	if strings.Join(got, ",") != "prompt present_card,prompt processing,card C SN" {
		t.Errorf("events %v", got)
	}
}

// orderLog records, for TestCardEmittedBeforeItsLogLine, when a log line
// is written relative to the events emitted.
type orderLog struct {
	slog.Handler // Enabled: DiscardHandler's says no, so it is overridden
	order        *[]string
}

func (h orderLog) Enabled(context.Context, slog.Level) bool { return true }

func (h orderLog) Handle(_ context.Context, rec slog.Record) error {
	*h.order = append(*h.order, "log:"+rec.Message)
	return nil
}

func (h orderLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h orderLog) WithGroup(string) slog.Handler      { return h }

// TestCardEmittedBeforeItsLogLine: a card event leaves for the engine
// before its "card read" log line is written. The line (slog's JSON and a
// write, ~50 µs) sat between the card's last byte and the gateway
// request; it now follows the event, whole.
func TestCardEmittedBeforeItsLogLine(t *testing.T) {
	var order []string
	log := slog.New(orderLog{Handler: slog.DiscardHandler, order: &order})
	c := &fakeConn{reads: [][]byte{swipeFrame(t)}, end: io.EOF}
	r, err := Open(context.Background(), c, Options{Protocol: IDTech, Log: log, Info: sale.Reader{ID: "x:1"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Run(context.Background(), func(ev reader.Event) { order = append(order, "event:"+string(ev.Kind)) })
	card, line := slices.Index(order, "event:"+string(reader.EventCard)), slices.Index(order, "log:card read")
	if card < 0 || line < 0 || line < card {
		t.Fatalf("order %v: want the card event emitted, then its log line", order)
	}
}
