package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/sale"
)

// ProtocolVersion is the websocket protocol this package speaks.
const ProtocolVersion = 1

// Error codes of protocol v1 that the bridge itself returns. The engine's
// codes (engine.CodeBusy, …) pass through unchanged; warnings carry the
// engine's warning codes (clear_track_data, replayed_read, …).
const (
	CodeBadJSON         = "bad_json"          // not a JSON object, or a binary frame
	CodeUnknownType     = "unknown_type"      // type missing or not one of the requests
	CodeMissingID       = "missing_id"        // id missing, empty or not a string
	CodeInvalid         = engine.CodeInvalid  // a field has the wrong type or value
	CodeCardData        = engine.CodeCardData // a text field or id holds a card number or track
	CodeNotPaired       = "not_paired"        // hello first; pairing refused or pending; bad token
	CodeForbiddenOrigin = "forbidden_origin"  // the Origin can never be admitted (null, not http/https)
	CodeTooLarge        = "too_large"         // message over MaxMessageSize
	CodeNotSimulated    = "not_simulated"     // simulate without a simulated reader and the sandbox
	CodeSimulateFailed  = "simulate_failed"   // the simulated reader refused the card
	CodeNotFound        = engine.CodeNotFound
	CodeInternal        = "internal_error" // the agent failed; the message says what
	CodeSlowClient      = "slow_client"    // only in the close reason: the send queue filled up
)

// Request types (client → agent).
const (
	TypeHello    = "hello"
	TypeSale     = "sale"
	TypeCancel   = "cancel"
	TypeRefund   = "refund"
	TypeVoid     = "void"
	TypeComplete = "complete"
	TypeStatus   = "status"
	TypeSimulate = "simulate"
	TypeAck      = "ack"
	// Changes of an authorization or sale's amount: the new total.
	TypeAuthIncrement   = "authincrement"
	TypePartialReversal = "partialreversal"
)

// Reply and event types (agent → client).
const (
	TypeWelcome   = "welcome"
	TypePaired    = "paired"
	TypeAccepted  = "accepted"
	TypeSimulated = "simulated"
	TypeAcked     = "acked"
	TypeReader    = "reader"
	TypePrompt    = "prompt"
	TypeCard      = "card"
	TypeResult    = "result"
	TypeError     = "error"
)

// Field limits. IDs are echoed in every message and journaled, so they are
// short; tokens are 43 characters, the limit leaves room for other formats.
const (
	maxIDLen    = 64
	maxTokenLen = 128
)

// Request is any client message; which fields count depends on Type.
type Request struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// hello
	Token string `json:"token,omitempty"`
	// sale
	Action      string `json:"action,omitempty"`
	Amount      string `json:"amount,omitempty"` // also refund, complete
	TipAmount   string `json:"tip_amount,omitempty"`
	OrderNum    string `json:"order_num,omitempty"`
	Description string `json:"description,omitempty"`
	// CardToken charges a stored card (PaidYET card token, Paya Connect
	// account_vault_id) instead of asking the reader for one. Never logged
	// or echoed. ReceiptEmail / ReceiptPhone: the gateway sends the
	// customer a receipt (PaidYET).
	CardToken    string `json:"card_token,omitempty"`
	ReceiptEmail string `json:"receipt_email,omitempty"`
	ReceiptPhone string `json:"receipt_phone,omitempty"`
	// sale with action force: the issuer's voice authorization code.
	// sale with action avsonly: the billing address to check. Never
	// logged or echoed.
	AuthCode      string `json:"auth_code,omitempty"`
	BillingZip    string `json:"billing_zip,omitempty"`
	BillingStreet string `json:"billing_street,omitempty"`
	// sale, refund, void, complete (optional), status and ack (lookup)
	TransactionAPIID string `json:"transaction_api_id,omitempty"`
	// refund, void, complete, authincrement, partialreversal
	TransactionID string `json:"transaction_id,omitempty"`
	// sale and simulate: a reader id; default the first usable reader
	Reader string `json:"reader,omitempty"`
	// simulate: a public sandbox test card number. Never logged or echoed.
	Card      string `json:"card,omitempty"`
	EntryMode string `json:"entry_mode,omitempty"`
	// simulate: a Scenario* misbehaviour instead of a good read
	Scenario string `json:"scenario,omitempty"`
	// sale: fields a merchant account's settings may require
	// (docs/protocol.md, "Merchant settings").
	SubtotalAmount  string `json:"subtotal_amount,omitempty"`
	SurchargeAmount string `json:"surcharge_amount,omitempty"`
	Tax             string `json:"tax,omitempty"`
	CheckinDate     string `json:"checkin_date,omitempty"`
	CheckoutDate    string `json:"checkout_date,omitempty"`
	RoomRate        string `json:"room_rate,omitempty"`
}

// LogValue leaves out the token and the simulated card number.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", r.Type), slog.String("id", r.ID),
		slog.String("transaction_api_id", r.TransactionAPIID), slog.Bool("token", r.Token != ""))
}

// ProtoError is a refusal sent to the client as an error message.
type ProtoError struct {
	ID      string
	Code    string
	Message string
}

func (e *ProtoError) Error() string { return e.Code + ": " + e.Message }

func protoErr(id, code, format string, args ...any) *ProtoError {
	return &ProtoError{ID: id, Code: code, Message: fmt.Sprintf(format, args...)}
}

var knownTypes = map[string]bool{
	TypeHello: true, TypeSale: true, TypeCancel: true, TypeRefund: true, TypeVoid: true,
	TypeComplete: true, TypeStatus: true, TypeSimulate: true, TypeAck: true,
	TypeAuthIncrement: true, TypePartialReversal: true,
}

// DecodeRequest parses one client message. A refusal carries the request
// id when one could be read, so that the client can match the error to its
// request. It never echoes field values: one of them may be a card number.
func DecodeRequest(data []byte) (Request, *ProtoError) {
	var r Request
	if err := json.Unmarshal(data, &r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			// A field of the wrong type: the rest of the object was read.
			if te.Field == "id" {
				return Request{}, protoErr("", CodeMissingID, "id must be a string")
			}
			if !validID(r.ID) {
				r.ID = ""
			}
			return Request{}, protoErr(r.ID, CodeInvalid, "%s must be a %s", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return Request{}, protoErr("", CodeBadJSON, "a message is one JSON object, e.g. {\"type\":\"status\",\"id\":\"q1\"}")
	}
	if r.Type == "" && r.ID == "" && isNull(data) {
		return Request{}, protoErr("", CodeBadJSON, "a message is one JSON object, not null")
	}
	if r.ID == "" {
		return Request{}, protoErr("", CodeMissingID, "every request needs an id, a string the replies repeat")
	}
	if card.ContainsCardData(r.ID) {
		// The reply cannot repeat this id: it is card data.
		return Request{}, protoErr("", CodeCardData, "%s", engine.CardDataMessage("id"))
	}
	if !validID(r.ID) {
		return Request{}, protoErr("", CodeInvalid, "id must be 1 to %d printable characters and not a card number", maxIDLen)
	}
	if r.Type == "" {
		return Request{}, protoErr(r.ID, CodeUnknownType, "type is missing")
	}
	if !knownTypes[r.Type] {
		return Request{}, protoErr(r.ID, CodeUnknownType, "unknown type %q: use hello, sale, cancel, refund, void, complete, authincrement, partialreversal, status, simulate or ack", clip(r.Type, 32))
	}
	if len(r.Token) > maxTokenLen {
		return Request{}, protoErr(r.ID, CodeNotPaired, "token is too long to be one of this agent's tokens")
	}
	if f := cardDataField(r); f != "" {
		return Request{}, protoErr(r.ID, CodeCardData, "%s", engine.CardDataMessage(f))
	}
	return r, nil
}

// cardDataField names the first field of r that holds card data, or "".
// Every text a request carries is journaled, forwarded to the gateway,
// echoed or logged, so every one is checked, whatever the type — except
// simulate's card, a sandbox test card by design (never logged or echoed),
// the token, which is only compared, and receipt_phone, a phone number of
// 7 to 15 digits by definition (a country code and a mobile number pass as
// a card one time in ten). Checked here, a request is refused before a sale
// starts and before the reader is asked for a card.
func cardDataField(r Request) string {
	for _, f := range [...]struct{ name, value string }{
		{"order_num", r.OrderNum}, {"description", r.Description}, {"transaction_api_id", r.TransactionAPIID},
		{"transaction_id", r.TransactionID}, {"amount", r.Amount}, {"tip_amount", r.TipAmount},
		{"action", r.Action}, {"reader", r.Reader}, {"entry_mode", r.EntryMode}, {"receipt_email", r.ReceiptEmail},
	} {
		if card.ContainsCardData(f.value) {
			return f.name
		}
	}
	return ""
}

func isNull(data []byte) bool { return strings.TrimSpace(string(data)) == "null" }

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "struct":
		return "JSON object"
	}
	return goKind
}

// validID: printable, bounded, and not shaped like a card number (ids are
// echoed and journaled).
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, c := range id {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return !card.ContainsCardData(id)
}

// clip bounds text echoed in a message and removes anything card-shaped.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	if card.ContainsCardData(s) {
		return "(redacted)"
	}
	return s
}

// Outgoing messages. Every field a client reads is always present (empty
// strings rather than missing keys) unless marked omitempty.

// AgentInfo describes the agent in welcome and status.
type AgentInfo struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Protocol int    `json:"protocol"`
	// Simulate says the simulate request is available (simulated reader
	// and sandbox gateway).
	Simulate bool `json:"simulate"`
}

// ReaderInfo is a reader as the protocol shows it.
type ReaderInfo struct {
	ID        string `json:"id"`
	Model     string `json:"model"`
	Serial    string `json:"serial"`
	Transport string `json:"transport"`
	Status    string `json:"status"`
	Detail    string `json:"detail"`
	EMV       bool   `json:"emv"`
	Simulated bool   `json:"simulated"`
}

func readerInfo(in sale.Reader) ReaderInfo {
	model := strings.TrimSpace(in.Device.Vendor + " " + in.Device.Model)
	return ReaderInfo{ID: in.ID, Model: model, Serial: in.Device.Serial, Transport: in.Device.Transport,
		Status: string(in.Status), Detail: in.Detail, EMV: in.EMV, Simulated: in.Simulated}
}

func readerInfos(ins []sale.Reader) []ReaderInfo {
	out := make([]ReaderInfo, 0, len(ins))
	for _, in := range ins {
		out = append(out, readerInfo(in))
	}
	return out
}

// WelcomeMsg admits a connection.
type WelcomeMsg struct {
	Type    string       `json:"type"`
	ID      string       `json:"id"`
	Origin  string       `json:"origin"`
	Agent   AgentInfo    `json:"agent"`
	Readers []ReaderInfo `json:"readers"`
}

// PairedMsg hands a newly paired origin its token.
type PairedMsg struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Origin string `json:"origin"`
	Token  string `json:"token"`
	// Scope is "once" (until the agent restarts) or "always".
	Scope string `json:"scope"`
}

// AcceptedMsg says a sale or follow-up was started and names it.
type AcceptedMsg struct {
	Type             string `json:"type"`
	ID               string `json:"id"`
	TransactionAPIID string `json:"transaction_api_id"`
	Action           string `json:"action"`
	Amount           string `json:"amount"`
}

// ActiveSale is a sale in progress in a status reply.
type ActiveSale struct {
	ID               string `json:"id"`
	TransactionAPIID string `json:"transaction_api_id"`
	Action           string `json:"action"`
	Amount           string `json:"amount"`
	State            string `json:"state"`
}

// StatusMsg answers status.
type StatusMsg struct {
	Type    string       `json:"type"`
	ID      string       `json:"id"`
	Agent   AgentInfo    `json:"agent"`
	Readers []ReaderInfo `json:"readers"`
	Active  []ActiveSale `json:"active"`
	// Unacked is how many result messages follow this one (replays).
	Unacked int `json:"unacked"`
}

// SimulatedMsg says the simulated reader took the card.
type SimulatedMsg struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Reader    string `json:"reader"`
	EntryMode string `json:"entry_mode"`
}

// AckedMsg confirms acknowledged results.
type AckedMsg struct {
	Type              string   `json:"type"`
	ID                string   `json:"id"`
	TransactionAPIIDs []string `json:"transaction_api_ids"`
}

// ReaderMsg is a reader event.
type ReaderMsg struct {
	Type   string     `json:"type"`
	Event  string     `json:"event"`
	Reader ReaderInfo `json:"reader"`
}

// PromptMsg asks the customer for something.
type PromptMsg struct {
	Type             string `json:"type"`
	ID               string `json:"id"`
	TransactionAPIID string `json:"transaction_api_id,omitempty"`
	Prompt           string `json:"prompt"`
}

// CardMsg shows the card that was read: masked only.
type CardMsg struct {
	Type             string `json:"type"`
	ID               string `json:"id"`
	TransactionAPIID string `json:"transaction_api_id,omitempty"`
	EntryMode        string `json:"entry_mode"`
	Brand            string `json:"brand"`
	MaskedPAN        string `json:"masked_pan"`
	LastFour         string `json:"last_four"`
}

// Transaction is the gateway's view of a finished transaction.
type Transaction struct {
	ID           string `json:"id"`
	StatusID     int    `json:"status_id"`
	ReasonCodeID int    `json:"reason_code_id"`
	AuthCode     string `json:"auth_code"`
	Amount       string `json:"amount"`
	AuthAmount   string `json:"auth_amount,omitempty"`
	EntryModeID  string `json:"entry_mode_id"`
	LastFour     string `json:"last_four"`
	Verbiage     string `json:"verbiage"`
	// AVS is the gateway's address check (avsonly; a sale sent with a
	// billing address): GOOD, ZIP, STREET or BAD on Paya Connect.
	AVS string `json:"avs,omitempty"`
}

// Receipt holds the EMV receipt fields (empty for swipes).
type Receipt struct {
	TC     string `json:"TC"`
	TVR    string `json:"TVR"`
	AID    string `json:"AID"`
	TSI    string `json:"TSI"`
	ATC    string `json:"ATC"`
	APPLAB string `json:"APPLAB"`
	APPN   string `json:"APPN"`
	CVM    string `json:"CVM"`
}

// ResultCard is the masked card of a result, so that a replayed result
// stands on its own.
type ResultCard struct {
	MaskedPAN string `json:"masked_pan"`
	Brand     string `json:"brand"`
	LastFour  string `json:"last_four"`
	EntryMode string `json:"entry_mode"`
}

// ResultMsg is the outcome of a sale or follow-up.
type ResultMsg struct {
	Type             string `json:"type"`
	ID               string `json:"id"`
	TransactionAPIID string `json:"transaction_api_id"`
	Action           string `json:"action"`
	Outcome          string `json:"outcome"`
	// Code names an outcome's cause when it has a protocol code:
	// duplicate_id (an error: the gateway holds another transaction under
	// this transaction_api_id), card_declined_after_approval (a chip card
	// declined a sale the gateway approved; see VoidTransactionAPIID).
	Code        string      `json:"code,omitempty"`
	Message     string      `json:"message,omitempty"`
	Replay      bool        `json:"replay,omitempty"`
	Card        ResultCard  `json:"card"`
	Transaction Transaction `json:"transaction"`
	Receipt     Receipt     `json:"receipt"`
	// VoidTransactionAPIID names the void the agent made of a sale the
	// chip card did not accept after the gateway approved it.
	VoidTransactionAPIID string `json:"void_transaction_api_id,omitempty"`
}

func resultMsg(r *sale.Result, replay bool) ResultMsg {
	return ResultMsg{
		Type: TypeResult, ID: r.ClientID, TransactionAPIID: r.TransactionAPIID, Action: r.Action,
		Outcome: string(r.Outcome), Code: r.Code, Message: card.RedactPANs(r.Error), Replay: replay, VoidTransactionAPIID: r.VoidAPIID,
		Card: ResultCard{MaskedPAN: r.MaskedPAN, Brand: r.Brand, LastFour: r.LastFour, EntryMode: r.EntryMode},
		Transaction: Transaction{ID: r.TransactionID, StatusID: r.StatusID, ReasonCodeID: r.ReasonCodeID,
			AuthCode: r.AuthCode, Amount: r.Amount, AuthAmount: r.AuthAmount, EntryModeID: r.EntryMode,
			LastFour: r.LastFour, Verbiage: card.RedactPANs(r.Verbiage), AVS: r.AVS},
		Receipt: Receipt{TC: r.Receipt.TC, TVR: r.Receipt.TVR, AID: r.Receipt.AID, TSI: r.Receipt.TSI,
			ATC: r.Receipt.ATC, APPLAB: r.Receipt.APPLAB, APPN: r.Receipt.APPN, CVM: r.Receipt.CVM},
	}
}

// ErrorMsg refuses a request or reports a warning.
type ErrorMsg struct {
	Type             string `json:"type"`
	ID               string `json:"id,omitempty"`
	Code             string `json:"code"`
	Message          string `json:"message"`
	TransactionAPIID string `json:"transaction_api_id,omitempty"`
}

func errorMsg(id, code, message string) ErrorMsg {
	return ErrorMsg{Type: TypeError, ID: id, Code: code, Message: card.RedactPANs(message)}
}

// updateMsg maps an engine update to its protocol message; ok is false for
// updates the websocket does not carry.
func updateMsg(u sale.Update) (msg any, ok bool) {
	switch u.Kind {
	case sale.UpdatePrompt:
		return PromptMsg{Type: TypePrompt, ID: u.ClientID, TransactionAPIID: u.TransactionAPIID, Prompt: string(u.Prompt)}, true
	case sale.UpdateCard:
		if u.Card == nil {
			return nil, false
		}
		// MaskedPAN can only hold a masked number by construction (card.Mask).
		return CardMsg{Type: TypeCard, ID: u.ClientID, TransactionAPIID: u.TransactionAPIID, EntryMode: string(u.Card.EntryMode),
			Brand: string(u.Card.Brand), MaskedPAN: string(u.Card.MaskedPAN), LastFour: u.Card.LastFour}, true
	case sale.UpdateResult:
		if u.Result == nil {
			return nil, false
		}
		return resultMsg(u.Result, false), true
	case sale.UpdateReader:
		if u.Reader == nil {
			return nil, false
		}
		return ReaderMsg{Type: TypeReader, Event: string(u.Reader.Kind), Reader: readerInfo(u.Reader.Reader)}, true
	case sale.UpdateWarning:
		m := errorMsg(u.ClientID, u.Code, u.Warning)
		m.TransactionAPIID = u.TransactionAPIID
		return m, true
	}
	return nil, false
}
