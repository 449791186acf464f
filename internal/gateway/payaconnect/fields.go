package payaconnect

import (
	"slices"
	"strconv"
	"strings"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
)

// ActionEdit changes a transaction's contact, description or tags (PUT).
const ActionEdit gateway.Action = "edit"

// Requirement of a field for an action, as the seed's field table spells it.
const (
	reqRequired    = 'R'
	reqOptional    = 'O'
	reqConditional = 'C'
	reqNot         = 'N' // N and N/A: the field must not be sent
)

// columns is the order of the action columns of the seed's field table.
// avsonly has no column; it follows authonly (the seed's avsonly example
// sends the same card and billing fields) except for the amount.
var columns = []gateway.Action{
	gateway.ActionSale, gateway.ActionRefund, gateway.ActionVoid, gateway.ActionPartialReversal,
	gateway.ActionAuthOnly, gateway.ActionAuthComplete, gateway.ActionAuthIncrement, gateway.ActionForce,
	gateway.ActionTipAdjust, gateway.ActionDebit, gateway.ActionCredit, ActionEdit,
}

func column(a gateway.Action) int {
	if a == gateway.ActionAVSOnly {
		a = gateway.ActionAuthOnly
	}
	return slices.Index(columns, a)
}

// rule is one row of the field table: lengths and the per-action column
// ("" when the table gives none: then the field is allowed everywhere).
type rule struct {
	min, max int
	actions  string // 12 letters in columns order: R O C N
}

// rules restates the seed's field table (002, Transactions Endpoint) for the
// fields this client sends. The e_* and entry fields have no columns in the
// table; they carry card data, so they go where track_data may.
var rules = map[string]rule{
	"account_holder_name":        {0, 32, "OOOOOOOONCCN"},
	"account_number":             {4, 19, "CCNNCNNCNCCN"},
	"account_type":               {1, 32, "NNNNNNNNNCCN"},
	"account_vault_id":           {0, 36, "CCNNCNNCNCCN"},
	"ach_identifier":             {1, 1, "NNNNNNNNNCCN"},
	"ach_sec_code":               {3, 3, "NCNNNNNNNCCN"},
	"action":                     {0, 24, ""},
	"auth_code":                  {6, 6, "NNNNNNNRNNNN"},
	"billing_city":               {0, 36, "OONNONNONOON"},
	"billing_phone":              {0, 10, "OONNONNONOON"},
	"billing_state":              {0, 26, "OONNONNONOON"},
	"billing_street":             {0, 32, "CCNNCNNCNOON"},
	"billing_zip":                {4, 12, "CCNNCNNCNOON"},
	"check_number":               {1, 15, "NNNNNNNNNCCN"},
	"clerk_number":               {0, 16, ""},
	"contact_id":                 {0, 36, "OONNONNONOON"},
	"customer_id":                {0, 64, ""},
	"cvv":                        {0, 4, "CCNNCNNCNNNN"},
	"description":                {0, 64, "OOOOOOOONOOO"},
	"dl_number":                  {1, 50, "NNNNNNNNNCCN"},
	"dl_state":                   {2, 2, "NNNNNNNNNCCN"},
	"dob_year":                   {4, 4, "NNNNNNNNNCCN"},
	"e_format":                   {0, 9, "CCNNCNNCNNNN"},
	"e_serial_number":            {0, 20, "CCNNCNNCNNNN"},
	"e_track_data":               {0, 0, "CCNNCNNCNNNN"},
	"effective_date":             {0, 10, "NNNNNNNNNOON"},
	"entry_mode_id":              {0, 1, "OONNONNONNNN"},
	"exp_date":                   {4, 4, "CCNNCCCCNNNN"},
	"location_id":                {24, 36, "OONNONNONOON"},
	"notification_email_address": {0, 0, "OOOOOOOONOON"},
	"order_num":                  {0, 32, "OONNOOOONOON"},
	"payment_method":             {0, 0, "RRNNROORNRRN"},
	"po_number":                  {0, 24, ""},
	"previous_transaction_id":    {0, 36, "CCNNCNNCNCCN"},
	"product_transaction_id":     {0, 36, "OONNONNONOON"},
	"routing":                    {0, 9, "NNNNNNNNNCCN"},
	"ssn4":                       {4, 4, "NNNNNNNNNCCN"},
	"terminal_serial_number":     {0, 24, "OONNONNONNNN"},
	"track_data":                 {0, 256, "CCNNCNNCNNNN"},
	"transaction_amount":         {0, 10, "RRORRORRRRRN"},
	"transaction_api_id":         {0, 64, "OOOOOOOONOON"},
	"transaction_c1":             {0, 128, ""},
	"transaction_c2":             {0, 128, ""},
	"transaction_c3":             {0, 128, ""},
}

// validate checks t against the field table for its action and returns the
// field errors, sorted by field. Messages name the field and the rule,
// never the value.
func validate(t *TransactionRequest) []gateway.FieldError {
	var errs []gateway.FieldError
	add := func(field, msg string) { errs = append(errs, gateway.FieldError{Field: field, Message: msg}) }
	a := gateway.Action(t.Action)
	col := column(a)
	if col < 0 {
		add("action", "unknown action "+strconv.Quote(string(a)))
		return errs
	}
	present := map[string]bool{}
	for _, f := range t.fields() {
		if f.value == "" {
			continue
		}
		present[f.name] = true
		r, ok := rules[f.name]
		if !ok {
			continue
		}
		n := len(f.value)
		if r.max > 0 && n > r.max {
			add(f.name, "at most "+strconv.Itoa(r.max)+" characters, got "+strconv.Itoa(n))
		} else if r.min > 0 && n < r.min {
			add(f.name, "at least "+strconv.Itoa(r.min)+" characters, got "+strconv.Itoa(n))
		}
		if r.actions != "" && r.actions[col] == reqNot {
			add(f.name, "not allowed for action "+string(a))
		}
	}
	for name, r := range rules {
		if r.actions != "" && r.actions[col] == reqRequired && !present[name] {
			if a == gateway.ActionAVSOnly && name == "transaction_amount" {
				continue // an avsonly moves no money
			}
			add(name, "required for action "+string(a))
		}
	}
	errs = append(errs, conditional(t, a, present)...)
	slices.SortStableFunc(errs, func(x, y gateway.FieldError) int { return strings.Compare(x.Field, y.Field) })
	return errs
}

// conditional holds the table's C rules and value formats, as its comments
// state them.
func conditional(t *TransactionRequest, a gateway.Action, present map[string]bool) []gateway.FieldError {
	var errs []gateway.FieldError
	add := func(field, msg string) { errs = append(errs, gateway.FieldError{Field: field, Message: msg}) }
	ach := t.PaymentMethod == "ach"
	if t.PaymentMethod != "" && t.PaymentMethod != "cc" && !ach {
		add("payment_method", `must be "cc" or "ach"`)
	}
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
	if t.EFormat != "" && !card.Format(t.EFormat).Valid() {
		add("e_format", "must be one of ksn, ksnpin, idtech, magnesafe")
	}
	if (t.EFormat == string(card.FormatKSN) || t.EFormat == string(card.FormatKSNPIN)) && t.ESerialNumber == "" {
		add("e_serial_number", "required with e_format "+t.EFormat+": its track data carries no KSN")
	}
	if t.ESerialNumber != "" && !isHex(t.ESerialNumber) {
		add("e_serial_number", "must be hex")
	}
	if t.EntryModeID != "" && !strings.Contains("SKCPFB", t.EntryModeID) {
		add("entry_mode_id", "must be one of S, K, C, P, F, B")
	}
	if !ach && present["account_number"] && !present["exp_date"] && a != gateway.ActionRefund {
		add("exp_date", "required with a keyed card number")
	}
	if t.ExpDate != "" && (!isDigits(t.ExpDate) || t.ExpDate[:2] < "01" || t.ExpDate[:2] > "12") {
		add("exp_date", "must be MMYY")
	}
	if t.AuthCode != "" && !isAlnum(t.AuthCode) {
		add("auth_code", "letters and digits only")
	}
	if t.OrderNum != "" && !isAlnum(t.OrderNum) {
		add("order_num", "letters and digits only, no special characters")
	}
	if t.PONumber != "" && !isAlnum(t.PONumber) {
		add("po_number", "letters and digits only, no special characters")
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
		if t.AccountType != "" && t.AccountType != "checking" && t.AccountType != "savings" {
			add("account_type", `must be "checking" or "savings"`)
		}
		if t.Routing != "" && (len(t.Routing) != 9 || !isDigits(t.Routing)) {
			add("routing", "must be 9 digits")
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

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
