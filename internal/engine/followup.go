package engine

import (
	"context"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/sale"
)

// FollowUpRequest changes an earlier transaction: refund, void, complete (an
// authonly) or tip adjust. No card is needed.
type FollowUpRequest struct {
	ClientID string
	Origin   string
	// Action is refund, void, complete (authcomplete), tipadjust,
	// authincrement or partialreversal.
	Action        string
	TransactionID string // the gateway id of the earlier transaction
	// Amount: required for refund; the new total for tipadjust,
	// authincrement and partialreversal; optional
	// for complete (default: the authorized amount); not used for void.
	Amount           string
	TransactionAPIID string
	// OwnPage says the request comes from the agent's own page, which may
	// act on the cashier window's transactions too (MayAct).
	OwnPage bool
}

// FollowUp journals and sends a follow-up. The outcome arrives as updates
// and in the returned record's later journal state.
func (e *Engine) FollowUp(ctx context.Context, req FollowUpRequest) (sale.Result, error) {
	rec, err := e.followUp(ctx, req)
	return resultOf(&rec), err
}

func (e *Engine) followUp(ctx context.Context, req FollowUpRequest) (journal.Record, error) {
	if !e.life.enter() {
		return journal.Record{}, errorf(CodeInvalid, "the agent is shutting down")
	}
	defer e.life.leave()
	var action gateway.Action
	switch req.Action {
	case "refund":
		action = gateway.ActionRefund
	case "void":
		action = gateway.ActionVoid
	case "complete", "authcomplete":
		action = gateway.ActionAuthComplete
	case "tipadjust":
		action = gateway.ActionTipAdjust
	case "authincrement", "partialreversal": // actions.go
		action = gateway.Action(req.Action)
	default:
		return journal.Record{}, errorf(CodeInvalid, "action %q: use refund, void, complete, tipadjust, authincrement or partialreversal", req.Action)
	}
	if !e.gw.Capabilities().Actions[action] {
		return journal.Record{}, errorf(CodeUnsupported, "the %s gateway cannot %s", e.gw.Name(), action)
	}
	if err := checkText("transaction_id", req.TransactionID, 64); err != nil || req.TransactionID == "" {
		return journal.Record{}, errorf(CodeInvalid, "transaction_id: give the gateway id of the transaction to %s", req.Action)
	}
	var amount gateway.Amount
	var err error
	switch {
	case action == gateway.ActionRefund || action == gateway.ActionTipAdjust || changesAmount(action):
		if amount, err = parseAmount("amount", req.Amount, false); err != nil {
			return journal.Record{}, err
		}
	case action == gateway.ActionAuthComplete && req.Amount != "":
		if amount, err = parseAmount("amount", req.Amount, false); err != nil {
			return journal.Record{}, err
		}
	}
	apiID := req.TransactionAPIID
	if apiID == "" {
		apiID = e.cfg.NewID()
	} else if err := checkText("transaction_api_id", apiID, 36); err != nil {
		return journal.Record{}, err
	}
	if err := e.checkOwner(req); err != nil {
		return journal.Record{}, err
	}
	rec := journal.Record{
		TransactionAPIID: apiID, ClientID: req.ClientID, Origin: req.Origin, Action: string(action),
		OrigTransaction: req.TransactionID, State: sale.StatePending, Created: time.Now().UTC(),
	}
	if amount != 0 {
		rec.Amount = amount.String()
	}
	greq := gateway.Request{Action: action, Amount: amount, TransactionID: req.TransactionID}
	if action.CreatesTransaction() {
		greq.TransactionAPIID = apiID
	}
	if action == gateway.ActionAuthComplete {
		e.completeDetails(req.TransactionID, amount, &greq)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return journal.Record{}, errorf(CodeInvalid, "the agent is shutting down")
	}
	s, err := e.followUpLocked(rec, greq)
	e.mu.Unlock()
	if err != nil {
		return journal.Record{}, err
	}
	e.send(s)
	return rec, nil
}

// followUpLocked journals a follow-up and registers it; the caller sends
// it (e.send, without e.mu). The page's follow-ups and the engine's own
// voids of approvals a chip card declined (complete.go) both start here.
// Call with e.mu held.
func (e *Engine) followUpLocked(rec journal.Record, req gateway.Request) (*inflight, error) {
	// Durable before anything is sent: the intent, transaction_api_id and
	// all. Create checks the id is new in the same transaction, so of
	// two follow-ups with one id exactly one is recorded, and a record that
	// cannot be read is an error, never taken for "no record".
	prev, created, err := e.j.Create(rec)
	if err != nil {
		return nil, errorf(CodeJournal, "could not record the %s, nothing was sent: %v", req.Action, err)
	}
	if !created {
		return nil, duplicateIDError(rec.TransactionAPIID, rec.Origin, prev.Origin)
	}
	s := &inflight{rec: prev, req: req}
	e.byAPIID[rec.TransactionAPIID] = s
	e.log.Info("follow-up started", "transaction_api_id", rec.TransactionAPIID, "action", req.Action, "transaction_id", req.TransactionID, "reversal_of", rec.ReversalOf)
	return s, nil
}

// checkOwner refuses a follow-up on a transaction this agent made for
// someone the caller may not act for (MayAct). The refusal says no more
// than the caller sent: not whose it is, nor anything of it. A gateway id
// this journal does not hold (a sale of another lane, or made in the
// gateway's portal) is the gateway's to judge.
func (e *Engine) checkOwner(req FollowUpRequest) error {
	recs, err := e.j.ByTransactionID(req.TransactionID)
	if err != nil {
		return errorf(CodeJournal, "could not check who made transaction %q, nothing was sent: %v", req.TransactionID, err)
	}
	for _, r := range recs {
		// The record that created the transaction names its maker; a
		// void's record holds the same id but changed it.
		if gateway.Action(r.Action).CreatesTransaction() && !MayAct(req.Origin, req.OwnPage, r.Origin) {
			return errorf(CodeNotFound, "no transaction %q made from this page: %s it from the page that made it, or from the cashier's window", req.TransactionID, req.Action)
		}
	}
	return nil
}
