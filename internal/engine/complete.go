package engine

import (
	"context"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// This file hands the gateway's answer back to a contact chip card that
// waits for it (the IDG Apply Host Response, docs/readers.md "Contact EMV
// flow"), and voids an online approval the card did not accept. A read
// that needs it carries a reader.Completion; swipe and contactless reads
// do not, and nothing here touches them.
//
// The policy (docs/readers.md): an online approval stands only when the
// card accepted it (TC at the second GENERATE AC). A card that declined
// (AAC), and a card that was never told — the reader was unplugged, the
// agent stopped between the gateway's answer and the completion — get the
// approval voided, journaled and exactly once like any follow-up: the
// sale's record names the void's transaction_api_id before the void record
// exists (Record.VoidAPIID), the void record names the sale (ReversalOf),
// and the void's outcome settles the sale's.

// completeTimeout bounds telling the card; the reader bounds its own
// exchange too, so this only guards against a reader that never returns.
const completeTimeout = 20 * time.Second

// CodeCardDeclinedAfterApproval is the result code of a sale the gateway
// approved and the chip card did not accept at completion: outcome
// declined when the void went through, approved when the gateway refused
// the void (the charge stands; the message says so).
const CodeCardDeclinedAfterApproval = "card_declined_after_approval"

// verbiageVoided is the sale's verbiage (and so the receipt's line) after
// the void of an approval the card declined: 32 columns at most.
const verbiageVoided = "CARD DECLINED - CHARGE VOIDED"

// hostARC is tag 8A for an outcome. Approved and declined are the
// gateway's answer. An error proved that nothing was charged, so the card
// must not approve either: it is told "declined". Unknown (the gateway's
// answer was lost) is "unable to go online" (Z3): the card decides by its
// issuer action codes, and the lookup decides the money.
func hostARC(outcome sale.Outcome) string {
	switch outcome {
	case sale.OutcomeApproved:
		return reader.ARCApproved
	case sale.OutcomeDeclined, sale.OutcomeError, sale.OutcomeCancelled:
		return reader.ARCDeclined
	}
	return reader.ARCUnableOnline
}

// takeCompletion returns the sale's completion, at most once. Call with
// e.mu held.
func (s *inflight) takeCompletion() reader.Completion {
	c := s.complete
	s.complete = nil
	return c
}

// completeThenPublish is finishLocked's last step for a sale with a card
// part: it tells a card that waits (in the background, never under e.mu:
// the reader takes a second or two) and publishes the result only after
// that, so the cashier is not told the sale finished before the card was;
// an approval the card did not accept is voided first. It reports false
// when there is nothing of the card left to do: the caller publishes as
// usual. Call with e.mu held, after the outcome is journaled.
func (e *Engine) completeThenPublish(s *inflight, rec journal.Record, result sale.Update) bool {
	if c := s.takeCompletion(); c != nil {
		// Held in byAPIID until the card answered, so that a recovery
		// sweep leaves it alone and Get answers with it. rec (the outcome,
		// card_completion pending) is journaled already: an agent killed
		// before the card answers voids the approval at its next start.
		e.byAPIID[rec.TransactionAPIID] = s
		e.goBackground(func(ctx context.Context) {
			e.step(StepCompleting, rec.TransactionAPIID)
			d, told := e.tellCard(ctx, c, rec)
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.byAPIID[rec.TransactionAPIID] == s {
				delete(e.byAPIID, rec.TransactionAPIID)
			}
			e.settleCardLocked(rec, result, d, told)
		})
		return true
	}
	if !e.mustReverse(rec) {
		return false
	}
	// The card was told "unable to go online" before the outcome was
	// known and declined, or an earlier run never told it: the lookup has
	// just found the approval.
	e.reverseLocked(rec)
	return true
}

// mustReverse reports whether rec is an approval the card did not accept
// and that has no void yet.
func (e *Engine) mustReverse(rec journal.Record) bool {
	return rec.CardOwed()
}

// settleCardLocked records what the card did with the sale's outcome and
// publishes the result, or voids an approval the card did not accept
// (told is false when the card could not be told). Call with e.mu held.
func (e *Engine) settleCardLocked(rec journal.Record, result sale.Update, d reader.CardDecision, told bool) {
	rec.CardCompletion = sale.CardDeclined
	if told && d.Approved {
		rec.CardCompletion = sale.CardAccepted
	}
	if rec.Outcome == sale.OutcomeApproved && rec.CardCompletion == sale.CardDeclined {
		e.reverseLocked(rec)
		return
	}
	// Durable before the result goes out: a restart must not void a sale
	// the card accepted and the page was told about.
	if err := e.j.Put(rec); err != nil {
		e.log.Error("journal write of the card's completion failed", "transaction_api_id", rec.TransactionAPIID, "error", err)
	}
	res := resultOf(&rec)
	result.Result = &res
	e.publish(result)
}

// tellUnknown tells the card "unable to go online" when the gateway's
// answer is lost: the card cannot wait for the lookups. What the card did
// is journaled, so that the lookup's outcome (in this run or the next)
// can be held against it; the sale's result follows when the lookup
// decides. The caller has journaled the sale unknown (card_completion
// pending) before: a kill while the card is told leaves it owed.
func (e *Engine) tellUnknown(ctx context.Context, s *inflight) {
	e.mu.Lock()
	c := s.takeCompletion()
	rec := s.rec
	e.mu.Unlock()
	if c == nil {
		return
	}
	rec.Outcome = sale.OutcomeUnknown
	d, told := e.tellCard(ctx, c, rec)
	e.mu.Lock()
	defer e.mu.Unlock()
	s.rec.CardCompletion = sale.CardDeclined
	if told && d.Approved {
		s.rec.CardCompletion = sale.CardAccepted
	}
	if s.rec.State == sale.StateDone {
		return // finished meanwhile (cannot happen today: resolve starts after this)
	}
	if err := e.j.Put(s.rec); err != nil {
		e.log.Error("journal write of the card's completion failed", "transaction_api_id", s.rec.TransactionAPIID, "error", err)
	}
}

// releaseCard tells the card of a read the engine will not send (no sale
// waits for it, or a guard refused it) that it is declined, so that it
// does not sit in the slot until the reader's own timeout.
func (e *Engine) releaseCard(ev reader.Event) {
	if ev.Complete == nil {
		return
	}
	e.goBackground(func(ctx context.Context) {
		e.tellCard(ctx, ev.Complete, journal.Record{Outcome: sale.OutcomeCancelled, ReaderID: ev.Reader.ID})
	})
}

// tellCard sends the host response for rec's outcome and logs the card's
// decision. told is false when the card could not be told (ctx is the
// engine's: Close ends the wait after its grace).
func (e *Engine) tellCard(ctx context.Context, c reader.Completion, rec journal.Record) (d reader.CardDecision, told bool) {
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	arc := hostARC(rec.Outcome)
	d, err := c(ctx, reader.HostResponse{ARC: arc})
	log := e.log.With("transaction_api_id", rec.TransactionAPIID, "outcome", rec.Outcome, "host_response_8A", arc)
	if err != nil {
		log.Warn("could not tell the chip card the outcome; it decides by itself when the reader gives up", "error", err)
		return reader.CardDecision{}, false
	}
	log.Info("chip card completed", "card_approved", d.Approved, "cryptogram", d.Cryptogram)
	if rec.TransactionAPIID != "" {
		e.publish(sale.Update{Kind: sale.UpdatePrompt, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: rec.TransactionAPIID, Prompt: sale.PromptRemoveCard})
	}
	return d, true
}

// reverseLocked voids an approved sale the card did not accept. The sale
// goes back to unknown with its void's transaction_api_id journaled
// first; the void's outcome settles it (settleReversalLocked). Call with
// e.mu held.
func (e *Engine) reverseLocked(rec journal.Record) {
	e.log.Error("the chip card did not accept a sale the gateway approved: voiding it",
		"transaction_api_id", rec.TransactionAPIID, "transaction_id", rec.TransactionID, "card_completion", rec.CardCompletion)
	rec.CardCompletion = sale.CardDeclined
	rec.VoidAPIID = e.cfg.NewID()
	rec.State, rec.Outcome = sale.StateUnknown, ""
	rec.Error = "the card declined the completed transaction: voiding the charge " + rec.TransactionID
	if err := e.j.Put(rec); err != nil {
		// Nothing else can be done durably: the approval stands in the
		// journal, and the next start voids it (CardCompletion pending).
		e.log.Error("journal write of a reversal failed; the next start voids the sale", "transaction_api_id", rec.TransactionAPIID, "error", err)
		return
	}
	s := &inflight{rec: rec}
	e.byAPIID[rec.TransactionAPIID] = s
	e.resolving[rec.TransactionAPIID] = true // the void decides, not a lookup of the sale
	e.voidLocked(s)
}

// voidLocked makes the void a reversing sale names, unless the journal
// holds it already (create-if-absent under e.mu: every maker holds it), and
// sends it in the background; a void that exists settles the sale when it
// finishes, or at once if it has. Call with e.mu held.
func (e *Engine) voidLocked(s *inflight) {
	rec := s.rec
	v, found, err := e.j.Get(rec.VoidAPIID)
	switch {
	case err != nil:
		e.log.Error("journal read failed; the void is made at the next lookup", "transaction_api_id", rec.VoidAPIID, "error", err)
		delete(e.resolving, rec.TransactionAPIID)
		return
	case found && v.State == sale.StateDone:
		e.settleReversalLocked(v)
		return
	case found:
		return // being resolved on its own
	case e.closed:
		return // the next start makes it
	}
	if !e.gw.Capabilities().Actions[gateway.ActionVoid] {
		s.rec.Code = CodeCardDeclinedAfterApproval
		e.finishLocked(s, sale.OutcomeApproved, nil, "the card declined the completed transaction, and the "+e.gw.Name()+
			" gateway cannot void: the charge of transaction "+rec.TransactionID+" stands; refund it")
		return
	}
	vr := journal.Record{TransactionAPIID: rec.VoidAPIID, Origin: rec.Origin, Action: string(gateway.ActionVoid),
		OrigTransaction: rec.TransactionID, State: sale.StatePending, Created: time.Now().UTC(), ReversalOf: rec.TransactionAPIID}
	vs, err := e.followUpLocked(vr, gateway.Request{Action: gateway.ActionVoid, TransactionID: rec.TransactionID})
	if err != nil {
		e.log.Error("journal write of a reversal's void failed; it is made at the next lookup", "transaction_api_id", rec.VoidAPIID, "error", err)
		delete(e.resolving, rec.TransactionAPIID)
		return
	}
	// send takes e.mu, which the caller holds.
	e.goBackground(func(context.Context) { e.send(vs) })
}

// settleReversalLocked gives the sale a finished void reverses its final
// outcome: declined when the void went through, approved (the charge
// stands) when the gateway refused it. Call with e.mu held.
func (e *Engine) settleReversalLocked(v journal.Record) {
	s := e.byAPIID[v.ReversalOf]
	if s == nil {
		cur, found, err := e.j.Get(v.ReversalOf)
		if err != nil || !found || cur.State == sale.StateDone {
			return
		}
		s = &inflight{rec: cur}
		e.byAPIID[v.ReversalOf] = s
	}
	if s.rec.State == sale.StateDone {
		return
	}
	s.rec.Code = CodeCardDeclinedAfterApproval
	if v.Outcome == sale.OutcomeApproved {
		if v.StatusID != 0 {
			s.rec.StatusID, s.rec.ReasonCodeID = v.StatusID, v.ReasonCodeID
		}
		s.rec.Verbiage = verbiageVoided
		e.finishLocked(s, sale.OutcomeDeclined, nil, "the card declined the completed transaction; the charge was voided (transaction "+s.rec.TransactionID+")")
		return
	}
	why := v.Error
	if why == "" {
		why = v.Verbiage
	}
	e.log.Error("the gateway refused the void of a sale the chip card declined: the charge stands; refund it",
		"transaction_api_id", s.rec.TransactionAPIID, "transaction_id", s.rec.TransactionID, "void", v.TransactionAPIID, "reason", why)
	e.finishLocked(s, sale.OutcomeApproved, nil, "the card declined the completed transaction, but the gateway refused the void ("+why+
		"): the charge of transaction "+s.rec.TransactionID+" stands; refund it")
}

// reversalStep is the lookup of a sale being reversed: its void decides,
// never a lookup of the sale (which would find the approval). It makes the
// void if the journal does not hold it (the agent stopped between the two
// writes) and reports true: the void's resolution settles the sale.
func (e *Engine) reversalStep(s *inflight) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.rec.State == sale.StateDone {
		return true
	}
	e.voidLocked(s)
	return true
}

// recoverCompletions voids the approvals an earlier run journaled but
// whose card never answered (it stopped between the gateway's answer and
// the completion): the card was never confirmed, so the approval does not
// stand (docs/readers.md). Call with e.mu held.
func (e *Engine) recoverCompletions() {
	recs, err := e.j.Owed()
	if err != nil {
		e.log.Error("journal read failed", "error", err)
		return
	}
	for _, r := range recs {
		if e.byAPIID[r.TransactionAPIID] == nil {
			e.reverseLocked(r)
		}
	}
}
