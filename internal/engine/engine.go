package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// Readers is what the engine needs of the reader manager.
type Readers interface {
	Arm(ctx context.Context, readerID string, t reader.Transaction) error
	Cancel(ctx context.Context, readerID string) error
	Devices() []sale.Reader
}

// Timing defaults.
const (
	DefaultCardTimeout = 60 * time.Second
	// resolveInterval is how often transactions still unknown after the
	// in-line backoff are looked up again.
	resolveInterval = 30 * time.Second
	// retryableSends bounds re-sends of a request that provably never
	// reached the gateway (connection refused, DNS): the network is down.
	retryableSends = 3
	// maxAmount bounds a sale; a typo of 100x must not go through.
	maxAmount gateway.Amount = 99_999_99
	// subscriberBuffer is each subscriber's queue; results are also kept in
	// the journal until acknowledged, so a slow subscriber loses nothing
	// that matters by a dropped update.
	subscriberBuffer = 256
)

// DefaultResolveBackoff is the in-line lookup schedule after an ambiguous
// failure: about a minute in all, then the background resolver takes over.
var DefaultResolveBackoff = []time.Duration{
	500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 30 * time.Second,
}

// Config wires an Engine.
type Config struct {
	Gateway gateway.Gateway
	Readers Readers
	Journal *journal.Journal
	Log     *slog.Logger
	// LiveHost is the gateway's host when it is live (gateway.LiveHost):
	// reads encrypted under the public ANSI test key are refused there,
	// naming it. Empty — a gateway's sandbox host, loopback, the embedded
	// sandbox — allows them: that is how demo readers certify.
	LiveHost string
	// CardTimeout is how long a sale waits for a card.
	CardTimeout time.Duration
	// ResolveBackoff is the in-line lookup schedule (tests shorten it).
	ResolveBackoff []time.Duration
	// ResolveInterval is the background resolver's period.
	ResolveInterval time.Duration
	// NewID makes transaction_api_ids (default: a random UUID, 36
	// characters, the field's maximum; its dash-separated groups never hold a
	// digit run long enough to look like a card number).
	NewID func() string
	// StepHook, when set, is called at each durable step of a sale
	// (StepPending, StepSending, StepAnswered, StepCompleting): crash tests kill the process
	// there. Production leaves it nil.
	StepHook func(step, transactionAPIID string)
}

// Steps reported to Config.StepHook.
const (
	StepPending  = "pending"  // journaled, waiting for a card
	StepSending  = "sending"  // about to send; nothing is journaled again before the outcome
	StepAnswered = "answered" // the gateway answered; the outcome is not journaled yet
	// StepCompleting: a chip sale's outcome is journaled (card_completion
	// pending); its card is about to be told.
	StepCompleting = "completing"
)

func (e *Engine) step(name, apiID string) {
	if e.cfg.StepHook != nil {
		e.cfg.StepHook(name, apiID)
	}
}

// Engine runs sales. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	gw    gateway.Gateway
	rd    Readers
	j     *journal.Journal
	guard *ksnGuard

	mu        sync.Mutex
	active    map[string]*inflight // by reader id: the sale waiting for or using a card
	byAPIID   map[string]*inflight // every in-memory sale by transaction_api_id
	resolving map[string]bool      // transaction_api_ids with a resolver running
	closed    bool
	paused    bool

	// subMu guards subs apart from mu, so that updates can be published,
	// in order, while mu is held.
	subMu sync.Mutex
	subs  map[chan sale.Update]struct{}

	// ctx is the one context every send, lookup, wait and backoff of the
	// engine runs under; Close cancels it after its grace.
	ctx    context.Context
	cancel context.CancelFunc
	life   *lifecycle
	// closing is closed when Close begins (the background resolver stops
	// at once: only sends and lookups in flight get the grace); closeDone
	// when it has finished: a second Close waits for it.
	closing, closeDone chan struct{}
}

// sale is a transaction the engine is working on. read is the encrypted
// envelope, kept in memory only (never journaled) so that a lookup proving
// the gateway never got the request allows one re-send of the same read.
type inflight struct {
	rec      journal.Record
	readerID string
	waiting  bool // waiting for a card
	read     *card.Read
	timer    *time.Timer
	resent   bool
	req      gateway.Request // follow-ups: the request to re-send when proven absent
	extra    cardExtra       // force and avsonly: what goes beside the read (actions.go)
	// unprovableTries and nextTry pace the background lookups of an action
	// the gateway cannot prove absent (see unprovable).
	unprovableTries int
	nextTry         time.Time

	// complete is set when a chip card waits for the host response
	// (complete.go).
	complete reader.Completion
}

// New makes an engine. Call Start to resolve what an earlier run left open
// before the first sale, and Close to stop it.
func New(cfg Config) (*Engine, error) {
	if cfg.Gateway == nil || cfg.Journal == nil {
		return nil, errors.New("engine: a gateway and a journal are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CardTimeout <= 0 {
		cfg.CardTimeout = DefaultCardTimeout
	}
	if cfg.ResolveBackoff == nil {
		cfg.ResolveBackoff = DefaultResolveBackoff
	}
	if cfg.ResolveInterval <= 0 {
		cfg.ResolveInterval = resolveInterval
	}
	if cfg.NewID == nil {
		cfg.NewID = randomID
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{
		cfg: cfg, log: cfg.Log, gw: cfg.Gateway, rd: cfg.Readers, j: cfg.Journal, guard: newKSNGuard(),
		active: map[string]*inflight{}, byAPIID: map[string]*inflight{}, resolving: map[string]bool{},
		subs: map[chan sale.Update]struct{}{}, ctx: ctx, cancel: cancel, life: newLifecycle(),
		closing: make(chan struct{}), closeDone: make(chan struct{}),
	}, nil
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0F | 0x40 // version 4
	b[8] = b[8]&0x3F | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Subscribe returns a channel of updates and a function to stop them.
func (e *Engine) Subscribe() (<-chan sale.Update, func()) {
	ch := make(chan sale.Update, subscriberBuffer)
	e.subMu.Lock()
	e.subs[ch] = struct{}{}
	e.subMu.Unlock()
	return ch, func() {
		e.subMu.Lock()
		if _, ok := e.subs[ch]; ok {
			delete(e.subs, ch)
			close(ch)
		}
		e.subMu.Unlock()
	}
}

// publish fans an update out; a full subscriber queue drops the update for
// that subscriber only (results stay re-deliverable from the journal).
func (e *Engine) publish(u sale.Update) {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	for ch := range e.subs {
		select {
		case ch <- u:
		default:
			e.log.Warn("update dropped for a slow subscriber", "kind", u.Kind, "transaction_api_id", u.TransactionAPIID)
		}
	}
}

// Start takes over what an earlier run left unfinished and returns once
// every such record is marked for lookup and has its resolver: a sale
// started after Start returns can never be taken for a leftover, so the
// app calls it before the bridge or the window can start one. It then
// keeps resolving anything still unknown, in the background, until Close.
// An error means the journal could not be read or written: the agent
// must not take sales on it.
func (e *Engine) Start() error {
	if !e.life.enter() {
		return errorf(CodeInvalid, "the agent is shutting down")
	}
	defer e.life.leave()
	if err := e.recover(e.ctx); err != nil {
		return err
	}
	e.goBackground(func(ctx context.Context) {
		t := time.NewTicker(e.cfg.ResolveInterval)
		defer t.Stop()
		for {
			select {
			case <-e.closing:
				return
			case <-t.C:
				e.resolveUnknown(ctx)
			}
		}
	})
	return nil
}

// recover finishes the journal's leftovers from a crash or kill. A sale
// the earlier run left pending may have been sent: a sale being sent is
// not journaled again before its outcome (see send), so a kill can leave
// the request at the gateway and the record still pending. Pending,
// sending (an earlier version's) and unknown are all looked up; one the
// gateway proves it never got and that was pending is cancelled, nothing
// charged. An approval whose chip card never answered is voided
// (recoverCompletions).
//
// The app runs it (Start) before anything can start a sale. A caller that
// does not (tests drive the engine directly) is still safe: the sweep
// skips the sales this run holds in memory — they are live, not leftovers
// — and holds e.mu throughout, because StartSale and FollowUp journal a
// record and register it under e.mu.
func (e *Engine) recover(ctx context.Context) error {
	e.mu.Lock()
	open, err := e.j.InFlight()
	if err != nil {
		e.mu.Unlock()
		return fmt.Errorf("reading the journal for the last run's unfinished sales: %w", err)
	}
	for _, r := range open {
		if r.State != sale.StatePending || e.byAPIID[r.TransactionAPIID] != nil {
			continue
		}
		r.State = sale.StateUnknown
		r.Error = "the agent stopped before this sale's outcome was known: checking with the gateway"
		r.Updated = time.Now().UTC()
		if err := e.j.Put(r); err != nil {
			e.mu.Unlock()
			return fmt.Errorf("marking the last run's sale %s for lookup: %w", r.TransactionAPIID, err)
		}
	}
	e.recoverCompletions()
	e.mu.Unlock()
	e.resolveUnknown(ctx)
	return nil
}

// resolveUnknown starts a resolver for every unfinished transaction that
// does not have one.
func (e *Engine) resolveUnknown(ctx context.Context) {
	recs, err := e.j.Unfinished()
	if err != nil {
		e.log.Error("journal read failed", "error", err)
		return
	}
	for _, r := range recs {
		e.mu.Lock()
		s, ok := e.byAPIID[r.TransactionAPIID]
		busy := e.resolving[r.TransactionAPIID]
		if !ok {
			// The list was read without e.mu: a sale of this run may have
			// finished (and left byAPIID) since. finishLocked journals the
			// outcome under e.mu, so the journal read here is current.
			cur, found, err := e.j.Get(r.TransactionAPIID)
			if err != nil {
				e.log.Error("journal read failed", "transaction_api_id", r.TransactionAPIID, "error", err)
			}
			if err != nil || !found || !cur.State.Unfinished() {
				e.mu.Unlock()
				continue
			}
			// Left by an earlier run: no envelope in memory, so a proven
			// absence cannot be re-sent — the card must be presented again.
			s = &inflight{rec: cur}
			e.byAPIID[r.TransactionAPIID] = s
			r = cur
		}
		if busy || (ok && s.rec.State == sale.StateSending) {
			e.mu.Unlock()
			continue // a send or resolver is working on it
		}
		if time.Now().Before(s.nextTry) {
			e.mu.Unlock()
			continue // unprovable: looked up on its own, slower schedule
		}
		e.resolving[r.TransactionAPIID] = true
		e.mu.Unlock()
		e.goBackground(func(ctx context.Context) { e.resolveOnce(ctx, s) })
	}
}

// Close stops the engine. From its first moment no request is sent: a
// sale, a follow-up or a card read that comes now is refused, and a
// re-send is left to the next start. It waits up to grace for the sends
// and lookups in flight to get their answers, then cancels the engine's
// context — every wait, backoff and request ends — and returns only when
// the last goroutine that may write the journal has ended, so the caller
// may close the journal then. Whatever is still unresolved stays in the
// journal for the next start. A second Close waits for the first.
func (e *Engine) Close(grace time.Duration) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.closeDone
		return
	}
	e.closed = true
	close(e.closing)
	for _, s := range e.active {
		if s.timer != nil {
			s.timer.Stop()
		}
	}
	e.mu.Unlock()
	t := time.NewTimer(grace)
	select {
	case <-e.life.idleCh():
	case <-t.C:
		e.log.Warn("shutdown: transactions still in flight are journaled and will be resolved at next start")
	}
	t.Stop()
	e.cancel()
	e.life.end()
	<-e.life.idleCh()
	close(e.closeDone)
}

// SetPaused stops (true) or resumes new sales; sales in progress finish.
// The cashier pauses the agent from the tray, e.g. while the reader is
// being swapped.
func (e *Engine) SetPaused(p bool) {
	e.mu.Lock()
	e.paused = p
	e.mu.Unlock()
	e.log.Info("new sales paused by the cashier", "paused", p)
}

// Paused reports whether new sales are refused.
func (e *Engine) Paused() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.paused
}

// Unacked returns up to limit (0: all) of origin's finished results no
// client has acknowledged, newest first ("": every origin's), and how many
// there are. An approval whose chip card has not answered yet is not one:
// it may still be voided (complete.go), and a page must not print its
// receipt. The journal reads only what it returns (status asks for the
// newest few, however long a page has left its results unacknowledged).
func (e *Engine) Unacked(origin string, limit int) ([]sale.Result, int, error) {
	recs, total, err := e.j.Unacked(origin, limit, cardAnswered)
	return resultsOf(recs), total, err
}

// UnackedByClient returns origin's finished, unacknowledged results asked
// for with the page's request id clientID (an ack by request id), the
// approvals still waiting for their card left out as in Unacked.
func (e *Engine) UnackedByClient(origin, clientID string) ([]sale.Result, error) {
	recs, err := e.j.UnackedByClient(origin, clientID)
	out := recs[:0]
	for i := range recs {
		if cardAnswered(&recs[i]) {
			out = append(out, recs[i])
		}
	}
	return resultsOf(out), err
}

// cardAnswered reports whether r is not an approval still waiting for its
// chip card's answer.
func cardAnswered(r *journal.Record) bool {
	return r.Outcome != sale.OutcomeApproved || r.CardCompletion != sale.CardPending
}

// Ack records that a client received a result.
func (e *Engine) Ack(apiID string) error {
	if !e.life.enter() {
		return errorf(CodeJournal, "the agent has stopped: acknowledge %q again once it is running", apiID)
	}
	defer e.life.leave()
	err := e.j.Ack(apiID)
	switch {
	case errors.Is(err, journal.ErrNotFound):
		return errorf(CodeNotFound, "no finished transaction %q to acknowledge", apiID)
	case err != nil:
		return errorf(CodeJournal, "could not record the acknowledgement of %q: %v", apiID, err)
	}
	return nil
}

// Get returns a transaction's record: the engine's own while it works on
// it (the journal holds its last durable state, which a sale being sent
// does not write: see send), else the journal's.
func (e *Engine) Get(apiID string) (sale.Result, bool, error) {
	rec, ok, err := e.get(apiID)
	return resultOf(&rec), ok, err
}

func (e *Engine) get(apiID string) (journal.Record, bool, error) {
	e.mu.Lock()
	s := e.byAPIID[apiID]
	var rec journal.Record
	if s != nil {
		rec = s.rec
	}
	e.mu.Unlock()
	if s != nil {
		return rec, true, nil
	}
	return e.j.Get(apiID)
}

// History returns a page of journal records matching q, newest first.
func (e *Engine) History(q sale.Query) (sale.Page, error) {
	p, err := e.j.History(q)
	return sale.Page{Results: resultsOf(p.Records), Next: p.Next, More: p.More}, err
}

// ReaderInfos lists the readers.
func (e *Engine) ReaderInfos() []sale.Reader {
	if e.rd == nil {
		return nil
	}
	return e.rd.Devices()
}

// Active lists the sales in progress.
func (e *Engine) Active() []sale.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]sale.Result, 0, len(e.active))
	for _, s := range e.active {
		out = append(out, resultOf(&s.rec))
	}
	return out
}
