package engine

import (
	"net/mail"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/sale"
)

// maxCardTokenLen bounds a card token (PaidYET card tokens, Paya Connect
// account_vault_ids): both are short ids.
const maxCardTokenLen = 64

// startTokenSale runs a sale or authonly on a stored card (req.CardToken):
// no reader and no card; the request is journaled, then sent at once. The
// token is sent to the gateway and kept in memory for one re-send after a
// proven absence; it is never journaled, logged or echoed, because a
// PaidYET token charges the card at any merchant.
func (e *Engine) startTokenSale(req SaleRequest, action gateway.Action, amount, tip gateway.Amount) (journal.Record, error) {
	if err := checkText("card_token", req.CardToken, maxCardTokenLen); err != nil {
		return journal.Record{}, err
	}
	for _, c := range req.CardToken {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return journal.Record{}, errorf(CodeInvalid, "card_token: letters, digits, '_', '-' and '.' only (the token the gateway returned when the card was stored)")
		}
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return journal.Record{}, errorf(CodeInvalid, "the agent is shutting down")
	}
	if e.paused {
		e.mu.Unlock()
		return journal.Record{}, errorf(CodePaused, "the cashier paused new sales at the counter: resume from the posagent window or tray")
	}
	apiID := req.TransactionAPIID
	if apiID == "" {
		apiID = e.cfg.NewID()
	} else if err := checkText("transaction_api_id", apiID, 36); err != nil {
		e.mu.Unlock()
		return journal.Record{}, err
	}
	rec := journal.Record{
		TransactionAPIID: apiID, ClientID: req.ClientID, Origin: req.Origin, Action: string(action),
		Amount: amount.String(), OrderNum: req.OrderNum, Description: req.Description,
		State: sale.StatePending, Created: time.Now().UTC(),
	}
	if tip != 0 {
		rec.TipAmount = tip.String()
	}
	// Durable before anything is sent: the intent, transaction_api_id and
	// all. One transaction checks that the id is new and records the sale:
	// a record that cannot be read is an error, never taken for "no record".
	prev, created, err := e.j.Create(rec)
	if err != nil {
		e.mu.Unlock()
		return journal.Record{}, errorf(CodeJournal, "could not record the sale, nothing was sent: %v", err)
	}
	if !created {
		e.mu.Unlock()
		return journal.Record{}, duplicateIDError(apiID, req.Origin, prev.Origin)
	}
	rec = prev
	s := &inflight{rec: rec, req: gateway.Request{Action: action, Amount: amount + tip, TransactionAPIID: apiID,
		OrderNum: req.OrderNum, Description: req.Description, Token: req.CardToken,
		ReceiptEmail: req.ReceiptEmail, ReceiptPhone: req.ReceiptPhone}}
	e.byAPIID[apiID] = s
	e.mu.Unlock()
	e.log.Info("stored-card sale started", "transaction_api_id", apiID, "action", action, "amount", rec.Amount)
	e.step(StepPending, apiID)
	e.publish(sale.Update{Kind: sale.UpdatePrompt, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: apiID, Prompt: sale.PromptProcessing})
	e.send(s)
	return rec, nil
}

// checkReceipt validates the receipt fields: a gateway that sends no
// receipts refuses them (rather than dropping them silently), and an
// address or number that cannot be one is refused before anything starts.
// They are kept in memory for the request only, never journaled.
func (e *Engine) checkReceipt(req SaleRequest) error {
	if req.ReceiptEmail == "" && req.ReceiptPhone == "" {
		return nil
	}
	if !e.gw.Capabilities().Receipts {
		return errorf(CodeUnsupported, "the %s gateway sends no receipts by email or SMS: leave receipt_email and receipt_phone out", e.gw.Name())
	}
	if m := req.ReceiptEmail; m != "" {
		a, err := mail.ParseAddress(m)
		if err != nil || a.Address != m || len(m) > 100 {
			return errorf(CodeInvalid, "receipt_email %q is not an address like name@example.com", m)
		}
	}
	if p := req.ReceiptPhone; p != "" {
		digits := strings.TrimPrefix(p, "+")
		if len(digits) < 7 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" {
			return errorf(CodeInvalid, "receipt_phone: 7 to 15 digits, optionally after a '+', e.g. 5555555555")
		}
		if err := checkText("receipt_phone", p, 16); err != nil {
			return err
		}
	}
	return nil
}
