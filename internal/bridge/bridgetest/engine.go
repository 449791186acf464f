// Package bridgetest is a scripted stand-in for the sale engine and the
// simulated reader, for the bridge's tests, benchmarks and the browser
// test server. It behaves like the sandbox from a page's point of view: a
// sale waits for a simulated card, then approves — except the sandbox's
// decline amounts (5.00, 6.01–6.31), which decline.
package bridgetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/sale"
)

// ReaderID is the fake's simulated reader.
const ReaderID = "sim:1"

// SimReader is the reader the fake starts with.
var SimReader = sale.Reader{
	ID:     ReaderID,
	Device: card.DeviceInfo{Vendor: "ID TECH", Model: "VP3300", Serial: "SIM00001", Transport: "sim"},
	Status: sale.ReaderOK, EMV: true, Simulated: true,
}

// Engine is a fake engine; it also implements the bridge's Simulator.
type Engine struct {
	// ProcessDelay is the time from a card to its result (default 20 ms):
	// the fake gateway's latency.
	ProcessDelay time.Duration
	// Hold, when set, keeps results back after a card until Release.
	Hold bool

	mu      sync.Mutex
	subs    map[chan sale.Update]struct{}
	recs    map[string]*sale.Result
	active  map[string]string // reader id → transaction_api_id
	readers []sale.Reader
	seq     int
	held    []string
}

// New returns a fake with one simulated reader.
func New() *Engine {
	return &Engine{ProcessDelay: 20 * time.Millisecond, subs: map[chan sale.Update]struct{}{},
		recs: map[string]*sale.Result{}, active: map[string]string{}, readers: []sale.Reader{SimReader}}
}

func refuse(code, format string, args ...any) error {
	return &engine.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Subscribe implements bridge.Engine.
func (e *Engine) Subscribe() (<-chan sale.Update, func()) {
	ch := make(chan sale.Update, 256)
	e.mu.Lock()
	e.subs[ch] = struct{}{}
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		if _, ok := e.subs[ch]; ok {
			delete(e.subs, ch)
			close(ch)
		}
		e.mu.Unlock()
	}
}

// Publish sends an update to every subscriber, as the engine does (a full
// subscriber misses it).
func (e *Engine) Publish(u sale.Update) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.publishLocked(u)
}

func (e *Engine) publishLocked(u sale.Update) {
	for ch := range e.subs {
		select {
		case ch <- u:
		default:
		}
	}
}

// SetReaders replaces the reader list (no event is published).
func (e *Engine) SetReaders(in []sale.Reader) {
	e.mu.Lock()
	e.readers = append([]sale.Reader(nil), in...)
	e.mu.Unlock()
}

// ReaderInfos implements bridge.Engine.
func (e *Engine) ReaderInfos() []sale.Reader {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sale.Reader(nil), e.readers...)
}

func (e *Engine) nextID() string {
	e.seq++
	return fmt.Sprintf("fake%06d", e.seq)
}

// StartSale implements bridge.Engine.
func (e *Engine) StartSale(_ context.Context, req engine.SaleRequest) (sale.Result, error) {
	switch req.Action {
	case "", "sale", "authonly":
	default:
		return sale.Result{}, refuse(engine.CodeInvalid, "action %q: use sale or authonly", req.Action)
	}
	amount, err := gateway.ParseAmount(req.Amount)
	if err != nil || amount <= 0 {
		return sale.Result{}, refuse(engine.CodeInvalid, "amount %q is not an amount like \"12.34\"", req.Amount)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	readerID := ""
	for _, r := range e.readers {
		if r.Status == sale.ReaderOK && (req.ReaderID == "" || r.ID == req.ReaderID) {
			readerID = r.ID
			break
		}
	}
	if readerID == "" {
		return sale.Result{}, refuse(engine.CodeNoReader, "no card reader is connected")
	}
	if cur, ok := e.active[readerID]; ok {
		return sale.Result{}, refuse(engine.CodeBusy, "the reader is busy with sale %s", cur)
	}
	id := req.TransactionAPIID
	if id == "" {
		id = e.nextID()
	}
	if _, ok := e.recs[id]; ok {
		return sale.Result{}, refuse(engine.CodeDuplicateID, "transaction_api_id %q was used before", id)
	}
	action := req.Action
	if action == "" {
		action = "sale"
	}
	now := time.Now()
	rec := &sale.Result{TransactionAPIID: id, ClientID: req.ClientID, Origin: req.Origin, Action: action,
		Amount: amount.String(), TipAmount: req.TipAmount, OrderNum: req.OrderNum, Description: req.Description,
		ReaderID: readerID, State: sale.StatePending, Created: now, Updated: now}
	e.recs[id] = rec
	e.active[readerID] = id
	e.publishLocked(sale.Update{Kind: sale.UpdatePrompt, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: id, Prompt: sale.PromptPresentCard})
	return *rec, nil
}

// Simulate implements bridge.Simulator: the card is "read" by the reader
// and goes to the waiting sale.
func (e *Engine) Simulate(_ context.Context, readerID, pan string, mode card.EntryMode, scenario string) error {
	if scenario != "" {
		return errors.New("the fake engine stages no scenarios: use posagent demo")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id, ok := e.active[readerID]
	if !ok {
		e.publishLocked(sale.Update{Kind: sale.UpdateWarning, Code: "no_sale", Warning: "a card was read but no sale is waiting for one: the read was discarded"})
		return nil
	}
	rec := e.recs[id]
	if rec.State != sale.StatePending {
		return errors.New("the reader is processing a card already")
	}
	if pan != "" && (pan[0] < '0' || pan[0] > '9') { // a brand, as the demo page sends
		p, err := card.TestPAN(pan)
		if err != nil {
			return err
		}
		pan = p
	}
	masked := card.Mask(pan)
	rec.State, rec.MaskedPAN, rec.LastFour, rec.Brand, rec.EntryMode = sale.StateSending, string(masked), pan[len(pan)-4:], string(card.BrandOf(pan)), string(mode)
	if mode == card.EntryChip || mode == card.EntryProximity {
		rec.Receipt = card.Receipt{TC: "8A1F2C3D4E5F6071", TVR: "0000008000", AID: "A0000000031010", TSI: "E800",
			ATC: fmt.Sprintf("%04X", e.seq), APPLAB: appLabel(card.BrandOf(pan)), APPN: appLabel(card.BrandOf(pan)), CVM: "No CVM"}
	}
	e.publishLocked(sale.Update{Kind: sale.UpdateCard, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: id,
		Card: &sale.Card{EntryMode: mode, Brand: card.BrandOf(pan), MaskedPAN: masked, LastFour: rec.LastFour}})
	e.publishLocked(sale.Update{Kind: sale.UpdatePrompt, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: id, Prompt: sale.PromptProcessing})
	if e.Hold {
		e.held = append(e.held, id)
		return nil
	}
	time.AfterFunc(e.ProcessDelay, func() { e.decide(id) })
	return nil
}

func appLabel(b card.Brand) string {
	switch b {
	case card.BrandVisa:
		return "VISA CREDIT"
	case card.BrandMC:
		return "MASTERCARD"
	case card.BrandAmex:
		return "AMERICAN EXPRESS"
	case card.BrandDiscover:
		return "DISCOVER"
	}
	return "CREDIT"
}

// Release finishes the sales Hold kept back.
func (e *Engine) Release() {
	e.mu.Lock()
	held := e.held
	e.held = nil
	e.mu.Unlock()
	for _, id := range held {
		e.decide(id)
	}
}

// decide finishes a sale as the sandbox would for its amount.
func (e *Engine) decide(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rec := e.recs[id]
	if rec == nil || rec.State == sale.StateDone {
		return
	}
	amount, _ := gateway.ParseAmount(rec.Amount)
	e.seq++
	rec.TransactionID = fmt.Sprintf("11ee%08x", e.seq)
	switch reason := declineReason(amount); {
	case reason != 0:
		rec.Outcome, rec.StatusID, rec.ReasonCodeID, rec.Verbiage = sale.OutcomeDeclined, 301, reason, declineText(reason)
		rec.Receipt = card.Receipt{}
	default:
		rec.Outcome, rec.StatusID, rec.ReasonCodeID, rec.Verbiage = sale.OutcomeApproved, 101, 1000, "APPROVED"
		rec.AuthCode = fmt.Sprintf("A%05d", e.seq)
		switch rec.Action {
		case "authonly":
			rec.StatusID = 102
		case "refund":
			rec.StatusID = 111
		case "void":
			rec.StatusID, rec.ReasonCodeID = 201, 1200
		}
	}
	e.finishLocked(rec)
}

func (e *Engine) finishLocked(rec *sale.Result) {
	rec.State, rec.Updated = sale.StateDone, time.Now()
	if e.active[rec.ReaderID] == rec.TransactionAPIID {
		delete(e.active, rec.ReaderID)
	}
	r := *rec
	e.publishLocked(sale.Update{Kind: sale.UpdateResult, ClientID: r.ClientID, Origin: r.Origin, TransactionAPIID: r.TransactionAPIID, Result: &r})
}

// declineReason is the sandbox's amount-driven decline table.
func declineReason(a gateway.Amount) int {
	switch {
	case a == 500:
		return 1500
	case a >= 601 && a <= 631:
		return 1000 + int(a)
	}
	return 0
}

func declineText(reason int) string {
	switch reason {
	case 1616:
		return "Insufficient funds"
	case 1500:
		return "Deny"
	case 1615:
		return "Do not honor"
	}
	return "Declined"
}

// Cancel implements bridge.Engine.
func (e *Engine) Cancel(_ context.Context, origin, clientID, apiID string) (sale.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var rec *sale.Result
	if apiID != "" {
		if r := e.recs[apiID]; r != nil && r.Origin == origin {
			rec = r
		}
	} else {
		for _, r := range e.recs {
			if r.ClientID == clientID && r.Origin == origin && r.State != sale.StateDone {
				rec = r
			}
		}
	}
	if rec == nil || rec.State == sale.StateDone {
		return sale.Result{}, refuse(engine.CodeNotFound, "no sale in progress for request %q", clientID)
	}
	if rec.State != sale.StatePending {
		return sale.Result{}, refuse(engine.CodeTooLate, "sale %s was already sent to the gateway", rec.TransactionAPIID)
	}
	rec.Outcome, rec.Error = sale.OutcomeCancelled, "cancelled before a card was read: nothing was charged"
	e.finishLocked(rec)
	return *rec, nil
}

// FollowUp implements bridge.Engine: refunds, voids, completions and
// amount changes approve after ProcessDelay.
func (e *Engine) FollowUp(_ context.Context, req engine.FollowUpRequest) (sale.Result, error) {
	switch req.Action {
	case "refund", "void", "complete", "authincrement", "partialreversal":
	default:
		return sale.Result{}, refuse(engine.CodeInvalid, "action %q: use refund, void, complete, authincrement or partialreversal", req.Action)
	}
	if req.TransactionID == "" {
		return sale.Result{}, refuse(engine.CodeInvalid, "transaction_id: give the gateway id of the transaction to %s", req.Action)
	}
	if req.Action == "refund" || req.Action == "authincrement" || req.Action == "partialreversal" {
		if a, err := gateway.ParseAmount(req.Amount); err != nil || a <= 0 {
			return sale.Result{}, refuse(engine.CodeInvalid, "amount must be more than 0.00")
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := req.TransactionAPIID
	if id == "" {
		id = e.nextID()
	}
	if _, ok := e.recs[id]; ok {
		return sale.Result{}, refuse(engine.CodeDuplicateID, "transaction_api_id %q was used before", id)
	}
	now := time.Now()
	rec := &sale.Result{TransactionAPIID: id, ClientID: req.ClientID, Origin: req.Origin, Action: req.Action,
		Amount: req.Amount, OrigTransaction: req.TransactionID, State: sale.StateSending, Created: now, Updated: now}
	e.recs[id] = rec
	time.AfterFunc(e.ProcessDelay, func() { e.decide(id) })
	return *rec, nil
}

// Unacked implements bridge.Engine.
func (e *Engine) Unacked(origin string, limit int) ([]sale.Result, int, error) {
	recs := e.selectRecs(func(r *sale.Result) bool {
		return r.State == sale.StateDone && !r.Acked && (origin == "" || r.Origin == origin)
	})
	total := len(recs)
	if limit > 0 && len(recs) > limit {
		recs = recs[:limit]
	}
	return recs, total, nil
}

// UnackedByClient implements bridge.Engine.
func (e *Engine) UnackedByClient(origin, clientID string) ([]sale.Result, error) {
	return e.selectRecs(func(r *sale.Result) bool {
		return r.State == sale.StateDone && !r.Acked && r.Origin == origin && r.ClientID == clientID
	}), nil
}

// Active implements bridge.Engine.
func (e *Engine) Active() []sale.Result {
	return e.selectRecs(func(r *sale.Result) bool { return r.State != sale.StateDone && r.ReaderID != "" })
}

func (e *Engine) selectRecs(keep func(*sale.Result) bool) []sale.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []sale.Result
	for _, r := range e.recs {
		if keep(r) {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TransactionAPIID < out[j].TransactionAPIID })
	return out
}

// Ack implements bridge.Engine.
func (e *Engine) Ack(apiID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.recs[apiID]
	if r == nil || r.State != sale.StateDone {
		return refuse(engine.CodeNotFound, "no finished transaction %q to acknowledge", apiID)
	}
	r.Acked = true
	return nil
}

// Get implements bridge.Engine.
func (e *Engine) Get(apiID string) (sale.Result, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.recs[apiID]
	if r == nil {
		return sale.Result{}, false, nil
	}
	return *r, true, nil
}

// AddResult stores a finished, unacknowledged record as if a sale had
// ended while no page was connected (no update is published).
func (e *Engine) AddResult(rec sale.Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rec.State, rec.Updated = sale.StateDone, time.Now()
	e.recs[rec.TransactionAPIID] = &rec
}
