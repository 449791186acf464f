package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// TestChipCompletion: the engine hands the gateway's answer to a chip card
// that waits for it, before it reports the sale: 8A 00 approved, 05
// declined, Z3 when the answer is lost (then the lookup decides). The
// result update comes only after the card was told, with remove_card
// before it. An approval the card does not accept — it declines at the
// second GENERATE AC, it declined offline after Z3 and the lookup finds
// the approval, or it could not be told at all — is voided at the gateway
// exactly once, and the sale's one result says declined, with the code
// card_declined_after_approval and the void's id.
func TestChipCompletion(t *testing.T) {
	ambiguous := &gateway.Error{Class: gateway.Ambiguous, Err: errors.New("timeout after the request was sent")}
	lost := func(n int, req gateway.Request) (bool, *gateway.Result, error) {
		if req.Action == gateway.ActionVoid {
			return true, nil, nil
		}
		return true, nil, ambiguous
	}
	tests := []struct {
		name     string
		script   func(n int, req gateway.Request) (bool, *gateway.Result, error)
		approve  bool
		cardErr  error
		told     string
		outcome  sale.Outcome
		voided   bool
		complete string // the journal's card_completion
	}{
		{"approved, card accepts", nil, true, nil, reader.ARCApproved, sale.OutcomeApproved, false, sale.CardAccepted},
		{"approved, card declines: voided", nil, false, nil, reader.ARCApproved, sale.OutcomeDeclined, true, sale.CardDeclined},
		{"approved, card cannot be told (reader unplugged): voided", nil, true, errors.New("reader detached"), reader.ARCApproved, sale.OutcomeDeclined, true, sale.CardDeclined},
		{"declined", func(int, gateway.Request) (bool, *gateway.Result, error) {
			return true, &gateway.Result{ID: "d1", Outcome: gateway.OutcomeDeclined, StatusID: 301, ReasonCode: 1500},
				&gateway.Error{Class: gateway.Declined, Err: gateway.ErrDeclined}
		}, true, nil, reader.ARCDeclined, sale.OutcomeDeclined, false, sale.CardDeclined},
		// The answer is lost after the gateway committed: the card hears Z3
		// and declines offline, the lookup then finds the approval: voided.
		{"gateway answer lost, card declines, lookup finds the approval: voided", lost, true, nil, reader.ARCUnableOnline, sale.OutcomeDeclined, true, sale.CardDeclined},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.gw.script = tc.script
			c := &fakeCard{approves: tc.approve, err: tc.cardErr}
			rec := h.sale("12.50")
			h.insert(h.read(), c)
			sawRemove := false
			var res *sale.Result
			for res == nil {
				u := h.update(rec.TransactionAPIID)
				if u.Kind == sale.UpdatePrompt && u.Prompt == sale.PromptRemoveCard {
					sawRemove = true
				}
				if u.Kind == sale.UpdateWarning {
					t.Errorf("warning %s: %s", u.Code, u.Warning)
				}
				if u.Kind != sale.UpdateResult {
					continue
				}
				if told := c.toldSoFar(); len(told) != 1 || told[0] != tc.told {
					t.Fatalf("when the result came the card had been told %v, want [%s]", told, tc.told)
				}
				res = u.Result
			}
			if res.Outcome != tc.outcome {
				t.Errorf("outcome %s (%s), want %s", res.Outcome, res.Error, tc.outcome)
			}
			if sawRemove != (tc.cardErr == nil) {
				t.Errorf("remove_card prompt %v", sawRemove)
			}
			h.e.Close(5 * time.Second)
			wantVoids, wantStanding := 0, 1
			if tc.voided {
				wantVoids, wantStanding = 1, 0
				if res.Code != CodeCardDeclinedAfterApproval || res.VoidAPIID == "" || !strings.Contains(res.Error, "the charge was voided") ||
					res.Verbiage != verbiageVoided || res.TransactionID == "" {
					t.Errorf("result %+v", res)
				}
				v, found, _ := h.j.Get(res.VoidAPIID)
				if !found || v.ReversalOf != rec.TransactionAPIID || v.Outcome != sale.OutcomeApproved || !v.Acked || v.OrigTransaction != res.TransactionID {
					t.Errorf("void record %+v", v)
				}
			} else if res.Code != "" || res.VoidAPIID != "" {
				t.Errorf("result code %q void %q", res.Code, res.VoidAPIID)
			}
			if tc.outcome == sale.OutcomeDeclined && !tc.voided {
				wantStanding = 0
			}
			if h.gw.voids() != wantVoids || h.gw.standing() != wantStanding {
				t.Errorf("voids %d standing charges %d, want %d %d", h.gw.voids(), h.gw.standing(), wantVoids, wantStanding)
			}
			got, _, _ := h.j.Get(rec.TransactionAPIID)
			if got.State != sale.StateDone || got.Outcome != tc.outcome || got.CardCompletion != tc.complete {
				t.Errorf("journal %s %s card_completion %q, want done %s %q", got.State, got.Outcome, got.CardCompletion, tc.outcome, tc.complete)
			}
			// The engine's void is not a result of its own for clients.
			un, _, _ := h.e.Unacked("", 0)
			if len(un) != 1 || un[0].TransactionAPIID != rec.TransactionAPIID {
				t.Errorf("unacknowledged results %v", un)
			}
		})
	}
}

// TestReversalVoidUnknown: the void of an approval the card declined is
// answered ambiguously; the sale is reported unknown, the lookup of the
// original transaction then proves the void, and the sale is declined —
// with one void request, never a second.
func TestReversalVoidUnknown(t *testing.T) {
	h := newHarness(t, nil)
	h.gw.script = func(n int, req gateway.Request) (bool, *gateway.Result, error) {
		if req.Action == gateway.ActionVoid {
			return true, nil, &gateway.Error{Class: gateway.Ambiguous, Err: errors.New("reset after the request was sent")}
		}
		return true, nil, nil
	}
	rec := h.sale("12.50")
	h.insert(h.read(), &fakeCard{approves: false})
	res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
	for res.Outcome == sale.OutcomeUnknown {
		res = h.next(sale.UpdateResult, rec.TransactionAPIID).Result
	}
	if res.Outcome != sale.OutcomeDeclined || res.Code != CodeCardDeclinedAfterApproval {
		t.Fatalf("result %+v", res)
	}
	h.e.Close(5 * time.Second)
	if h.gw.voids() != 1 || h.gw.standing() != 0 {
		t.Errorf("voids %d standing %d", h.gw.voids(), h.gw.standing())
	}
}

// TestReversalVoidRefused: a gateway that refuses the void leaves the
// charge standing; the sale's result says approved, names the cause and
// says to refund.
func TestReversalVoidRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.gw.script = func(n int, req gateway.Request) (bool, *gateway.Result, error) {
		if req.Action == gateway.ActionVoid {
			return false, &gateway.Result{Outcome: gateway.OutcomeDeclined, StatusID: 301, Verbiage: "already settled"},
				&gateway.Error{Class: gateway.Declined, Err: gateway.ErrDeclined}
		}
		return true, nil, nil
	}
	rec := h.sale("12.50")
	h.insert(h.read(), &fakeCard{approves: false})
	res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
	if res.Outcome != sale.OutcomeApproved || res.Code != CodeCardDeclinedAfterApproval || !strings.Contains(res.Error, "refund") {
		t.Fatalf("result %+v", res)
	}
	h.e.Close(5 * time.Second)
	if h.gw.voids() != 1 || h.gw.standing() != 1 {
		t.Errorf("voids %d standing %d", h.gw.voids(), h.gw.standing())
	}
}

// TestReversalAfterRestart: what an earlier run left between the gateway's
// approval and the card's answer is settled at the next start, voiding
// exactly once: an approval whose card never answered (card_completion
// pending), a reversing sale whose void was never journaled, a void
// journaled but never sent, and a void the gateway holds whose outcome was
// never journaled (found by lookup, not sent again).
func TestReversalAfterRestart(t *testing.T) {
	now := time.Now().UTC()
	sold := func() journal.Record {
		return journal.Record{TransactionAPIID: "a1", ClientID: "s-a1", Origin: "https://pos.example", Action: "sale", Amount: "12.50",
			State: sale.StateDone, Outcome: sale.OutcomeApproved, TransactionID: "tx-a1", StatusID: 101, EntryMode: "C", LastFour: "0254",
			CardCompletion: sale.CardPending, Created: now}
	}
	reversing := func() journal.Record {
		r := sold()
		r.State, r.Outcome, r.CardCompletion, r.VoidAPIID = sale.StateUnknown, "", sale.CardDeclined, "v1"
		return r
	}
	void := func(st sale.State, attempts int) journal.Record {
		return journal.Record{TransactionAPIID: "v1", Origin: "https://pos.example", Action: "void", OrigTransaction: "tx-a1", State: st,
			Attempts: attempts, ReversalOf: "a1", Created: now}
	}
	// Left pending: the earlier run died after the request left and before
	// the outcome landed (a sale being sent is not journaled again, so its
	// card_completion was never written); the gateway says how the card
	// was read.
	leftPending := func() journal.Record {
		return journal.Record{TransactionAPIID: "a1", ClientID: "s-a1", Origin: "https://pos.example", Action: "sale", Amount: "12.50",
			State: sale.StatePending, Created: now}
	}
	tests := []struct {
		name     string
		recs     []journal.Record
		atGW     int // the sale's status at the gateway
		voids    int
		outcome  sale.Outcome
		standing int
		entry    card.EntryMode // at the gateway
	}{
		{"left pending, the gateway approved a chip read", []journal.Record{leftPending()}, 101, 1, sale.OutcomeDeclined, 0, card.EntryChip},
		{"left pending, the gateway approved a swipe", []journal.Record{leftPending()}, 101, 0, sale.OutcomeApproved, 1, card.EntrySwiped},
		{"approved, card never told", []journal.Record{sold()}, 101, 1, sale.OutcomeDeclined, 0, card.EntryChip},
		{"card accepted: nothing to do", []journal.Record{func() journal.Record { r := sold(); r.CardCompletion = sale.CardAccepted; return r }()}, 101, 0, sale.OutcomeApproved, 1, card.EntryChip},
		{"reversing, void not journaled", []journal.Record{reversing()}, 101, 1, sale.OutcomeDeclined, 0, card.EntryChip},
		{"reversing, void journaled, never sent", []journal.Record{reversing(), void(sale.StatePending, 0)}, 101, 1, sale.OutcomeDeclined, 0, card.EntryChip},
		{"reversing, void at the gateway, outcome not journaled", []journal.Record{reversing(), void(sale.StatePending, 0)}, 201, 0, sale.OutcomeDeclined, 0, card.EntryChip},
		// An earlier version journaled a "sending" record: its journal may
		// still hold one.
		{"reversing, void at the gateway, sending journaled by an earlier version", []journal.Record{reversing(), void(sale.StateSending, 1)}, 201, 0, sale.OutcomeDeclined, 0, card.EntryChip},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.gw.committed["a1"] = &gateway.Result{ID: "tx-a1", TransactionAPIID: "a1", Outcome: gateway.OutcomeApproved, StatusID: tc.atGW, Amount: 1250,
				EntryMode: tc.entry, LastFour: "0254"}
			for _, r := range tc.recs {
				if err := h.j.Put(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.e.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			var got journal.Record
			for {
				got, _, _ = h.j.Get("a1")
				if got.State == sale.StateDone && got.Outcome == tc.outcome && (tc.voids == 0 || got.VoidAPIID != "") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("sale %s %s (%s), want done %s", got.State, got.Outcome, got.Error, tc.outcome)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Several resolver periods more: nothing is voided twice.
			time.Sleep(100 * time.Millisecond)
			h.e.Close(5 * time.Second)
			if h.gw.voids() != tc.voids || h.gw.standing() != tc.standing {
				t.Errorf("voids %d standing %d, want %d %d", h.gw.voids(), h.gw.standing(), tc.voids, tc.standing)
			}
			if tc.outcome == sale.OutcomeDeclined && (got.Code != CodeCardDeclinedAfterApproval || got.Acked || !strings.Contains(got.Error, "voided")) {
				t.Errorf("sale %+v", got)
			}
		})
	}
}

// TestDocsReversal: the docs state the code, the verbiage and the
// card_completion values the engine uses.
func TestDocsReversal(t *testing.T) {
	for file, wants := range map[string][]string{
		"protocol.md": {"`" + CodeCardDeclinedAfterApproval + "`", "`" + verbiageVoided + "`", "void_transaction_api_id"},
		"readers.md": {"`" + CodeCardDeclinedAfterApproval + "`", "`" + verbiageVoided + "`", "`card_completion` **`" + sale.CardPending + "`**",
			"`" + sale.CardAccepted + "` or `" + sale.CardDeclined + "`", "`reversal_of`", "`void_transaction_api_id`"},
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", "docs", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(string(b), w) {
				t.Errorf("docs/%s does not say %s", file, w)
			}
		}
	}
}

// blockingCard is a chip card that answers only when released.
type blockingCard struct {
	told    chan struct{}
	release chan struct{}
}

func (c *blockingCard) complete(ctx context.Context, hr reader.HostResponse) (reader.CardDecision, error) {
	close(c.told)
	<-c.release
	return reader.CardDecision{Cryptogram: "AAC", ARC: hr.ARC}, nil
}

// TestNoReplayBeforeTheCardAnswers: while the chip card of an approved
// sale has not answered, the approval is journaled but is not a result to
// replay (status): it may still be voided.
func TestNoReplayBeforeTheCardAnswers(t *testing.T) {
	h := newHarness(t, nil)
	c := &blockingCard{told: make(chan struct{}), release: make(chan struct{})}
	rec := h.sale("12.50")
	r := h.read()
	r.EntryMode = "C"
	h.e.HandleReaderEvent(reader.Event{Kind: reader.EventCard, Reader: simInfo, Read: r, Complete: c.complete})
	<-c.told
	got, _, _ := h.j.Get(rec.TransactionAPIID)
	un, _, _ := h.e.Unacked("", 0)
	close(c.release)
	if got.Outcome != sale.OutcomeApproved || got.CardCompletion != sale.CardPending {
		t.Fatalf("journal while the card decides: %s %q", got.Outcome, got.CardCompletion)
	}
	if len(un) != 0 {
		t.Errorf("replayable while the card decides: %+v", un)
	}
	if res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result; res.Outcome != sale.OutcomeDeclined {
		t.Errorf("result %s", res.Outcome)
	}
}

// TestReversalVoidLeftAtStop: the agent begins to stop while the void of
// an approval the chip card declined waits to be sent again (the gateway
// could not be reached). The void is the engine's own: ending it "not
// sent" would settle the sale as a charge that stands. It stays pending
// for the next start, which sends it and declines the sale: the charge of
// a card that declined does not stand.
func TestReversalVoidLeftAtStop(t *testing.T) {
	h := newHarness(t, nil)
	voidTried := make(chan struct{}, 1)
	h.gw.script = func(n int, req gateway.Request) (bool, *gateway.Result, error) {
		if req.Action == gateway.ActionVoid {
			select {
			case voidTried <- struct{}{}:
			default:
			}
			return false, nil, &gateway.Error{Class: gateway.Retryable, Err: errors.New("connection refused")}
		}
		return true, nil, nil
	}
	rec := h.sale("12.50")
	h.insert(h.read(), &fakeCard{approves: false})
	<-voidTried
	h.e.Close(5 * time.Second) // the void waits for its retry: stopping ends the wait
	got := h.stored(rec.TransactionAPIID)
	if got.State != sale.StateUnknown || got.VoidAPIID == "" {
		t.Fatalf("sale after the stop: %s %s (%s), want unknown with its void named", got.State, got.Outcome, got.Error)
	}
	if v := h.stored(got.VoidAPIID); v.State != sale.StatePending {
		t.Fatalf("void after the stop: %s %s (%s), want pending for the next start", v.State, v.Outcome, v.Error)
	}

	h.gw.mu.Lock()
	h.gw.script = nil
	h.gw.mu.Unlock()
	e2, err := New(Config{Gateway: h.gw, Readers: h.rd, Journal: h.j, CardTimeout: time.Minute,
		ResolveBackoff: []time.Duration{time.Millisecond}, ResolveInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e2.Close(time.Second) })
	if err := e2.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got = h.stored(rec.TransactionAPIID); got.State != sale.StateDone; got = h.stored(rec.TransactionAPIID) {
		if time.Now().After(deadline) {
			t.Fatalf("sale after the restart: %s (%s)", got.State, got.Error)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got.Outcome != sale.OutcomeDeclined || got.Code != CodeCardDeclinedAfterApproval {
		t.Errorf("sale %s %q (%s), want declined %s", got.Outcome, got.Code, got.Error, CodeCardDeclinedAfterApproval)
	}
	if h.gw.standing() != 0 {
		t.Errorf("%d charges stand for a card that declined", h.gw.standing())
	}
}
