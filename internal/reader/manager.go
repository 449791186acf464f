package reader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
)

// Manager timing and queue defaults.
const (
	// DefaultPollInterval is how often the manager scans: at 500 ms an unplug
	// or a replug is noticed within one second even when a scan and the
	// event that follows it land just after a tick.
	DefaultPollInterval = 500 * time.Millisecond
	// DefaultRetryInterval is how often a device that could not be opened is
	// tried again, so that fixing a permission (udev rule, group) makes it
	// usable without replugging. Slower than the poll: opening can be costly
	// and a failure is logged.
	DefaultRetryInterval = 5 * time.Second
	// DefaultEventBuffer is the capacity of the event channel.
	DefaultEventBuffer = 64
	// DefaultSendTimeout bounds how long a reader (or the poll loop) waits
	// for room in a full event channel before the event is given up.
	DefaultSendTimeout = 2 * time.Second
	// closeTimeout bounds the wait for a reader's Run to return after its
	// context is cancelled; a driver that ignores cancellation is then
	// abandoned (and logged) rather than hanging the manager.
	closeTimeout = 5 * time.Second
	// releaseTimeout bounds telling the chip card of a lost read that it
	// is declined.
	releaseTimeout = 15 * time.Second
)

// Manager errors.
var (
	// ErrUnknownReader: no reader with that ID is attached.
	ErrUnknownReader = errors.New("no such reader")
	// ErrReaderBroken: the reader is listed but cannot be used; the error
	// message carries the reason and the fix.
	ErrReaderBroken = errors.New("reader is broken")
	// ErrEventLost is the Err of the EventRefused the manager emits in place
	// of a card read it had to give up because the event consumer did not
	// take it in time. The customer must present the card again.
	ErrEventLost = errors.New("a card read was lost because the agent was too busy to take it: present the card again")
	// ErrManagerRunning: Run was called twice.
	ErrManagerRunning = errors.New("reader manager is already running")
)

// Options tune a Manager. Zero values pick the defaults.
type Options struct {
	PollInterval  time.Duration
	RetryInterval time.Duration
	EventBuffer   int
	SendTimeout   time.Duration
	Logger        *slog.Logger
	// Tick, when set, replaces the poll ticker: a scan runs on every value
	// received. Tests use it as a fake clock; nil means a real ticker of
	// PollInterval.
	Tick <-chan time.Time
	// Now replaces time.Now (fake clocks in tests).
	Now func() time.Time
}

func (o *Options) fill() {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = DefaultEventBuffer
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = DefaultSendTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Manager owns the readers of a set of drivers. It polls every driver's Scan,
// diffs the result against what it knows, opens new devices and runs them,
// and reports everything on one event channel:
//
//   - attached: a device was opened (again, after a replug: IDs are the
//     drivers' and stay the same while a device sits in the same place);
//   - detached: a device left the scan, or its Run returned ErrDetached;
//   - broken: a device is present but unusable (the driver said so, Open
//     failed, or Run failed); Info.Detail holds the reason and the fix. Open
//     is retried every RetryInterval and, once it works, attached follows;
//   - card, refused, prompt: forwarded from the readers' Run.
//
// # Event delivery
//
// The channel is bounded (Options.EventBuffer). A sender that finds it full
// waits up to SendTimeout (the reader's Run is blocked meanwhile, which is
// how a slow consumer slows readers down without stopping them forever).
// What happens to an event that still does not fit:
//
//   - card and refused events are never dropped silently: the read is given
//     up, an error is logged (masked data only) and an EventRefused with
//     ErrEventLost for that reader is queued ahead of the next event, so the
//     sale asks for the card again rather than waiting for a read that will
//     not come;
//   - status and prompt events are dropped and counted (Dropped); Devices
//     always holds the current state, so a consumer that fell behind resyncs
//     from it.
//
// # A sale across an unplug and replug
//
// The manager never ends a sale: on an unplug it emits detached for the
// reader's ID, and when the device comes back it opens it again and emits
// attached with the same ID. Swipe readers listen on their own, so nothing
// else is needed. An EMV reader forgets its transaction when it loses power,
// so the engine, when it sees attached for a reader whose sale still waits
// for a card (Info.EMV set), calls Arm again with the same Transaction
// (possibly with the remaining timeout). Arm on a detached reader fails with
// ErrUnknownReader; the engine keeps the sale waiting until attached.
type Manager struct {
	drivers []Driver
	opt     Options
	log     *slog.Logger
	events  chan Event
	running atomic.Bool
	dropped atomic.Uint64

	// evMu guards sending on events against its closing: senders hold it
	// shared, Run's exit takes it to close the channel, so that a reader
	// that outlives its cancellation can never send on a closed channel.
	evMu     sync.RWMutex
	evClosed bool

	mu      sync.Mutex
	entries map[string]*entry
	// lost counts card reads given up per reader, to be reported as
	// ErrEventLost refusals as soon as the channel has room.
	lost map[string]int
	wg   sync.WaitGroup
	// runCtx is the context reader goroutines run under (Run's).
	runCtx context.Context
}

// entry is one known device: open and running, or broken.
type entry struct {
	info   sale.Reader
	driver Driver
	dev    Device
	rd     Reader // nil when broken
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader goroutine has finished
	// retryAt is when a broken device (Open failed) is tried again; zero
	// when the driver itself marked it broken.
	retryAt time.Time
}

// NewManager returns a manager over drivers. Nil drivers are skipped.
func NewManager(drivers []Driver, o Options) *Manager {
	o.fill()
	m := &Manager{
		opt:     o,
		log:     o.Logger.With("component", "reader"),
		events:  make(chan Event, o.EventBuffer),
		entries: map[string]*entry{},
		lost:    map[string]int{},
	}
	for _, d := range drivers {
		if d != nil {
			m.drivers = append(m.drivers, d)
		}
	}
	return m
}

// Events is the event channel. It is closed when Run returns.
func (m *Manager) Events() <-chan Event { return m.events }

// Dropped is the number of status and prompt events given up because the
// consumer was too slow.
func (m *Manager) Dropped() uint64 { return m.dropped.Load() }

// Devices is the current snapshot: every attached reader, ok or broken,
// sorted by ID.
func (m *Manager) Devices() []sale.Reader {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]sale.Reader, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Reader returns the opened reader with that ID, for callers that need a
// transport's own methods (the sim reader's Simulate) through a small
// interface of their own.
func (m *Manager) Reader(id string) (Reader, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok {
		return nil, fmt.Errorf("reader %q: %w", id, ErrUnknownReader)
	}
	if e.rd == nil {
		return nil, fmt.Errorf("reader %q: %w: %s", id, ErrReaderBroken, e.info.Detail)
	}
	return e.rd, nil
}

// Arm starts a transaction on the reader (EMV readers wait for a card;
// swipe readers accept and ignore it).
func (m *Manager) Arm(ctx context.Context, id string, t Transaction) error {
	rd, err := m.Reader(id)
	if err != nil {
		return err
	}
	if err := rd.Arm(ctx, t); err != nil {
		return fmt.Errorf("arm reader %q: %w", id, err)
	}
	return nil
}

// Cancel stops the transaction in progress on the reader.
func (m *Manager) Cancel(ctx context.Context, id string) error {
	rd, err := m.Reader(id)
	if err != nil {
		return err
	}
	if err := rd.Cancel(ctx); err != nil {
		return fmt.Errorf("cancel on reader %q: %w", id, err)
	}
	return nil
}

// Run scans at once, then every poll interval, until ctx ends. Then it stops
// every reader, waits for their goroutines, closes the devices and closes
// the event channel. It returns nil after ctx ends, or ErrManagerRunning.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return ErrManagerRunning
	}
	m.mu.Lock()
	m.runCtx = ctx
	m.mu.Unlock()
	defer m.closeEvents()
	defer m.shutdown()

	tick := m.opt.Tick
	if tick == nil {
		t := time.NewTicker(m.opt.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	m.poll(ctx, true)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			m.poll(ctx, true)
		}
	}
}

// Probe runs one scan over drivers without keeping anything open: each
// device is opened and closed again, so that one that cannot be opened shows
// as broken with the reason. `posagent devices` uses it.
func Probe(ctx context.Context, drivers []Driver, o Options) []sale.Reader {
	m := NewManager(drivers, o)
	m.runCtx = ctx
	m.poll(ctx, false)
	infos := m.Devices()
	m.shutdown()
	return infos
}

// poll scans every driver once and reconciles. With run false the opened
// readers are closed at once (Probe) and no event is sent.
func (m *Manager) poll(ctx context.Context, run bool) {
	if run {
		m.send(ctx, Event{}) // only flushes owed refusals
	}
	seen := map[string]bool{}
	for _, d := range m.drivers {
		devs, err := d.Scan(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// A failing scan says nothing about which devices left: keep
			// this driver's entries as they are rather than detaching
			// readers that may be fine.
			m.log.Warn("reader scan failed", "driver", d.Name(), "err", err)
			m.keepDriver(d, seen)
			continue
		}
		for _, dev := range devs {
			if dev.ID == "" || seen[dev.ID] {
				continue
			}
			seen[dev.ID] = true
			m.reconcile(ctx, d, dev, run)
		}
	}
	// Whatever was known and not seen has left.
	m.mu.Lock()
	var gone []*entry
	for id, e := range m.entries {
		if !seen[id] {
			gone = append(gone, e)
			delete(m.entries, id)
		}
	}
	m.mu.Unlock()
	for _, e := range gone {
		m.stop(e)
		info := e.info
		info.Status = sale.ReaderDetached
		info.Detail = ""
		m.log.Info("reader detached", "id", info.ID)
		if run {
			m.send(ctx, Event{Kind: EventDetached, Reader: info, Time: m.opt.Now()})
		}
	}
}

func (m *Manager) keepDriver(d Driver, seen map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, e := range m.entries {
		if e.driver == d {
			seen[id] = true
		}
	}
}

// reconcile brings one scanned device in line with what the manager knows.
func (m *Manager) reconcile(ctx context.Context, d Driver, dev Device, run bool) {
	m.mu.Lock()
	e, known := m.entries[dev.ID]
	m.mu.Unlock()
	now := m.opt.Now()
	switch {
	case known && e.rd != nil:
		return // open and running
	case known && dev.Broken != "":
		if e.info.Detail == dev.Broken {
			return
		}
	case known && e.retryAt.IsZero():
		// The driver had marked it broken and no longer does: open it.
	case known && now.Before(e.retryAt):
		return
	}
	if dev.Broken != "" {
		m.setBroken(ctx, d, dev, dev.Broken, time.Time{}, run)
		return
	}
	rd, err := d.Open(ctx, dev)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		detail := err.Error()
		if known && e.info.Detail == detail {
			// Still failing for the same reason: retry later, quietly.
			m.mu.Lock()
			e.retryAt = now.Add(m.opt.RetryInterval)
			m.mu.Unlock()
			return
		}
		m.setBroken(ctx, d, dev, detail, now.Add(m.opt.RetryInterval), run)
		return
	}
	info := rd.Info()
	info.ID = dev.ID
	info.Status = sale.ReaderOK
	info.Detail = ""
	if info.Device == (card.DeviceInfo{}) {
		info.Device = dev.Device
	}
	ne := &entry{info: info, driver: d, dev: dev, rd: rd, done: make(chan struct{})}
	if !run {
		close(ne.done)
		m.mu.Lock()
		m.entries[dev.ID] = ne
		m.mu.Unlock()
		return
	}
	rctx, cancel := context.WithCancel(m.runCtx)
	ne.cancel = cancel
	m.mu.Lock()
	m.entries[dev.ID] = ne
	m.wg.Add(1)
	m.mu.Unlock()
	m.log.Info("reader attached", "id", info.ID, "model", info.Device.Model, "transport", info.Device.Transport)
	// attached goes out before the reader can emit anything.
	m.send(ctx, Event{Kind: EventAttached, Reader: info, Time: now})
	go m.runReader(rctx, ne)
}

func (m *Manager) setBroken(ctx context.Context, d Driver, dev Device, detail string, retryAt time.Time, run bool) {
	info := sale.Reader{ID: dev.ID, Device: dev.Device, Status: sale.ReaderBroken, Detail: detail}
	m.mu.Lock()
	m.entries[dev.ID] = &entry{info: info, driver: d, dev: dev, retryAt: retryAt}
	m.mu.Unlock()
	m.log.Warn("reader broken", "id", dev.ID, "detail", detail)
	if run {
		m.send(ctx, Event{Kind: EventBroken, Reader: info, Err: errors.New(detail), Time: m.opt.Now()})
	}
}

// runReader runs one reader until its context ends or it fails.
func (m *Manager) runReader(ctx context.Context, e *entry) {
	defer m.wg.Done()
	emit := func(ev Event) {
		if ev.Reader.ID == "" {
			ev.Reader = e.info
		}
		if ev.Time.IsZero() {
			ev.Time = m.opt.Now()
		}
		m.send(ctx, ev)
	}
	err := e.rd.Run(ctx, emit)
	close(e.done)
	if ctx.Err() != nil {
		return // stopped by the manager, which closes the device
	}
	// The reader ended on its own: remove it if it is still the entry for
	// its ID (a scan may not have noticed yet).
	m.mu.Lock()
	cur, ok := m.entries[e.info.ID]
	mine := ok && cur == e
	if mine {
		delete(m.entries, e.info.ID)
	}
	m.mu.Unlock()
	e.cancel()
	if !mine {
		return // whoever removed the entry closes the device
	}
	if cerr := e.rd.Close(); cerr != nil {
		m.log.Debug("reader close", "id", e.info.ID, "err", cerr)
	}
	info := e.info
	switch {
	case err == nil || errors.Is(err, ErrDetached):
		// Removed until the next scan lists it again, which opens it anew.
		info.Status = sale.ReaderDetached
		m.log.Info("reader detached", "id", info.ID)
		m.send(m.runCtx, Event{Kind: EventDetached, Reader: info, Err: err, Time: m.opt.Now()})
	default:
		// Listed as broken; the retry opens it again later.
		info.Status = sale.ReaderBroken
		info.Detail = err.Error()
		m.mu.Lock()
		if _, taken := m.entries[info.ID]; !taken {
			m.entries[info.ID] = &entry{info: info, driver: e.driver, dev: e.dev, retryAt: m.opt.Now().Add(m.opt.RetryInterval)}
		}
		m.mu.Unlock()
		m.log.Warn("reader failed", "id", info.ID, "err", err)
		m.send(m.runCtx, Event{Kind: EventBroken, Reader: info, Err: err, Time: m.opt.Now()})
	}
}

// stop ends a reader's goroutine (if any) and closes the device.
func (m *Manager) stop(e *entry) {
	if e.rd == nil {
		return
	}
	if e.cancel != nil {
		e.cancel()
	}
	select {
	case <-e.done:
	case <-time.After(closeTimeout):
		m.log.Error("reader did not stop after cancellation; abandoning it", "id", e.info.ID)
	}
	if err := e.rd.Close(); err != nil {
		m.log.Debug("reader close", "id", e.info.ID, "err", err)
	}
}

// shutdown stops every reader and waits for their goroutines.
func (m *Manager) shutdown() {
	m.mu.Lock()
	all := make([]*entry, 0, len(m.entries))
	for _, e := range m.entries {
		all = append(all, e)
	}
	m.entries = map[string]*entry{}
	m.mu.Unlock()
	for _, e := range all {
		m.stop(e)
	}
	// Readers that ended on their own may still be sending their last
	// event; their sends give up on the cancelled context.
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeTimeout):
		m.log.Error("reader goroutines still running after shutdown")
	}
}

func (m *Manager) closeEvents() {
	m.evMu.Lock()
	defer m.evMu.Unlock()
	m.evClosed = true
	close(m.events)
}

// send delivers one event under the policy documented on Manager. A zero
// event (no Kind) only flushes the refusals owed for lost reads.
func (m *Manager) send(ctx context.Context, ev Event) {
	m.evMu.RLock()
	defer m.evMu.RUnlock()
	if m.evClosed {
		return
	}
	m.flushLost(ctx)
	if ev.Kind == "" {
		return
	}
	select {
	case m.events <- ev:
		// Let the consumer (the engine) run now. The reader's goroutine
		// goes back to a blocking read syscall next, and a consumer
		// readied onto this P waited for the runtime's monitor to hand the
		// P over: ~100 µs at the median between the card's last byte and
		// the engine, milliseconds at the tail.
		runtime.Gosched()
		return
	default:
	}
	t := time.NewTimer(m.opt.SendTimeout)
	defer t.Stop()
	select {
	case m.events <- ev:
		return
	case <-ctx.Done():
	case <-t.C:
	}
	switch ev.Kind {
	case EventCard, EventRefused:
		// Never silently: log it and owe the consumer a refusal.
		m.log.Error("card read given up: event consumer too slow", "id", ev.Reader.ID, "kind", string(ev.Kind), "read", ev.Read)
		m.mu.Lock()
		m.lost[ev.Reader.ID]++
		m.mu.Unlock()
		if ev.Complete != nil {
			// The chip card waits for a host response nobody will send:
			// decline it now rather than leave it in the slot.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
				defer cancel()
				if _, err := ev.Complete(ctx, HostResponse{ARC: ARCDeclined}); err != nil {
					m.log.Warn("could not release the chip card of a lost read", "id", ev.Reader.ID, "err", err)
				}
			}()
		}
	default:
		m.dropped.Add(1)
		m.log.Warn("reader event dropped: event consumer too slow", "id", ev.Reader.ID, "kind", string(ev.Kind))
	}
}

// flushLost emits the ErrEventLost refusals owed, as far as the channel has
// room now. The caller holds evMu shared.
func (m *Manager) flushLost(ctx context.Context) {
	m.mu.Lock()
	if len(m.lost) == 0 {
		m.mu.Unlock()
		return
	}
	ids := make([]string, 0, len(m.lost))
	for id := range m.lost {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	m.mu.Unlock()
	for _, id := range ids {
		m.mu.Lock()
		n := m.lost[id]
		info := sale.Reader{ID: id, Status: sale.ReaderOK}
		if e, ok := m.entries[id]; ok {
			info = e.info
		}
		m.mu.Unlock()
		for ; n > 0; n-- {
			ev := Event{Kind: EventRefused, Reader: info, Err: ErrEventLost, Time: m.opt.Now()}
			select {
			case m.events <- ev:
			case <-ctx.Done():
				return
			default:
				return
			}
			m.mu.Lock()
			if m.lost[id]--; m.lost[id] <= 0 {
				delete(m.lost, id)
			}
			m.mu.Unlock()
		}
	}
}
