package payaconnect

import (
	"slices"
	"strings"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/payaconnect/payarules"
)

// ActionEdit changes a transaction's description or tags (PUT).
const ActionEdit gateway.Action = "edit"

// validate checks t against the seed's field table (payarules, the same
// rules the embedded sandbox enforces) and the conditional rules below, and
// returns the field errors, sorted by field. Messages name the field and
// the rule, never the value.
func validate(t *TransactionRequest) []gateway.FieldError {
	a := gateway.Action(t.Action)
	values := map[string]string{}
	present := map[string]bool{}
	for _, f := range t.fields() {
		if f.value != "" {
			values[f.name] = f.value
			present[f.name] = true
		}
	}
	var errs []gateway.FieldError
	for _, v := range payarules.Check(!payarules.Create(t.Action), values) {
		errs = append(errs, gateway.FieldError{Field: v.Field, Message: v.Message})
	}
	if !payarules.Known(t.Action) {
		return errs
	}
	errs = append(errs, conditional(t, a, present)...)
	slices.SortStableFunc(errs, func(x, y gateway.FieldError) int { return strings.Compare(x.Field, y.Field) })
	return errs
}

// check is validate and the fields the product's known merchant settings
// require, sorted by field; missing tells that one of those is absent.
func (c *Client) check(t *TransactionRequest) (errs []gateway.FieldError, missing bool) {
	errs = validate(t)
	more, missing := c.settingsErrors(t)
	if len(more) > 0 {
		errs = append(errs, more...)
		slices.SortStableFunc(errs, func(x, y gateway.FieldError) int { return strings.Compare(x.Field, y.Field) })
	}
	return errs, missing
}

// conditional holds the table's C rules, as its comments state them; the
// formats and per-action marks are payarules'.
func conditional(t *TransactionRequest, a gateway.Action, present map[string]bool) []gateway.FieldError {
	var errs []gateway.FieldError
	add := func(field, msg string) { errs = append(errs, gateway.FieldError{Field: field, Message: msg}) }
	ach := t.PaymentMethod == "ach"
	if (a == gateway.ActionDebit || a == gateway.ActionCredit) && t.PaymentMethod != "" && !ach {
		add("payment_method", "must be \"ach\" for action "+string(a))
	}
	if t.TransactionAmount != "" {
		v, err := gateway.ParseAmount(t.TransactionAmount)
		switch {
		case err != nil:
			add("transaction_amount", "not a decimal amount with at most two decimals")
		case v < 0:
			add("transaction_amount", "must not be negative")
		case v == 0 && a != gateway.ActionAVSOnly && a != gateway.ActionVoid:
			add("transaction_amount", "must be greater than zero")
		}
	}
	// A new card transaction needs exactly one source of the account.
	switch a {
	case gateway.ActionSale, gateway.ActionAuthOnly, gateway.ActionAVSOnly, gateway.ActionForce, gateway.ActionRefund,
		gateway.ActionDebit, gateway.ActionCredit:
		sources := 0
		for _, f := range []string{"account_number", "account_vault_id", "track_data", "e_track_data", "previous_transaction_id"} {
			if present[f] {
				sources++
			}
		}
		switch {
		case sources == 0:
			add("account_number", "one of account_number, account_vault_id, track_data, e_track_data or previous_transaction_id is required for action "+string(a))
		case sources > 1:
			add("account_number", "give only one of account_number, account_vault_id, track_data, e_track_data, previous_transaction_id")
		}
	}
	if present["e_track_data"] != present["e_format"] {
		add("e_format", "e_format and e_track_data go together")
	}
	if (t.EFormat == string(card.FormatKSN) || t.EFormat == string(card.FormatKSNPIN)) && t.ESerialNumber == "" {
		add("e_serial_number", "required with e_format "+t.EFormat+": its track data carries no KSN")
	}
	if !ach && present["account_number"] && !present["exp_date"] && a != gateway.ActionRefund {
		add("exp_date", "required with a keyed card number")
	}
	if ach {
		if t.ACHSECCode == "" {
			add("ach_sec_code", "required for ACH transactions")
		}
		if t.ProductTransactionID == "" {
			add("product_transaction_id", "required for ACH transactions")
		}
		if t.AccountVaultID == "" && t.PreviousTransactionID == "" {
			if t.AccountHolderName == "" {
				add("account_holder_name", "required for ACH without account_vault_id")
			}
			if t.Routing == "" {
				add("routing", "required for ACH without account_vault_id")
			}
			if t.AccountType == "" {
				add("account_type", "required for ACH without account_vault_id")
			}
		}
		if t.AccountNumber != "" && !isDigits(t.AccountNumber) {
			add("account_number", "must be digits")
		}
	} else if t.AccountNumber != "" && (len(t.AccountNumber) < 13 || !isDigits(t.AccountNumber)) {
		add("account_number", "a card number is 13 to 19 digits")
	}
	return errs
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
