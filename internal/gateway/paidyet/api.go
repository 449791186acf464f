package paidyet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
)

// ErrDecode is wrapped by every response decoding error.
var ErrDecode = errors.New("cannot decode PaidYET response")

// Message is an ApiMessage.
type Message struct {
	Code    int    `json:"code"`
	Content string `json:"content"`
}

// Messages are the ApiResponse messages by type.
type Messages struct {
	Info    []Message
	Warning []Message
	Error   []Message
}

// UnmarshalJSON accepts each type as a list of ApiMessage, a single
// ApiMessage or a plain string: the document says "ApiMessage objects keyed
// by type" without showing one.
func (m *Messages) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		if bytes.Equal(bytes.TrimSpace(b), []byte("null")) || bytes.Equal(bytes.TrimSpace(b), []byte("[]")) {
			return nil
		}
		return err
	}
	for k, v := range raw {
		msgs := decodeMessages(v)
		switch strings.ToLower(k) {
		case "info":
			m.Info = msgs
		case "warning", "warnings":
			m.Warning = msgs
		case "error", "errors":
			m.Error = msgs
		}
	}
	return nil
}

func decodeMessages(v json.RawMessage) []Message {
	var list []Message
	if json.Unmarshal(v, &list) == nil {
		return redactAll(list)
	}
	var one Message
	if json.Unmarshal(v, &one) == nil && one.Content != "" {
		return redactAll([]Message{one})
	}
	var strs []string
	if json.Unmarshal(v, &strs) == nil {
		list = nil // a failed decode above may have left empty entries
		for _, s := range strs {
			list = append(list, Message{Content: s})
		}
		return redactAll(list)
	}
	var s string
	if json.Unmarshal(v, &s) == nil && s != "" {
		return redactAll([]Message{{Content: s}})
	}
	return nil
}

// maxMessage bounds one message's length in an error.
const maxMessage = 300

func redactAll(ms []Message) []Message {
	for i := range ms {
		s := card.RedactPANs(ms[i].Content)
		if len(s) > maxMessage {
			s = s[:maxMessage] + "…"
		}
		ms[i].Content = s
	}
	return ms
}

// Text joins messages for an error.
func (m Messages) Text() string {
	var parts []string
	for _, x := range m.Error {
		parts = append(parts, x.Content)
	}
	if len(parts) == 0 {
		for _, x := range m.Warning {
			parts = append(parts, x.Content)
		}
	}
	return strings.Join(parts, "; ")
}

// Payload is the ApiPayload.
type Payload struct {
	Type    string          `json:"type"`
	Items   json.RawMessage `json:"items"`
	Count   int             `json:"count"`
	Pages   int             `json:"pages"`
	Page    int             `json:"page"`
	PerPage int             `json:"per_page"`
}

// Response is the ApiResponse every endpoint returns.
type Response struct {
	Messages Messages `json:"messages"`
	Payload  Payload  `json:"payload"`
}

// DecodeResponse decodes an ApiResponse.
func DecodeResponse(b []byte) (*Response, error) {
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecode, jsonErr(err))
	}
	return &r, nil
}

// items decodes the payload items into out (a pointer to a slice). A
// payload that is a single object instead of a list is accepted as a list
// of one.
func (r *Response) items(out any) error {
	it := bytes.TrimSpace(r.Payload.Items)
	if len(it) == 0 || bytes.Equal(it, []byte("null")) {
		return fmt.Errorf("%w: payload has no items", ErrDecode)
	}
	if it[0] == '{' {
		it = append(append([]byte{'['}, it...), ']')
	}
	if err := json.Unmarshal(it, out); err != nil {
		return fmt.Errorf("%w: %w", ErrDecode, jsonErr(err))
	}
	return nil
}

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

// flexString decodes a JSON string or number (ids are ints in the
// document; a string id works as well).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	switch {
	case s == "null":
		*f = ""
	case len(s) >= 2 && s[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = flexString(v)
	default:
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return fmt.Errorf("want a string or a number, got %.20s", s)
		}
		*f = flexString(s)
	}
	return nil
}

// CustomField is a key/value stored with a transaction.
type CustomField struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// CreditCard is a card as the API returns it: a token and public details.
// Number, when the API returns one, is masked before it is kept.
type CreditCard struct {
	ID         flexString `json:"id"`
	Token      string     `json:"token"`
	Number     string     `json:"number"`
	Exp        string     `json:"exp"`
	Name       string     `json:"name"`
	ExternalID string     `json:"external_id"`
	LastFour   string     `json:"last_four"`
}

// masked is the card number as the API gave it, masked to 6/4 at most.
func (c *CreditCard) masked() card.MaskedPAN {
	if c == nil {
		return ""
	}
	if c.Number != "" {
		return card.MaskFromReader(c.Number)
	}
	if c.LastFour != "" {
		return card.MaskFromReader("************" + c.LastFour)
	}
	return ""
}

// Transaction is a PaidYET transaction.
type Transaction struct {
	ID           flexString     `json:"id"`
	Amount       gateway.Amount `json:"amount"`
	Type         string         `json:"type"`
	Status       string         `json:"status"`
	Result       string         `json:"result"`
	Error        bool           `json:"error"`
	InputMethod  string         `json:"input_method"`
	CreditCard   *CreditCard    `json:"credit_card"`
	ExternalID   string         `json:"external_id"`
	CustomFields []CustomField  `json:"custom_fields"`
	OrderID      flexString     `json:"order_id"`
	Invoice      string         `json:"invoice"`
	Comments     string         `json:"comments"`
	Email        string         `json:"email"`
	MobilePhone  string         `json:"mobile_phone"`
	SendReceipt  bool           `json:"send_receipt"`
	DateCreated  string         `json:"date_created"`
	// Batch is set once the transaction is in a batch: a sale at once, an
	// auth only when captured (seed 003).
	Batch *struct {
		ID     flexString `json:"id"`
		Status string     `json:"status"`
	} `json:"batch"`
	// Not in the document's Transaction table but in its test-card table:
	// a decline carries a decline code and a message.
	DeclineCode flexString `json:"decline_code"`
	Message     string     `json:"message"`
	AuthCode    string     `json:"auth_code"`
}

// APIID is the transaction_api_id this client stored on the transaction.
func (t *Transaction) APIID() string {
	for _, f := range t.CustomFields {
		if f.Key == customFieldAPIID {
			return f.Value
		}
	}
	return t.ExternalID
}

// outcome maps the status word. The document lists "approved, etc." and,
// for search, approved / declined / scheduled.
func (t *Transaction) outcome() gateway.Outcome {
	switch strings.ToLower(t.Status) {
	case "approved", "captured", "settled", "voided", "void", "refunded", "refund", "scheduled", "complete", "completed":
		return gateway.OutcomeApproved
	case "declined", "decline", "failed", "error":
		return gateway.OutcomeDeclined
	}
	if t.Error {
		// The gateway says processing failed: no money moved.
		return gateway.OutcomeDeclined
	}
	return gateway.OutcomeError
}

func actionOf(typ string) gateway.Action {
	switch strings.ToLower(typ) {
	case "sale":
		return gateway.ActionSale
	case "auth":
		return gateway.ActionAuthOnly
	case "capture":
		return gateway.ActionAuthComplete
	case "void":
		return gateway.ActionVoid
	case "refund":
		return gateway.ActionRefund
	}
	return ""
}

var inputModes = map[string]card.EntryMode{
	"swiped": card.EntrySwiped, "swipe": card.EntrySwiped, "chip": card.EntryChip, "keyed": card.EntryKeyed,
	"contactless": card.EntryProximity, "tap": card.EntryProximity, "fallback": card.EntryFallback,
}

// Normalize makes the gateway Result.
func (t *Transaction) Normalize() *gateway.Result {
	r := &gateway.Result{
		Gateway:          Name,
		ID:               string(t.ID),
		TransactionAPIID: t.APIID(),
		Action:           actionOf(t.Type),
		Outcome:          t.outcome(),
		Status:           t.Status,
		Amount:           t.Amount,
		AuthAmount:       t.Amount,
		AuthCode:         t.AuthCode,
		EntryMode:        inputModes[strings.ToLower(t.InputMethod)],
		OrderNum:         string(t.OrderID),
		Verbiage:         card.RedactPANs(firstNonEmpty(t.Message, t.Result)),
		MaskedPAN:        t.CreditCard.masked(),
	}
	// A capture leaves the status "approved": what shows it is the batch
	// the seed says a captured auth moves into, or the type turning sale.
	r.Captured = r.Outcome == gateway.OutcomeApproved && strings.EqualFold(t.Status, "approved") &&
		(t.Batch != nil || strings.EqualFold(t.Type, "sale"))
	if n, err := strconv.Atoi(string(t.DeclineCode)); err == nil {
		r.ReasonCode = n
	}
	// "YYYY-MM-DD HH:MM:SS" in UTC (seed 003); anything else: unknown.
	if ts, err := time.Parse(time.DateTime, t.DateCreated); err == nil {
		r.Created = ts
	}
	r.LastFour = r.MaskedPAN.LastFour()
	r.Brand = r.MaskedPAN.Brand()
	return r
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// login answers come in the document's own shape, {status, result: {token,
// exp}}, or as an ApiResponse whose payload item holds them, or flat.
type loginResult struct {
	Status  string     `json:"status"`
	Message string     `json:"message"`
	Token   string     `json:"token"`
	Exp     flexString `json:"exp"`
}

// decodeLogin returns the token and its expiry in unix seconds (0: none given).
func decodeLogin(b []byte) (token string, exp int64, err error) {
	var env struct {
		loginResult
		Result  *loginResult `json:"result"`
		Payload *Payload     `json:"payload"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return "", 0, fmt.Errorf("%w: %w", ErrDecode, jsonErr(err))
	}
	lr := &env.loginResult
	switch {
	case env.Result != nil && env.Result.Token != "":
		lr = env.Result
	case env.Payload != nil && len(env.Payload.Items) > 0:
		var items []loginResult
		r := Response{Payload: *env.Payload}
		if r.items(&items) == nil && len(items) > 0 {
			lr = &items[0]
		}
	}
	if lr.Token == "" {
		return "", 0, fmt.Errorf("%w: login answer has no token", ErrDecode)
	}
	if lr.Exp != "" {
		f, err := strconv.ParseFloat(string(lr.Exp), 64)
		if err != nil || f < 0 || f > 1<<40 {
			return "", 0, fmt.Errorf("%w: login exp is not a unix time", ErrDecode)
		}
		exp = int64(f)
	}
	return lr.Token, exp, nil
}
