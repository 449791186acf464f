package engine

import (
	"context"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/reader"
)

// This file hands the gateway's answer back to a contact chip card that
// waits for it (the IDG Apply Host Response, docs/readers.md "Contact EMV
// flow"). A read that needs it carries a reader.Completion; swipe and
// contactless reads do not, and nothing here touches them.
//
// Not done yet: a card that declines at the second GENERATE AC after an
// online approval leaves the charge standing. The engine logs it and warns
// the cashier (code card_declined_after_approval) so the charge can be
// voided by hand; voiding it automatically, exactly once, is the next step.

// completeTimeout bounds telling the card; the reader bounds its own
// exchange too, so this only guards against a reader that never returns.
const completeTimeout = 20 * time.Second

// CodeCardDeclinedAfterApproval is the warning code of a card that declined
// at completion a sale the gateway approved.
const CodeCardDeclinedAfterApproval = "card_declined_after_approval"

// hostARC is tag 8A for an outcome. Approved and declined are the
// gateway's answer. An error proved that nothing was charged, so the card
// must not approve either: it is told "declined". Unknown (the gateway's
// answer was lost) is "unable to go online" (Z3): the card decides by its
// issuer action codes, and the lookup decides the money.
func hostARC(outcome string) string {
	switch outcome {
	case OutcomeApproved:
		return reader.ARCApproved
	case OutcomeDeclined, OutcomeError, OutcomeCancelled:
		return reader.ARCDeclined
	}
	return reader.ARCUnableOnline
}

// takeCompletion returns the sale's completion, at most once. Call with
// e.mu held.
func (s *sale) takeCompletion() reader.Completion {
	c := s.complete
	s.complete = nil
	return c
}

// completeThenPublish is finishLocked's last step for a sale whose card
// waits for the host response: it tells the card in the background (never
// under e.mu: the reader takes a second or two) and publishes the result
// only after that, so the cashier is not told the sale finished before the
// card was. It reports false when there is no card to tell: the caller
// publishes as usual. Call with e.mu held, after the outcome is journaled.
func (e *Engine) completeThenPublish(s *sale, rec journal.Record, result Update) bool {
	c := s.takeCompletion()
	if c == nil {
		if d := s.cardDecision; d != nil {
			// The card was told "unable to go online" while the answer
			// was lost; the lookup (or a proven-absent re-send) decided
			// the money since.
			e.cardVersusGateway(rec, *d)
		}
		return false
	}
	e.goBackground(func(ctx context.Context) {
		e.tellCard(ctx, c, rec)
		e.publish(result)
	})
	return true
}

// tellUnknown tells the card "unable to go online" when the gateway's
// answer is lost: the card cannot wait for the lookups. The sale's result
// follows when the lookup decides.
func (e *Engine) tellUnknown(s *sale) {
	e.mu.Lock()
	c := s.takeCompletion()
	rec := s.rec
	e.mu.Unlock()
	if c == nil {
		return
	}
	rec.Outcome = OutcomeUnknown
	if d, ok := e.tellCard(e.ctx, c, rec); ok {
		e.mu.Lock()
		s.cardDecision = &d
		e.mu.Unlock()
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
		e.tellCard(ctx, ev.Complete, journal.Record{Outcome: OutcomeCancelled, ReaderID: ev.Reader.ID})
	})
}

// tellCard sends the host response for rec's outcome and logs the card's
// decision; a card that declines an approved sale is also a warning to the
// cashier. ok is false when the card could not be told.
func (e *Engine) tellCard(ctx context.Context, c reader.Completion, rec journal.Record) (d reader.CardDecision, ok bool) {
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
	if rec.TransactionAPIID == "" {
		return d, true
	}
	e.publish(Update{Kind: UpdatePrompt, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: rec.TransactionAPIID, Prompt: reader.PromptRemoveCard})
	e.cardVersusGateway(rec, d)
	return d, true
}

// cardVersusGateway warns when the card declined a sale the gateway
// approved: the charge stands (the automatic void is not built yet).
func (e *Engine) cardVersusGateway(rec journal.Record, d reader.CardDecision) {
	if rec.Outcome != OutcomeApproved || d.Approved {
		return
	}
	e.log.Error("the chip card declined a sale the gateway approved: the charge stands and was NOT voided; void it by hand",
		"transaction_api_id", rec.TransactionAPIID, "transaction_id", rec.TransactionID, "cryptogram", d.Cryptogram)
	e.publish(Update{Kind: UpdateWarning, Code: CodeCardDeclinedAfterApproval, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: rec.TransactionAPIID,
		Warning: "the card declined the approved transaction at completion; the charge was not voided: void transaction " + rec.TransactionID + " from the history"})
}
