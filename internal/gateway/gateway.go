package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/posagent/posagent/internal/card"
)

// Gateway is what the sale engine needs from a payment gateway. Every
// client in this tree implements it, and gatewaytest.RunSuite holds each
// one to the same behaviour.
//
// Do never sends a request twice: when it returns an Ambiguous error the
// caller resolves the outcome with Resolve (new transactions) or Lookup
// (changes to an existing one) before deciding anything.
type Gateway interface {
	// Name is a short stable name: "payaconnect", "paidyet".
	Name() string
	// Capabilities says what this gateway can do. Do refuses anything else
	// with ErrUnsupported before sending.
	Capabilities() Capabilities
	// Do performs one action. A declined transaction returns the Result and
	// an error for which IsDeclined is true; an approved one returns a nil
	// error.
	Do(ctx context.Context, req Request) (*Result, error)
	// Lookup fetches a transaction by the gateway's id.
	Lookup(ctx context.Context, id string) (*Result, error)
	// Resolve looks a transaction up by the caller's transaction_api_id. It
	// returns the Result when found and an error matching ErrNotFound when
	// the gateway proves that no such transaction exists. Any other error
	// means "still unknown": try again later.
	Resolve(ctx context.Context, transactionAPIID string) (*Result, error)
}

// Prechecker is implemented by clients that can check a request's fields
// before its card is read, so that a sale the gateway would refuse (an
// order_num with a dash, a description too long) is refused before the
// customer presents a card rather than after.
type Prechecker interface {
	// Precheck validates everything in req except the card source; an
	// error is Invalid with field errors.
	Precheck(req Request) error
}

// Action is what a Request asks of the gateway. The names are Paya Connect's
// action values; other gateways map them.
type Action string

// Actions of the transactions endpoint.
const (
	ActionSale            Action = "sale"
	ActionAuthOnly        Action = "authonly"
	ActionAuthComplete    Action = "authcomplete"
	ActionAuthIncrement   Action = "authincrement"
	ActionVoid            Action = "void"
	ActionRefund          Action = "refund"
	ActionPartialReversal Action = "partialreversal"
	ActionForce           Action = "force"
	ActionTipAdjust       Action = "tipadjust"
	ActionAVSOnly         Action = "avsonly"
	ActionDebit           Action = "debit"  // ACH
	ActionCredit          Action = "credit" // ACH
)

// Actions lists every action in a stable order.
var Actions = []Action{
	ActionSale, ActionAuthOnly, ActionAuthComplete, ActionAuthIncrement, ActionVoid, ActionRefund,
	ActionPartialReversal, ActionForce, ActionTipAdjust, ActionAVSOnly, ActionDebit, ActionCredit,
}

// CreatesTransaction reports whether the action makes a new transaction
// (resolved by transaction_api_id after an ambiguous failure) rather than
// changing an existing one (resolved by Lookup of that id).
func (a Action) CreatesTransaction() bool {
	switch a {
	case ActionSale, ActionAuthOnly, ActionRefund, ActionForce, ActionAVSOnly, ActionDebit, ActionCredit:
		return true
	}
	return false
}

// Request is one action. Which fields matter depends on Action:
//
//   - sale, authonly, avsonly: Amount (zero for avsonly) and one card source:
//     Read (encrypted card-present read) or Token (a gateway card token /
//     account vault id).
//   - authcomplete, authincrement, partialreversal, tipadjust, void: the
//     earlier TransactionID; Amount is the new settle amount (the seed:
//     transaction_amount "should always be the desired settle amount"), so
//     a tip adjust sends sale + tip and an increment the new total. Zero on
//     authcomplete completes the authorized amount.
//   - refund: TransactionID of the sale and Amount.
//   - force: Amount, AuthCode and a card source.
type Request struct {
	Action Action
	Amount Amount
	// TransactionID is the gateway's id of an earlier transaction.
	TransactionID string
	// TransactionAPIID is the caller's unique id for a new transaction:
	// the key that resolves an ambiguous outcome. The engine always sets it.
	TransactionAPIID string
	OrderNum         string
	Description      string
	// AuthCode is the voice authorization code of a force.
	AuthCode string
	// Read is an encrypted card-present read. Only gateways whose
	// Capabilities.EncryptedCardPresent is true accept one.
	Read *card.Read
	// Token is a stored card: Paya Connect account_vault_id, PaidYET card token.
	Token string
	// ReceiptEmail and ReceiptPhone ask the gateway to send the customer a
	// receipt by email / SMS (Capabilities.Receipts).
	ReceiptEmail, ReceiptPhone string
	Billing                    Billing
	// ACH is the bank account of an ACH debit or credit.
	ACH *ACHAccount

	// Subtotal, Surcharge and Tax break Amount down, as a product with a
	// surcharge or auto-calculated tax requires (subtotal_amount,
	// surcharge_amount, tax; Amount is their sum). nil is not sent; a zero
	// is sent as 0.00.
	Subtotal, Surcharge, Tax *Amount
	// CheckinDate, CheckoutDate (yyyy-mm-dd) and RoomRate are the stay a
	// lodging merchant's sales require; empty or nil is not sent.
	CheckinDate, CheckoutDate string
	RoomRate                  *Amount
}

// ACHAccount is a bank account for ACH debit and credit.
type ACHAccount struct {
	HolderName    string
	AccountType   string // "checking" or "savings"
	AccountNumber string
	Routing       string
	SECCode       string // PPD, CCD, WEB, TEL, POP, C21
}

// Billing is the address used for AVS.
type Billing struct {
	Street string
	Zip    string
}

// CardDataFields names the text fields of r that hold a card number or track
// (card.ContainsCardData), with a message that never repeats the value. The
// clients refuse such a request while building it: whoever made the Request,
// no card number leaves for the gateway in a text field or id. The card
// itself travels only as the encrypted Read (or a Token).
func (r Request) CardDataFields() []FieldError {
	var out []FieldError
	for _, f := range [...]struct{ name, value string }{
		{"transaction_api_id", r.TransactionAPIID}, {"transaction_id", r.TransactionID}, {"order_num", r.OrderNum},
		{"description", r.Description}, {"auth_code", r.AuthCode}, {"billing_street", r.Billing.Street}, {"billing_zip", r.Billing.Zip},
		{"receipt_email", r.ReceiptEmail},
	} {
		if card.ContainsCardData(f.value) {
			out = append(out, FieldError{Field: f.name, Message: "holds what looks like a card number: card numbers never go in text fields"})
		}
	}
	return out
}

// LogValue keeps requests loggable without card data: the Read logs masked.
func (r Request) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("action", string(r.Action)),
		slog.String("amount", r.Amount.String()),
		slog.String("transaction_api_id", r.TransactionAPIID),
	}
	if r.TransactionID != "" {
		attrs = append(attrs, slog.String("transaction_id", r.TransactionID))
	}
	if r.Read != nil {
		attrs = append(attrs, slog.Any("read", *r.Read))
	}
	return slog.GroupValue(attrs...)
}

// Outcome is the normalized verdict on a transaction.
type Outcome string

// Outcomes.
const (
	OutcomeApproved Outcome = "approved"
	OutcomeDeclined Outcome = "declined"
	OutcomeError    Outcome = "error" // the gateway answered with a status this client cannot interpret
)

// Result is a transaction as the gateway reports it, normalized. Gateway
// specific numbers are kept (StatusID, ReasonCode) because receipts and
// reconciliation need them.
type Result struct {
	Gateway          string
	ID               string
	TransactionAPIID string
	Action           Action
	Outcome          Outcome
	// Status is the gateway's status: Paya's status_id as digits ("101"),
	// PaidYET's status word ("approved").
	Status     string
	StatusID   int
	ReasonCode int
	TypeID     int
	AuthCode   string
	// Amount is the transaction amount; AuthAmount what the issuer
	// authorized (less on a partial approval).
	Amount     Amount
	AuthAmount Amount
	TipAmount  Amount
	MaskedPAN  card.MaskedPAN
	LastFour   string
	Brand      card.Brand
	EntryMode  card.EntryMode
	OrderNum   string
	AVS        string
	CVV        string
	// Verbiage is the gateway's text. Never decide approval from it.
	Verbiage string
	Receipt  card.Receipt
	// Created is when the gateway created the transaction, by its clock;
	// zero when it does not say. A lookup's find created before the sale
	// began is not the sale (engine's sameTransaction).
	Created time.Time
	// Captured: the gateway shows the transaction captured (an authorization
	// whose completion took effect), where its status word alone does not
	// say so (PaidYET's stays "approved").
	Captured bool
}

// Approved reports whether the outcome is an approval.
func (r *Result) Approved() bool { return r != nil && r.Outcome == OutcomeApproved }

// Partial reports a partial approval: less authorized than asked.
func (r *Result) Partial() bool {
	return r.Approved() && r.AuthAmount > 0 && r.Amount > 0 && r.AuthAmount < r.Amount
}

// LogValue prints ids and public fields only.
func (r Result) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("gateway", r.Gateway),
		slog.String("id", r.ID),
		slog.String("transaction_api_id", r.TransactionAPIID),
		slog.String("outcome", string(r.Outcome)),
		slog.String("status", r.Status),
		slog.Int("reason_code", r.ReasonCode),
		slog.String("amount", r.Amount.String()),
		slog.Any("masked_pan", r.MaskedPAN),
	)
}

// ActionSet is a set of actions.
type ActionSet map[Action]bool

// NewActionSet makes a set of the given actions.
func NewActionSet(actions ...Action) ActionSet {
	s := make(ActionSet, len(actions))
	for _, a := range actions {
		s[a] = true
	}
	return s
}

// Capabilities describes what a gateway client can do, so that the engine
// and the bridge can refuse early and tell the cashier why.
type Capabilities struct {
	Gateway string
	Actions ActionSet
	// EncryptedCardPresent: the gateway takes an encrypted reader envelope
	// (e_format/e_track_data/e_serial_number) and decrypts it itself.
	EncryptedCardPresent bool
	// Formats are the accepted envelope formats.
	Formats []card.Format
	// ResolveByAPIID: Resolve can prove a transaction absent.
	ResolveByAPIID bool
	// NoAbsenceProof lists the actions whose absence this gateway cannot
	// prove after an ambiguous failure: Resolve (or a Lookup of the original
	// transaction) adopts the action when it shows, but a miss proves
	// nothing, so the caller must report the outcome unknown and never send
	// the action again (PaidYET: a refund's custom fields are not searchable
	// by anything the API documents).
	NoAbsenceProof ActionSet
	// ACH: bank account debits and credits.
	ACH bool
	// Receipts: the gateway sends receipts by email and SMS
	// (Request.ReceiptEmail, ReceiptPhone).
	Receipts bool
	// Limitations says in words what the gateway cannot do, for people.
	Limitations []string
}

// Supports reports whether the action is available.
func (c Capabilities) Supports(a Action) bool { return c.Actions[a] }

// Accepts reports whether an envelope of format f can be sent.
func (c Capabilities) Accepts(f card.Format) bool {
	if !c.EncryptedCardPresent {
		return false
	}
	for _, g := range c.Formats {
		if g == f {
			return true
		}
	}
	return false
}
