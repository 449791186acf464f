package engine

import (
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
)

// This file holds the Paya Connect actions beyond sale, authonly and the
// first follow-ups (docs/protocol.md "Force, AVS-only, increment and
// partial reversal"):
//
//   - force and avsonly read a card like a sale and create a transaction
//     (POST, resolved by transaction_api_id). A force is a sale the issuer
//     approved by phone: it carries the 6-character auth_code the cashier
//     was read out, and the card from the reader (the seed's table marks
//     the card fields C for force, the same as for a sale). An avsonly
//     checks the card and its billing address and moves no money: 0.00,
//     no tip, a billing zip.
//   - authincrement and partialreversal change an authorization or sale
//     (PUT on its id, resolved by looking it up): the amount is the new
//     total, more than the current one for an increment, less for a
//     reversal (the seed: transaction_amount "should always be the desired
//     settle amount").

// cardExtra is what a force or avsonly sends beside the card: kept in
// memory like the read (a proven-absent re-send needs it) and never
// journaled — an auth code is a voice approval for this card, and the
// billing address is the customer's.
type cardExtra struct {
	authCode string
	billing  gateway.Billing
}

// authCodeLen is the auth_code's length in the seed's table (min = max 6).
const authCodeLen = 6

// checkCardAction validates the fields of a force or avsonly before
// anything is journaled or the reader armed, and returns what goes beside
// the card. It refuses what the gateway cannot do as unsupported.
func (e *Engine) checkCardAction(action gateway.Action, req *SaleRequest) (cardExtra, error) {
	var x cardExtra
	if action != gateway.ActionForce && action != gateway.ActionAVSOnly {
		if req.AuthCode != "" || req.BillingZip != "" || req.BillingStreet != "" {
			return x, errorf(CodeInvalid, "auth_code, billing_zip and billing_street go with action force or avsonly only")
		}
		return x, nil
	}
	if !e.gw.Capabilities().Supports(action) {
		return x, errorf(CodeUnsupported, "the %s gateway cannot %s: nothing was started", e.gw.Name(), action)
	}
	if req.CardToken != "" {
		return x, errorf(CodeInvalid, "a %s takes the card from the reader: leave card_token out", action)
	}
	switch action {
	case gateway.ActionForce:
		if req.BillingZip != "" || req.BillingStreet != "" {
			return x, errorf(CodeInvalid, "billing_zip and billing_street go with avsonly, not force")
		}
		if len(req.AuthCode) != authCodeLen || !alnumOnly(req.AuthCode) {
			return x, errorf(CodeInvalid, "auth_code: give the %d letters and digits the card issuer read out on the phone", authCodeLen)
		}
		x.authCode = req.AuthCode
	case gateway.ActionAVSOnly:
		if req.AuthCode != "" {
			return x, errorf(CodeInvalid, "auth_code goes with force, not avsonly")
		}
		if req.TipAmount != "" {
			return x, errorf(CodeInvalid, "an avsonly moves no money: leave tip_amount out")
		}
		if a, err := gateway.ParseAmount(req.Amount); req.Amount != "" && (err != nil || a != 0) {
			return x, errorf(CodeInvalid, "an avsonly moves no money: leave amount out (or send \"0.00\")")
		}
		req.Amount = "0.00"
		zip := req.BillingZip
		if len(zip) < 4 || len(zip) > 12 || !postal(zip) {
			return x, errorf(CodeInvalid, "billing_zip: give the card's billing zip or postal code (4 to 12 letters, digits, spaces or dashes)")
		}
		if err := checkText("billing_street", req.BillingStreet, 32); err != nil {
			return x, err
		}
		x.billing = gateway.Billing{Street: req.BillingStreet, Zip: zip}
	}
	return x, nil
}

func alnumOnly(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func postal(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ' ' || c == '-') {
			return false
		}
	}
	return true
}

// changeActions are the follow-ups that set a new amount on an earlier
// transaction.
func changesAmount(a gateway.Action) bool {
	return a == gateway.ActionAuthIncrement || a == gateway.ActionPartialReversal
}

// changeVisible tells from the original transaction, looked up after an
// ambiguous failure, whether rec's change to it took effect. An increment
// or a partial reversal took effect when the transaction shows the new
// total (both gateways' lookups report the current amount), still
// approved; an increment to a total the transaction already has is refused
// by the gateway, so a second send can never add twice.
func changeVisible(rec journal.Record, res *gateway.Result) bool {
	a := gateway.Action(rec.Action)
	if !changesAmount(a) {
		return effectVisible(a, res)
	}
	want, err := gateway.ParseAmount(rec.Amount)
	return err == nil && res != nil && res.Approved() && res.StatusID != 201 && res.Status != "voided" && res.Amount == want
}
