package payaconnect

import (
	"context"
	"strings"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/payaconnect/payarules"
)

// Capabilities implements gateway.Gateway: Paya Connect takes every action
// of the transactions endpoint, encrypted card-present reads in all four
// e_formats, and ACH.
func (c *Client) Capabilities() gateway.Capabilities {
	return gateway.Capabilities{
		Gateway:              Name,
		Actions:              gateway.NewActionSet(gateway.Actions...),
		EncryptedCardPresent: true,
		Formats:              []card.Format{card.FormatIDTech, card.FormatMagneSafe, card.FormatKSN, card.FormatKSNPIN},
		ResolveByAPIID:       true,
		ACH:                  true,
		Limitations: []string{
			"e_serial_number holds at most 20 hex digits: a ksn or ksnpin read with a 24-digit AES DUKPT KSN is refused (idtech and magnesafe data carry their own KSN)",
			"avsonly is not available with all processors",
		},
	}
}

// precheckRead stands in for the card in Precheck: a well-formed envelope
// that carries no card data.
var precheckRead = &card.Read{Envelope: card.Envelope{Format: card.FormatKSN, Data: "precheck",
	KSN: card.KSN{0x90, 0x11, 0x88, 0x0B, 0x50, 0x66, 0x82, 0x00, 0x00, 0x01}}, EntryMode: card.EntrySwiped}

// Precheck implements gateway.Prechecker: the field rules of the request
// with a stand-in for the card that will be read.
func (c *Client) Precheck(req gateway.Request) error {
	if req.Read == nil && req.Token == "" {
		req.Read = precheckRead
	}
	t, err := c.BuildRequest(req)
	if err != nil {
		return err
	}
	if errs, missing := c.check(t); len(errs) > 0 {
		return refusal(string(req.Action), errs, missing)
	}
	return nil
}

// Do implements gateway.Gateway.
func (c *Client) Do(ctx context.Context, req gateway.Request) (*gateway.Result, error) {
	t, err := c.BuildRequest(req)
	if err != nil {
		return nil, err
	}
	var tx *Transaction
	if req.Action.CreatesTransaction() {
		tx, err = c.Create(ctx, t)
	} else {
		tx, err = c.Update(ctx, req.TransactionID, t)
	}
	if err != nil {
		return nil, err
	}
	return finish(req.Action, tx)
}

// finish normalizes a transaction and turns a decline or an unreadable
// status into its error class.
func finish(a gateway.Action, tx *Transaction) (*gateway.Result, error) {
	r := tx.Result()
	if a != "" {
		r.Action = a
	}
	switch r.Outcome {
	case gateway.OutcomeDeclined:
		return r, &gateway.Error{Class: gateway.Declined, Gateway: Name, Op: string(a), Result: r,
			Message: "status " + r.Status + ", reason " + itoa(r.ReasonCode), TransactionAPIID: r.TransactionAPIID}
	case gateway.OutcomeError:
		// The gateway answered but with a status this client does not know:
		// whether money moved is unknown.
		return r, &gateway.Error{Class: gateway.Ambiguous, Gateway: Name, Op: string(a), Result: r,
			Message: "unknown status_id " + r.Status, TransactionAPIID: r.TransactionAPIID}
	}
	return r, nil
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// Lookup implements gateway.Gateway.
func (c *Client) Lookup(ctx context.Context, id string) (*gateway.Result, error) {
	tx, err := c.GetTransaction(ctx, id)
	if err != nil {
		return nil, err
	}
	return tx.Result(), nil
}

// Resolve implements gateway.Gateway.
func (c *Client) Resolve(ctx context.Context, transactionAPIID string) (*gateway.Result, error) {
	tx, err := c.FindByAPIID(ctx, transactionAPIID)
	if err != nil {
		return nil, err
	}
	return tx.Result(), nil
}

// BuildRequest maps a normalized request onto the transactions endpoint's
// fields. Location and product transaction ids come from the options and
// go only on POSTs (the table allows neither on a PUT).
func (c *Client) BuildRequest(req gateway.Request) (*TransactionRequest, error) {
	a := req.Action
	if !payarules.Known(string(a)) || a == ActionEdit {
		return nil, &gateway.Error{Class: gateway.Invalid, Kind: gateway.ErrUnsupported, Gateway: Name, Op: string(a),
			Message: "unknown action"}
	}
	if errs := req.CardDataFields(); len(errs) > 0 {
		return nil, invalid(string(a), "request refused: a text field holds card data", errs)
	}
	t := &TransactionRequest{Action: string(a)}
	amount := ""
	if req.Amount != 0 {
		amount = req.Amount.String()
	}
	if !a.CreatesTransaction() {
		// PUT: the id is in the path; the body says what changes.
		switch a {
		case gateway.ActionAuthIncrement, gateway.ActionPartialReversal, gateway.ActionTipAdjust, gateway.ActionAuthComplete:
			t.TransactionAmount = amount
		}
		t.Description = req.Description
		if a == gateway.ActionTipAdjust {
			t.Description = "" // the table allows only the amount (and tags) on tipadjust
		}
		if a == gateway.ActionAuthComplete {
			t.setSettingsFields(req)
		}
		return t, nil
	}
	t.PaymentMethod = "cc"
	t.TransactionAmount = amount
	t.LocationID = c.opts.LocationID
	t.ProductTransactionID = c.opts.ProductTransactionID
	t.TransactionAPIID = req.TransactionAPIID
	t.OrderNum = req.OrderNum
	t.Description = req.Description
	t.BillingStreet = req.Billing.Street
	t.BillingZip = req.Billing.Zip
	if a == gateway.ActionForce {
		t.AuthCode = req.AuthCode
	}
	t.setSettingsFields(req)
	// An earlier transaction is the account source when nothing else is:
	// a refund of a sale, an ACH credit of a debit, a sale "run again".
	hasAccount := req.Read != nil || req.Token != "" || req.ACH != nil && req.ACH.AccountNumber != ""
	if a == gateway.ActionRefund || !hasAccount {
		t.PreviousTransactionID = req.TransactionID
	}
	if req.Token != "" {
		t.AccountVaultID = req.Token
	}
	if r := req.Read; r != nil {
		if err := c.checkRead(a, r); err != nil {
			return nil, err
		}
		t.EFormat = string(r.Envelope.Format)
		t.EncTrackData = r.Envelope.Data
		// e_serial_number is the KSN, at most 20 hex digits. idtech and
		// magnesafe data carry their own KSN (the sandbox checks that a
		// serial sent beside it is that one), so a 24-digit AES KSN stays
		// out; ksn and ksnpin have nowhere else for it, and such a read is
		// refused by the field's length before sending.
		if k := r.Envelope.KSN.String(); k != "" && (len(k) <= payarules.Fields["e_serial_number"].Max ||
			r.Envelope.Format == card.FormatKSN || r.Envelope.Format == card.FormatKSNPIN) {
			t.ESerialNumber = k
		}
		t.EntryModeID = string(r.EntryMode)
		t.TerminalSerialNumber = r.Device.Serial
		if a == gateway.ActionRefund {
			t.PreviousTransactionID = "" // a card-present refund goes to the card read
		}
	}
	if ach := req.ACH; ach != nil || a == gateway.ActionDebit || a == gateway.ActionCredit {
		t.PaymentMethod = "ach"
		if ach != nil {
			t.AccountHolderName = ach.HolderName
			t.AccountType = strings.ToLower(ach.AccountType)
			t.AccountNumber = ach.AccountNumber
			t.Routing = ach.Routing
			t.ACHSECCode = strings.ToUpper(ach.SECCode)
		}
		t.BillingStreet, t.BillingZip = req.Billing.Street, req.Billing.Zip
	}
	return t, nil
}

// checkRead refuses reads the gateway must not get.
func (c *Client) checkRead(a gateway.Action, r *card.Read) error {
	fail := func(field, msg string) error {
		return &gateway.Error{Class: gateway.Invalid, Gateway: Name, Op: string(a),
			Message: "card read cannot be sent", Fields: []gateway.FieldError{{Field: field, Message: msg}}}
	}
	switch {
	case !r.Envelope.Format.Valid():
		return fail("e_format", "unknown envelope format")
	case r.Envelope.Data == "":
		return fail("e_track_data", "empty: the reader sent no encrypted data")
	case r.EntryMode != "" && !r.EntryMode.Valid():
		return fail("entry_mode_id", "unknown entry mode")
	case r.Envelope.KSN.IsTestKey() && gateway.LiveHost(c.base.String()) != "":
		return fail("e_serial_number", "the reader is loaded with the public test key; its reads are refused on the live gateway "+gateway.LiveHost(c.base.String()))
	}
	return nil
}

// setSettingsFields copies the fields merchant settings require (amount
// breakdown, lodging stay) as given; the field table refuses them on an
// action whose column marks them N.
func (t *TransactionRequest) setSettingsFields(req gateway.Request) {
	str := func(a *gateway.Amount) string {
		if a == nil {
			return ""
		}
		return a.String()
	}
	t.SubtotalAmount, t.SurchargeAmount, t.Tax = str(req.Subtotal), str(req.Surcharge), str(req.Tax)
	t.CheckinDate, t.CheckoutDate, t.RoomRate = req.CheckinDate, req.CheckoutDate, str(req.RoomRate)
}
