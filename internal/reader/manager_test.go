package reader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
)

// waitLimit guards against hangs; it is not a speed target.
const waitLimit = 5 * time.Second

// fakeDriver lists the devices a test puts in it and opens fakeReaders.
type fakeDriver struct {
	mu      sync.Mutex
	devs    map[string]Device
	openErr map[string]error
	scanErr error
	opens   map[string]int
	readers map[string]*fakeReader
	emv     bool
}

func newFakeDriver(ids ...string) *fakeDriver {
	d := &fakeDriver{devs: map[string]Device{}, openErr: map[string]error{}, opens: map[string]int{}, readers: map[string]*fakeReader{}}
	for _, id := range ids {
		d.plug(id)
	}
	return d
}

func (d *fakeDriver) plug(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.devs[id] = Device{ID: id, Device: card.DeviceInfo{Vendor: "Fake", Model: "F1", Transport: "fake", Path: id}}
}

func (d *fakeDriver) unplug(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.devs, id)
}

func (d *fakeDriver) setBroken(id, why string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dev := d.devs[id]
	dev.Broken = why
	d.devs[id] = dev
}

func (d *fakeDriver) setOpenErr(id string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		delete(d.openErr, id)
	} else {
		d.openErr[id] = err
	}
}

func (d *fakeDriver) reader(id string) *fakeReader {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.readers[id]
}

func (d *fakeDriver) openCount(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opens[id]
}

func (d *fakeDriver) Name() string { return "fake" }

func (d *fakeDriver) Scan(context.Context) ([]Device, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.scanErr != nil {
		return nil, d.scanErr
	}
	out := make([]Device, 0, len(d.devs))
	for _, dev := range d.devs {
		out = append(out, dev)
	}
	return out, nil
}

func (d *fakeDriver) Open(_ context.Context, dev Device) (Reader, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opens[dev.ID]++
	if err := d.openErr[dev.ID]; err != nil {
		return nil, err
	}
	r := &fakeReader{
		info:  sale.Reader{Device: card.DeviceInfo{Vendor: "Fake", Model: "F1", Serial: "SN1", Transport: "fake", Path: dev.ID}, EMV: d.emv},
		end:   make(chan error, 1),
		emits: make(chan Event, 16),
		armed: make(chan Transaction, 4),
	}
	d.readers[dev.ID] = r
	return r, nil
}

type fakeReader struct {
	info    sale.Reader
	end     chan error // a value makes Run return it
	emits   chan Event // events Run emits
	armed   chan Transaction
	cancels atomic.Int32
	closes  atomic.Int32
}

func (r *fakeReader) Info() sale.Reader { return r.info }

func (r *fakeReader) Run(ctx context.Context, emit func(Event)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-r.end:
			return err
		case ev := <-r.emits:
			emit(ev)
		}
	}
}

func (r *fakeReader) Arm(_ context.Context, t Transaction) error {
	if r.closes.Load() > 0 {
		return errors.New("closed")
	}
	r.armed <- t
	return nil
}

func (r *fakeReader) Cancel(context.Context) error { r.cancels.Add(1); return nil }
func (r *fakeReader) Close() error                 { r.closes.Add(1); return nil }

// fakeClock drives the manager: each tick advances the time by one poll
// interval and triggers a scan.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	tick chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), tick: make(chan time.Time)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// advance moves the clock by d and delivers one tick (one scan).
func (c *fakeClock) advance(t *testing.T, d time.Duration) {
	t.Helper()
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	select {
	case c.tick <- now:
	case <-time.After(waitLimit):
		t.Fatal("manager did not take a tick")
	}
}

type harness struct {
	t     *testing.T
	m     *Manager
	clock *fakeClock
	stop  context.CancelFunc
	done  chan error
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func start(t *testing.T, o Options, drivers ...Driver) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(), done: make(chan error, 1)}
	o.Tick = h.clock.tick
	o.Now = h.clock.Now
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	h.m = NewManager(drivers, o)
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.done <- h.m.Run(ctx) }()
	t.Cleanup(h.shutdown)
	return h
}

func (h *harness) shutdown() {
	h.stop()
	select {
	case <-h.done:
	case <-time.After(waitLimit):
		h.t.Fatal("manager Run did not return after cancel")
	}
}

// next returns the next event, failing the test after waitLimit.
func (h *harness) next() Event {
	h.t.Helper()
	select {
	case ev, ok := <-h.m.Events():
		if !ok {
			h.t.Fatal("event channel closed")
		}
		return ev
	case <-time.After(waitLimit):
		h.t.Fatal("no event")
	}
	return Event{}
}

func (h *harness) expect(kind EventKind, id string) Event {
	h.t.Helper()
	ev := h.next()
	if ev.Kind != kind || ev.Reader.ID != id {
		h.t.Fatalf("got %s %q (err %v), want %s %q", ev.Kind, ev.Reader.ID, ev.Err, kind, id)
	}
	return ev
}

// noEvent checks that nothing is queued after one more (empty) scan.
func (h *harness) noEvent() {
	h.t.Helper()
	h.clock.advance(h.t, 0)
	h.clock.advance(h.t, 0) // the second tick is taken only after the first scan finished
	select {
	case ev := <-h.m.Events():
		h.t.Fatalf("unexpected event %s %q", ev.Kind, ev.Reader.ID)
	default:
	}
}

func TestDefaultPollNoticesReplugWithinOneSecond(t *testing.T) {
	// Detaching and re-attaching each take at most one poll interval; two
	// must fit in a second so that an unplug-replug shows within it.
	if 2*DefaultPollInterval > time.Second {
		t.Fatalf("DefaultPollInterval %v: a replug would take more than 1 s to notice", DefaultPollInterval)
	}
}

func TestAttachDetachReplug(t *testing.T) {
	d := newFakeDriver("fake:1")
	h := start(t, Options{}, d)
	ev := h.expect(EventAttached, "fake:1")
	if ev.Reader.Status != sale.ReaderOK || ev.Reader.Device.Serial != "SN1" {
		t.Errorf("attached info %+v", ev.Reader)
	}
	if got := h.m.Devices(); len(got) != 1 || got[0].Status != sale.ReaderOK {
		t.Fatalf("Devices = %+v", got)
	}
	first := d.reader("fake:1")

	unplugged := h.clock.Now()
	d.unplug("fake:1")
	h.clock.advance(t, DefaultPollInterval)
	ev = h.expect(EventDetached, "fake:1")
	if lag := ev.Time.Sub(unplugged); lag > time.Second {
		t.Errorf("unplug noticed after %v of clock time, want ≤ 1s", lag)
	}
	if first.closes.Load() != 1 {
		t.Errorf("detached reader closed %d times, want 1", first.closes.Load())
	}
	if got := h.m.Devices(); len(got) != 0 {
		t.Fatalf("Devices after unplug = %+v", got)
	}

	replugged := h.clock.Now()
	d.plug("fake:1")
	h.clock.advance(t, DefaultPollInterval)
	ev = h.expect(EventAttached, "fake:1")
	if lag := ev.Time.Sub(replugged); lag > time.Second {
		t.Errorf("replug noticed after %v of clock time, want ≤ 1s", lag)
	}
	if n := d.openCount("fake:1"); n != 2 {
		t.Errorf("opened %d times, want 2", n)
	}
	h.noEvent()
}

func TestOpenFailsIsBrokenThenRecovers(t *testing.T) {
	d := newFakeDriver("fake:1")
	d.setOpenErr("fake:1", fmt.Errorf("open /dev/hidraw3: permission denied: install posagent's udev rules"))
	h := start(t, Options{RetryInterval: 2 * time.Second}, d)
	ev := h.expect(EventBroken, "fake:1")
	if ev.Reader.Status != sale.ReaderBroken || ev.Err == nil || ev.Reader.Detail == "" {
		t.Fatalf("broken event %+v", ev)
	}
	got := h.m.Devices()
	if len(got) != 1 || got[0].Status != sale.ReaderBroken || got[0].Detail != ev.Reader.Detail {
		t.Fatalf("Devices = %+v", got)
	}
	if err := h.m.Arm(context.Background(), "fake:1", Transaction{}); !errors.Is(err, ErrReaderBroken) {
		t.Errorf("Arm on broken reader: %v", err)
	}
	// The same failure is retried quietly, and not before RetryInterval.
	h.clock.advance(t, time.Second)
	h.noEvent()
	if n := d.openCount("fake:1"); n != 1 {
		t.Errorf("retried before RetryInterval: %d opens", n)
	}
	h.clock.advance(t, 2*time.Second)
	h.noEvent()
	if n := d.openCount("fake:1"); n != 2 {
		t.Errorf("not retried after RetryInterval: %d opens", n)
	}
	// Fixing the permission makes it usable without a replug.
	d.setOpenErr("fake:1", nil)
	h.clock.advance(t, 3*time.Second)
	h.expect(EventAttached, "fake:1")
	if got := h.m.Devices(); got[0].Status != sale.ReaderOK || got[0].Detail != "" {
		t.Fatalf("Devices after fix = %+v", got)
	}
}

func TestDriverBrokenDeviceIsListedNotOpened(t *testing.T) {
	d := newFakeDriver("fake:1")
	d.setBroken("fake:1", "keyboard-emulation mode: switch the reader to HID mode")
	h := start(t, Options{}, d)
	ev := h.expect(EventBroken, "fake:1")
	if ev.Reader.Detail != "keyboard-emulation mode: switch the reader to HID mode" {
		t.Errorf("detail %q", ev.Reader.Detail)
	}
	h.noEvent()
	if n := d.openCount("fake:1"); n != 0 {
		t.Errorf("broken device opened %d times", n)
	}
	d.setBroken("fake:1", "")
	h.clock.advance(t, DefaultPollInterval)
	h.expect(EventAttached, "fake:1")
}

func TestRunDetachedMidRunReopensOnNextScan(t *testing.T) {
	d := newFakeDriver("fake:1")
	h := start(t, Options{}, d)
	h.expect(EventAttached, "fake:1")
	r := d.reader("fake:1")
	r.end <- fmt.Errorf("read /dev/hidraw3: %w", ErrDetached)
	ev := h.expect(EventDetached, "fake:1")
	if !errors.Is(ev.Err, ErrDetached) {
		t.Errorf("detached err %v", ev.Err)
	}
	if r.closes.Load() != 1 {
		t.Errorf("closed %d times", r.closes.Load())
	}
	if got := h.m.Devices(); len(got) != 0 {
		t.Errorf("Devices = %+v, want it removed", got)
	}
	h.clock.advance(t, DefaultPollInterval)
	h.expect(EventAttached, "fake:1")
	if d.reader("fake:1") == r {
		t.Error("not reopened")
	}
}

func TestRunFailsIsBrokenAndRetried(t *testing.T) {
	d := newFakeDriver("fake:1")
	h := start(t, Options{RetryInterval: time.Second}, d)
	h.expect(EventAttached, "fake:1")
	d.reader("fake:1").end <- errors.New("reader reset: unplug it and plug it in again")
	ev := h.expect(EventBroken, "fake:1")
	if ev.Reader.Detail != "reader reset: unplug it and plug it in again" {
		t.Errorf("detail %q", ev.Reader.Detail)
	}
	h.clock.advance(t, time.Second)
	h.expect(EventAttached, "fake:1")
}

func TestEventsForwardedAndCommandsRouted(t *testing.T) {
	d := newFakeDriver("fake:1", "fake:2")
	h := start(t, Options{}, d)
	seen := map[string]bool{}
	for range 2 {
		seen[h.next().Reader.ID] = true
	}
	if !seen["fake:1"] || !seen["fake:2"] {
		t.Fatalf("attached %v", seen)
	}
	ctx := context.Background()
	tr := Transaction{AmountCents: 1234, Timeout: time.Minute}
	if err := h.m.Arm(ctx, "fake:2", tr); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-d.reader("fake:2").armed:
		if got != tr {
			t.Errorf("armed %+v", got)
		}
	default:
		t.Fatal("Arm not routed to fake:2")
	}
	if len(d.reader("fake:1").armed) != 0 {
		t.Error("Arm reached fake:1")
	}
	if err := h.m.Cancel(ctx, "fake:2"); err != nil || d.reader("fake:2").cancels.Load() != 1 {
		t.Errorf("Cancel: %v, %d", err, d.reader("fake:2").cancels.Load())
	}
	for _, call := range []func() error{
		func() error { return h.m.Arm(ctx, "nope", tr) },
		func() error { return h.m.Cancel(ctx, "nope") },
	} {
		if err := call(); !errors.Is(err, ErrUnknownReader) {
			t.Errorf("unknown reader: %v", err)
		}
	}

	read := &card.Read{MaskedPAN: card.Mask("4000000000000002")}
	d.reader("fake:1").emits <- Event{Kind: EventPrompt, Prompt: sale.PromptPresentCard}
	d.reader("fake:1").emits <- Event{Kind: EventCard, Read: read}
	ev := h.expect(EventPrompt, "fake:1")
	if ev.Prompt != sale.PromptPresentCard || ev.Time.IsZero() {
		t.Errorf("prompt %+v", ev)
	}
	ev = h.expect(EventCard, "fake:1")
	if ev.Read != read || ev.Reader.Device.Serial != "SN1" {
		t.Errorf("card %+v", ev)
	}
}

func TestScanErrorKeepsReaders(t *testing.T) {
	d := newFakeDriver("fake:1")
	h := start(t, Options{}, d)
	h.expect(EventAttached, "fake:1")
	d.mu.Lock()
	d.scanErr = errors.New("enumeration failed")
	d.mu.Unlock()
	h.noEvent()
	if got := h.m.Devices(); len(got) != 1 {
		t.Errorf("Devices = %+v", got)
	}
}

// A sale waiting on an EMV reader survives an unplug and replug: the ID
// stays, attached comes back, and re-arming reaches the new instance.
func TestSaleSurvivesReplug(t *testing.T) {
	d := newFakeDriver("fake:1")
	d.emv = true
	h := start(t, Options{}, d)
	h.expect(EventAttached, "fake:1")
	ctx := context.Background()
	tr := Transaction{AmountCents: 500, Timeout: time.Minute}
	if err := h.m.Arm(ctx, "fake:1", tr); err != nil {
		t.Fatal(err)
	}
	d.unplug("fake:1")
	h.clock.advance(t, DefaultPollInterval)
	h.expect(EventDetached, "fake:1")
	if err := h.m.Arm(ctx, "fake:1", tr); !errors.Is(err, ErrUnknownReader) {
		t.Errorf("Arm while unplugged: %v", err)
	}
	d.plug("fake:1")
	h.clock.advance(t, DefaultPollInterval)
	ev := h.expect(EventAttached, "fake:1")
	if !ev.Reader.EMV {
		t.Fatal("attached EMV reader without EMV flag: the engine could not tell it must re-arm")
	}
	// What the engine does on attached for a reader its sale waits on.
	if err := h.m.Arm(ctx, ev.Reader.ID, tr); err != nil {
		t.Fatal(err)
	}
	if got := <-d.reader("fake:1").armed; got != tr {
		t.Errorf("re-armed with %+v", got)
	}
}

func TestSlowConsumerLosesNoCardSilently(t *testing.T) {
	d := newFakeDriver("fake:1")
	h := start(t, Options{EventBuffer: 1, SendTimeout: 10 * time.Millisecond}, d)
	h.expect(EventAttached, "fake:1")
	r := d.reader("fake:1")
	read := &card.Read{MaskedPAN: card.Mask("4000000000000002")}
	for range 3 {
		r.emits <- Event{Kind: EventCard, Read: read}
	}
	// Nobody reads: the first card fills the buffer, the next two time out.
	// A prompt then is dropped (counted), since the buffer is still full.
	r.emits <- Event{Kind: EventPrompt, Prompt: sale.PromptProcessing}
	deadline := time.Now().Add(waitLimit)
	for h.m.Dropped() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("prompt never dropped")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.expect(EventCard, "fake:1")
	for range 2 {
		h.clock.advance(t, DefaultPollInterval) // any send or scan flushes what is owed
		ev := h.expect(EventRefused, "fake:1")
		if !errors.Is(ev.Err, ErrEventLost) {
			t.Fatalf("refused with %v, want ErrEventLost", ev.Err)
		}
	}
	h.noEvent()
}

func TestRunTwiceAndNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	d := newFakeDriver("fake:1", "fake:2", "fake:3")
	d.setOpenErr("fake:3", errors.New("permission denied"))
	m := NewManager([]Driver{d}, Options{PollInterval: 5 * time.Millisecond, Logger: quietLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	n := 0
	for ev := range m.Events() {
		if n++; n == 3 {
			break
		}
		_ = ev
	}
	if err := m.Run(ctx); !errors.Is(err, ErrManagerRunning) {
		t.Errorf("second Run: %v", err)
	}
	// Unplug and replug a few times with a real (short) ticker.
	for range 3 {
		d.unplug("fake:1")
		waitKind(t, m, EventDetached)
		d.plug("fake:1")
		waitKind(t, m, EventAttached)
	}
	cancel()
	// Run closes the channel after stopping everything.
	for range m.Events() {
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"fake:1", "fake:2"} {
		if c := d.reader(id).closes.Load(); c != 1 {
			t.Errorf("%s closed %d times", id, c)
		}
	}
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitKind(t *testing.T, m *Manager, kind EventKind) {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case ev := <-m.Events():
			if ev.Kind == kind {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event", kind)
		}
	}
}

func TestProbe(t *testing.T) {
	d := newFakeDriver("fake:1", "fake:2", "fake:3")
	d.setOpenErr("fake:2", errors.New("open /dev/hidraw4: permission denied"))
	d.setBroken("fake:3", "keyboard mode")
	infos := Probe(context.Background(), []Driver{d, nil}, Options{Logger: quietLogger()})
	want := []struct {
		id     string
		status sale.ReaderStatus
		detail string
	}{
		{"fake:1", sale.ReaderOK, ""},
		{"fake:2", sale.ReaderBroken, "open /dev/hidraw4: permission denied"},
		{"fake:3", sale.ReaderBroken, "keyboard mode"},
	}
	if len(infos) != len(want) {
		t.Fatalf("Probe = %+v", infos)
	}
	for i, w := range want {
		if infos[i].ID != w.id || infos[i].Status != w.status || infos[i].Detail != w.detail {
			t.Errorf("Probe[%d] = %+v, want %+v", i, infos[i], w)
		}
	}
	if c := d.reader("fake:1").closes.Load(); c != 1 {
		t.Errorf("probed reader closed %d times, want 1", c)
	}
}

// TestLostChipReadReleasesTheCard: a chip read the consumer never gets is
// declined to its card at once, not left waiting for a host response.
func TestLostChipReadReleasesTheCard(t *testing.T) {
	d := newFakeDriver("fake:1")
	h := start(t, Options{EventBuffer: 1, SendTimeout: 10 * time.Millisecond}, d)
	h.expect(EventAttached, "fake:1")
	r := d.reader("fake:1")
	told := make(chan string, 2)
	complete := func(_ context.Context, hr HostResponse) (CardDecision, error) {
		told <- hr.ARC
		return CardDecision{Cryptogram: "AAC"}, nil
	}
	read := &card.Read{MaskedPAN: card.Mask("4000000000000002"), EntryMode: card.EntryChip}
	r.emits <- Event{Kind: EventCard, Read: read, Complete: complete} // fills the buffer
	r.emits <- Event{Kind: EventCard, Read: read, Complete: complete} // lost
	select {
	case arc := <-told:
		if arc != ARCDeclined {
			t.Errorf("the lost read's card was told %q, want 05", arc)
		}
	case <-time.After(waitLimit):
		t.Fatal("the lost read's card was never released")
	}
	if ev := h.expect(EventCard, "fake:1"); ev.Complete == nil {
		t.Error("the delivered chip read lost its completion")
	}
	select {
	case arc := <-told:
		t.Errorf("the delivered read's card was told %q by the manager", arc)
	default:
	}
}
