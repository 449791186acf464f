package payaconnect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
)

// TransactionRequest is the body of a POST or PUT to the transactions
// endpoint (inside {"transaction": ...}). Field names are the API's. Only
// what this client has a use for is here; every field is validated against
// the seed's table for the action before sending.
//
// It can hold card data (EncTrackData, AccountNumber, CVV): it is never
// logged; LogValue prints ids and the amount only.
type TransactionRequest struct {
	Action                string `json:"action"`
	PaymentMethod         string `json:"payment_method,omitempty"`
	TransactionAmount     string `json:"transaction_amount,omitempty"`
	LocationID            string `json:"location_id,omitempty"`
	ProductTransactionID  string `json:"product_transaction_id,omitempty"`
	PreviousTransactionID string `json:"previous_transaction_id,omitempty"`
	TransactionAPIID      string `json:"transaction_api_id,omitempty"`
	OrderNum              string `json:"order_num,omitempty"`
	Description           string `json:"description,omitempty"`
	ClerkNumber           string `json:"clerk_number,omitempty"`
	PONumber              string `json:"po_number,omitempty"`
	CustomerID            string `json:"customer_id,omitempty"`
	ContactID             string `json:"contact_id,omitempty"`
	NotificationEmail     string `json:"notification_email_address,omitempty"`

	// Encrypted card-present read, forwarded unchanged.
	EFormat              string `json:"e_format,omitempty"`
	EncTrackData         string `json:"e_track_data,omitempty"`
	ESerialNumber        string `json:"e_serial_number,omitempty"`
	EntryModeID          string `json:"entry_mode_id,omitempty"`
	TerminalSerialNumber string `json:"terminal_serial_number,omitempty"`

	AccountVaultID    string `json:"account_vault_id,omitempty"`
	AccountNumber     string `json:"account_number,omitempty"`
	ExpDate           string `json:"exp_date,omitempty"`
	CVV               string `json:"cvv,omitempty"`
	TrackData         string `json:"track_data,omitempty"`
	AccountHolderName string `json:"account_holder_name,omitempty"`
	AuthCode          string `json:"auth_code,omitempty"`

	BillingStreet string `json:"billing_street,omitempty"`
	BillingZip    string `json:"billing_zip,omitempty"`
	BillingCity   string `json:"billing_city,omitempty"`
	BillingState  string `json:"billing_state,omitempty"`
	BillingPhone  string `json:"billing_phone,omitempty"`

	// ACH.
	AccountType   string `json:"account_type,omitempty"`
	Routing       string `json:"routing,omitempty"`
	ACHSECCode    string `json:"ach_sec_code,omitempty"`
	ACHIdentifier string `json:"ach_identifier,omitempty"`
	CheckNumber   string `json:"check_number,omitempty"`
	EffectiveDate string `json:"effective_date,omitempty"`
	DOBYear       string `json:"dob_year,omitempty"`
	SSN4          string `json:"ssn4,omitempty"`
	DLNumber      string `json:"dl_number,omitempty"`
	DLState       string `json:"dl_state,omitempty"`

	// What a product's merchant settings require (payarules.Settings).
	SubtotalAmount  string `json:"subtotal_amount,omitempty"`
	SurchargeAmount string `json:"surcharge_amount,omitempty"`
	Tax             string `json:"tax,omitempty"`
	CheckinDate     string `json:"checkin_date,omitempty"`
	CheckoutDate    string `json:"checkout_date,omitempty"`
	RoomRate        string `json:"room_rate,omitempty"`
}

type field struct{ name, value string }

// fields lists the request's fields for validation, by API name.
func (t *TransactionRequest) fields() []field {
	return []field{
		{"action", t.Action}, {"payment_method", t.PaymentMethod}, {"transaction_amount", t.TransactionAmount},
		{"location_id", t.LocationID}, {"product_transaction_id", t.ProductTransactionID},
		{"previous_transaction_id", t.PreviousTransactionID}, {"transaction_api_id", t.TransactionAPIID},
		{"order_num", t.OrderNum}, {"description", t.Description}, {"clerk_number", t.ClerkNumber},
		{"po_number", t.PONumber}, {"customer_id", t.CustomerID}, {"contact_id", t.ContactID},
		{"notification_email_address", t.NotificationEmail},
		{"e_format", t.EFormat}, {"e_track_data", t.EncTrackData}, {"e_serial_number", t.ESerialNumber},
		{"entry_mode_id", t.EntryModeID}, {"terminal_serial_number", t.TerminalSerialNumber},
		{"account_vault_id", t.AccountVaultID}, {"account_number", t.AccountNumber}, {"exp_date", t.ExpDate},
		{"cvv", t.CVV}, {"track_data", t.TrackData}, {"account_holder_name", t.AccountHolderName},
		{"auth_code", t.AuthCode},
		{"billing_street", t.BillingStreet}, {"billing_zip", t.BillingZip}, {"billing_city", t.BillingCity},
		{"billing_state", t.BillingState}, {"billing_phone", t.BillingPhone},
		{"account_type", t.AccountType}, {"routing", t.Routing}, {"ach_sec_code", t.ACHSECCode},
		{"ach_identifier", t.ACHIdentifier}, {"check_number", t.CheckNumber},
		{"effective_date", t.EffectiveDate}, {"dob_year", t.DOBYear}, {"ssn4", t.SSN4},
		{"dl_number", t.DLNumber}, {"dl_state", t.DLState},
		{"subtotal_amount", t.SubtotalAmount}, {"surcharge_amount", t.SurchargeAmount}, {"tax", t.Tax},
		{"checkin_date", t.CheckinDate}, {"checkout_date", t.CheckoutDate}, {"room_rate", t.RoomRate},
	}
}

// LogValue prints what is safe: the action, amount and ids.
func (t TransactionRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("action", t.Action),
		slog.String("transaction_amount", t.TransactionAmount),
		slog.String("transaction_api_id", t.TransactionAPIID),
		slog.String("e_format", t.EFormat),
		slog.Int("e_track_data_len", len(t.EncTrackData)),
	)
}

// Transaction is a transaction record as the API returns it. Numbers that
// the reference shows both as JSON numbers and as strings decode from either.
type Transaction struct {
	ID                   string          `json:"id"`
	PaymentMethod        string          `json:"payment_method"`
	AccountVaultID       string          `json:"account_vault_id"`
	FirstSix             string          `json:"first_six"`
	LastFour             string          `json:"last_four"`
	TransactionAmount    gateway.Amount  `json:"transaction_amount"`
	AuthAmount           gateway.Amount  `json:"auth_amount"`
	TipAmount            gateway.Amount  `json:"tip_amount"`
	AuthCode             string          `json:"auth_code"`
	Auth                 string          `json:"auth"` // older responses name the auth code "auth"
	StatusID             flexInt         `json:"status_id"`
	TypeID               flexInt         `json:"type_id"`
	ReasonCodeID         flexInt         `json:"reason_code_id"`
	Verbiage             string          `json:"verbiage"`
	ResponseMessage      string          `json:"response_message"`
	OrderNum             string          `json:"order_num"`
	TransactionAPIID     string          `json:"transaction_api_id"`
	LocationID           string          `json:"location_id"`
	ProductTransactionID string          `json:"product_transaction_id"`
	EntryModeID          string          `json:"entry_mode_id"`
	AccountType          string          `json:"account_type"`
	AVS                  string          `json:"avs"`
	AVSEnhanced          string          `json:"avs_enhanced"`
	CVVResponse          string          `json:"cvv_response"`
	TerminalSerialNumber string          `json:"terminal_serial_number"`
	Routing              string          `json:"routing"`
	ACHSECCode           string          `json:"ach_sec_code"`
	CreatedTS            flexInt         `json:"created_ts"`
	EMVReceiptData       json.RawMessage `json:"emv_receipt_data"`
}

// flexInt decodes a JSON number or a string of digits; null is zero.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" || s == `""` {
		*f = 0
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Some fields (timestamps) arrive as "1421951096.0" in old samples.
		fv, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || fv != fv || fv > 1<<53 || fv < -(1<<53) {
			return fmt.Errorf("not an integer: %.20q", s)
		}
		v = int64(fv)
	}
	*f = flexInt(v)
	return nil
}

// Status ids of the transactions endpoint.
const (
	StatusSaleApproved     = 101
	StatusAuthOnlyApproved = 102
	StatusRefunded         = 111
	StatusAVSOnly          = 121
	StatusACHPending       = 131
	StatusACHOriginating   = 132
	StatusACHOriginated    = 133
	StatusACHSettled       = 134
	StatusACHReserved      = 135
	StatusACHRejected      = 136
	StatusSettled          = 191
	StatusVoided           = 201
	StatusDeclined         = 301
	StatusChargedBack      = 331
)

// Type ids.
const (
	TypeSale    = 20
	TypeAVSOnly = 21
	TypeRefund  = 30
	TypeCredit  = 40
	TypeDebit   = 50
)

// outcome maps status_id to the normalized outcome. Approval is decided by
// status_id only, never by verbiage.
func outcome(status int) gateway.Outcome {
	switch status {
	case StatusSaleApproved, StatusAuthOnlyApproved, StatusRefunded, StatusAVSOnly,
		StatusACHPending, StatusACHOriginating, StatusACHOriginated, StatusACHSettled, StatusACHReserved,
		StatusSettled, StatusVoided, StatusChargedBack:
		return gateway.OutcomeApproved
	case StatusDeclined, StatusACHRejected:
		return gateway.OutcomeDeclined
	}
	return gateway.OutcomeError
}

func actionOf(t *Transaction) gateway.Action {
	switch int(t.TypeID) {
	case TypeSale:
		if t.StatusID == StatusAuthOnlyApproved {
			return gateway.ActionAuthOnly
		}
		return gateway.ActionSale
	case TypeAVSOnly:
		return gateway.ActionAVSOnly
	case TypeRefund:
		return gateway.ActionRefund
	case TypeCredit:
		return gateway.ActionCredit
	case TypeDebit:
		return gateway.ActionDebit
	}
	return ""
}

// createdAt is created_ts (unix seconds; 0 when absent) as a time.
func createdAt(ts int64) time.Time {
	if ts <= 0 {
		return time.Time{}
	}
	return time.Unix(ts, 0).UTC()
}

// Result normalizes the record. Gateway text is redacted.
func (t *Transaction) Result() *gateway.Result {
	r := &gateway.Result{
		Gateway:          Name,
		ID:               t.ID,
		TransactionAPIID: t.TransactionAPIID,
		Action:           actionOf(t),
		Outcome:          outcome(int(t.StatusID)),
		Status:           strconv.FormatInt(int64(t.StatusID), 10),
		StatusID:         int(t.StatusID),
		ReasonCode:       int(t.ReasonCodeID),
		TypeID:           int(t.TypeID),
		AuthCode:         t.AuthCode,
		Amount:           t.TransactionAmount,
		AuthAmount:       t.AuthAmount,
		TipAmount:        t.TipAmount,
		EntryMode:        card.EntryMode(t.EntryModeID),
		OrderNum:         t.OrderNum,
		AVS:              t.AVS,
		CVV:              t.CVVResponse,
		Verbiage:         card.RedactPANs(t.Verbiage),
		Receipt:          decodeReceipt(t.EMVReceiptData),
		Created:          createdAt(int64(t.CreatedTS)),
	}
	if r.AuthCode == "" {
		r.AuthCode = t.Auth
	}
	if t.LastFour != "" || t.FirstSix != "" {
		// The API reports first six and last four; the digits between are
		// unknown, so the mask length is nominal.
		r.MaskedPAN = card.MaskFromReader(t.FirstSix + "******" + t.LastFour)
		r.LastFour = r.MaskedPAN.LastFour()
	}
	r.Brand = card.Brand(t.AccountType)
	if t.PaymentMethod == "ach" || r.Brand == "checking" || r.Brand == "savings" {
		r.Brand = ""
	}
	if r.Brand == "" && t.PaymentMethod != "ach" {
		r.Brand = r.MaskedPAN.Brand()
	}
	return r
}

// decodeReceipt reads emv_receipt_data, which the reference shows as an
// object and describes as a string of JSON; anything else is ignored: a
// receipt is nice to have, never a reason to fail a transaction.
func decodeReceipt(raw json.RawMessage) card.Receipt {
	var rc card.Receipt
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return rc
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return rc
		}
		raw = []byte(s)
	}
	if json.Unmarshal(raw, &rc) != nil {
		return card.Receipt{}
	}
	return rc
}

// ErrDecode is wrapped by every response decoding error.
var ErrDecode = errors.New("cannot decode gateway response")

type transactionEnvelope struct {
	Transaction *Transaction `json:"transaction"`
}

// DecodeTransaction decodes {"transaction": {...}}.
func DecodeTransaction(b []byte) (*Transaction, error) {
	var env transactionEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecode, jsonErr(err))
	}
	if env.Transaction == nil {
		return nil, fmt.Errorf(`%w: no "transaction" object`, ErrDecode)
	}
	if env.Transaction.ID == "" {
		return nil, fmt.Errorf("%w: transaction without id", ErrDecode)
	}
	return env.Transaction, nil
}

// Pagination is the list meta of the API.
type Pagination struct {
	TotalCount  int `json:"totalCount"`
	PageCount   int `json:"pageCount"`
	CurrentPage int `json:"currentPage"`
	PerPage     int `json:"perPage"`
}

type listEnvelope struct {
	Transactions *[]Transaction `json:"transactions"`
	Meta         struct {
		Pagination Pagination `json:"pagination"`
	} `json:"meta"`
}

// DecodeList decodes {"transactions": [...], "meta": {...}}.
func DecodeList(b []byte) ([]Transaction, Pagination, error) {
	var env listEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, Pagination{}, fmt.Errorf("%w: %w", ErrDecode, jsonErr(err))
	}
	if env.Transactions == nil {
		return nil, Pagination{}, fmt.Errorf(`%w: no "transactions" list`, ErrDecode)
	}
	return *env.Transactions, env.Meta.Pagination, nil
}

// jsonErr keeps decoder errors free of the input: a syntax error's text is
// position-only, but a type error can quote a value.
func jsonErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at offset %d", se.Offset)
	}
	return errors.New(card.RedactPANs(err.Error()))
}

// decodeErrorBody reads the error shapes the API and its framework use:
// {"errors": {"field": ["msg"]}} or {"errors": {"field": "msg"}},
// [{"field": "f", "message": "m"}], {"message": "m"} or {"error": "m"}.
// Gateway text is redacted.
func decodeErrorBody(b []byte) (msg string, fields []gateway.FieldError) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", nil
	}
	if b[0] == '[' {
		var list []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &list) == nil {
			for _, e := range list {
				fields = append(fields, gateway.FieldError{Field: e.Field, Message: card.RedactPANs(e.Message)})
			}
		}
		return "", fields
	}
	var obj struct {
		Message json.RawMessage            `json:"message"`
		Error   json.RawMessage            `json:"error"`
		Errors  map[string]json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(b, &obj) != nil {
		return "", nil
	}
	msg = textOf(obj.Message)
	if msg == "" {
		msg = textOf(obj.Error)
	}
	for name, raw := range obj.Errors {
		var list []string
		if json.Unmarshal(raw, &list) == nil {
			for _, m := range list {
				fields = append(fields, gateway.FieldError{Field: name, Message: card.RedactPANs(m)})
			}
			continue
		}
		if m := textOf(raw); m != "" {
			fields = append(fields, gateway.FieldError{Field: name, Message: m})
		}
	}
	slices.SortStableFunc(fields, func(x, y gateway.FieldError) int { return strings.Compare(x.Field, y.Field) })
	return msg, fields
}

func textOf(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	// Redact before cutting, so a cut cannot leave a short run of a PAN.
	s = card.RedactPANs(s)
	const maxMsg = 300 // a message is a sentence; cut anything longer
	if len(s) > maxMsg {
		s = s[:maxMsg] + "…"
	}
	return s
}
