package ui

// This file has no build tag on purpose: it declares only plain types (no
// Fyne), so the headless stub can offer the same exported API and the
// composition root compiles in both builds.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/sale"
)

// Backend is what the window needs from the agent. The composition root
// adapts the engine, bridge, reader manager and configuration to it. Methods
// may be called from the UI goroutine, so they must not block for long:
// Sale, Cancel and FollowUp start work and report its progress as Events.
type Backend interface {
	// Status is a snapshot of the readers, the gateway and the agent.
	Status() Status
	// Updates subscribes to the agent's events. The returned function
	// unsubscribes; the channel is closed (or simply abandoned) after it.
	Updates() (<-chan Event, func())

	// Sale starts a sale ("sale") or an authorization ("authonly") of
	// amount (decimal dollars, "12.34") and returns its id; its prompts,
	// card and result arrive as Events carrying that id.
	// f holds the sale's optional fields (order number, what the merchant
	// account's settings require).
	Sale(ctx context.Context, action, amount string, f SaleFields) (saleID string, err error)
	// Cancel cancels a sale still waiting for a card or not yet sent.
	Cancel(ctx context.Context, saleID string) error
	// FollowUp runs a refund, void, complete or tipadjust against an earlier
	// transaction. amount may be empty where the gateway allows it (void,
	// full refund). Its result arrives as an Event with the returned id.
	FollowUp(ctx context.Context, action, transactionID, amount string) (saleID string, err error)
	// CardAction starts a force or an avsonly (see CardActionRequest) and
	// returns its id; the card is read as for a sale, and its prompts,
	// card and result arrive as Events carrying that id.
	CardAction(ctx context.Context, req CardActionRequest) (saleID string, err error)
	// History returns one page of past and in-flight sales, newest first,
	// matching query (empty: every sale; else last four digits, an amount,
	// a date 2006-01-02 or a transaction id, as the backend documents).
	// before is the zero Cursor for the first page, else the previous
	// page's Next: a new query starts over from the zero Cursor.
	History(query string, before sale.Cursor) HistoryPage
	// Simulator returns the simulated reader, or nil when none is attached
	// (the simulated-card buttons are hidden then).
	Simulator() Simulator
	// SetPaused stops (true) or resumes (false) accepting new sales from
	// the POS page and the window.
	SetPaused(paused bool) error

	// PairedOrigins lists the web origins paired for good.
	PairedOrigins() []string
	// RevokeOrigin forgets a paired origin's token.
	RevokeOrigin(origin string) error

	// Settings returns the current settings. SettingsModel.APIKey is always
	// empty here; APIKeySet says whether one is stored.
	Settings() SettingsModel
	// SaveSettings validates and stores s. A *ValidationError lists the
	// problems in words a store manager understands, per field.
	SaveSettings(s SettingsModel) error
	// DiscoverLocation asks the gateway which locations the credentials in
	// the saved settings may use.
	DiscoverLocation(ctx context.Context) ([]Location, error)
}

// SaleFields are a sale's optional fields: the order number and what a
// merchant account's settings may require (docs/protocol.md, "Merchant
// settings"). Amounts are decimal strings, dates yyyy-mm-dd; empty fields
// are not sent.
type SaleFields struct {
	OrderNum                             string
	SubtotalAmount, SurchargeAmount, Tax string
	CheckinDate, CheckoutDate, RoomRate  string
}

// CardActionRequest is a card-reading action beside sale and authonly:
// "force" (a sale the issuer approved by phone: Amount and the AuthCode it
// read out) or "avsonly" (a check of the card and its billing address,
// BillingZip and optionally BillingStreet, that moves no money).
type CardActionRequest struct {
	Action, Amount, AuthCode, BillingZip, BillingStreet string
}

// Simulator feeds a test card to the simulated reader (demo mode only).
type Simulator interface {
	// Simulate presents pan (a test card number) with entry mode "S"
	// (swipe), "C" (chip) or "P" (contactless). The UI only passes the
	// brands listed in SimCards; the simulator makes up the numbers.
	Simulate(ctx context.Context, pan, entryMode string) error
}

// Gateway describes the payment gateway profile in use.
type Gateway struct {
	Kind      string // "paya", "paidyet", "sandbox"
	URL       string
	Reachable bool
	Detail    string // why it is not reachable, when known
}

// Status is a snapshot of the agent.
type Status struct {
	Readers  []sale.Reader
	Gateway  Gateway
	AgentURL string // the demo POS page / websocket base, e.g. http://127.0.0.1:7380/
	Paused   bool
	Version  string
	// SaleRequires names the fields (protocol names: subtotal_amount,
	// order_num, …) the merchant account's settings require of a sale;
	// empty when none or not known.
	SaleRequires []string
}

// EventKind says which field of an Event is set.
type EventKind int

// Event kinds.
const (
	EventPrompt EventKind = iota + 1
	EventCard
	EventResult
	EventReader
	EventWarning
)

// Event is one thing that happened in the agent.
type Event struct {
	Kind    EventKind
	SaleID  string
	Prompt  sale.Prompt  // EventPrompt
	Card    *sale.Card   // EventCard: masked only
	Result  *sale.Result // EventResult
	Reader  *sale.Reader // EventReader: attached, detached or broken
	Message string       // EventWarning (and an optional note on the others)
}

// HistoryItem is one sale in the history, finished or still being resolved.
type HistoryItem struct {
	SaleID string
	// State is done for a finished sale, sending while the request is
	// out, unknown while the agent resolves a timeout by lookup.
	State  sale.State
	Result sale.Result
}

// HistoryPage is one page of the history, newest first. Next continues
// it (as History's before) while More is set.
type HistoryPage struct {
	Items []HistoryItem
	Next  sale.Cursor
	More  bool
}

// Resolving reports whether the sale's outcome is not known yet.
func (h HistoryItem) Resolving() bool {
	return h.State.Unfinished() || h.Result.Outcome == sale.OutcomeUnknown
}

// SettingsModel is the editable configuration.
type SettingsModel struct {
	GatewayKind string // paya | paidyet | sandbox
	GatewayURL  string
	DeveloperID string
	UserID      string
	// APIKey is write-only: empty when read; on save, empty keeps the stored
	// key and anything else replaces it (the backend stores it in the OS
	// keyring).
	APIKey               string
	APIKeySet            bool
	LocationID           string
	ProductTransactionID string
	Reader               string   // "auto" or a reader kind/id
	ReaderChoices        []string // what the reader selector offers
	AllowedOrigins       []string
	LogLevel             string // debug | info | warn | error
}

// Settings field names used in ValidationError, as in the TOML configuration.
const (
	FieldGatewayKind          = "gateway.kind"
	FieldGatewayURL           = "gateway.url"
	FieldDeveloperID          = "gateway.developer_id"
	FieldUserID               = "gateway.user_id"
	FieldAPIKey               = "gateway.user_api_key"
	FieldLocationID           = "gateway.location_id"
	FieldProductTransactionID = "gateway.product_transaction_id"
	FieldReader               = "readers"
	FieldAllowedOrigins       = "allowed_origins"
	FieldLogLevel             = "log_level"
)

// Problem is one invalid setting.
type Problem struct {
	Field   string // one of the Field* constants; "" for the form as a whole
	Message string // e.g. "The gateway address must start with https://"
}

// ValidationError is what SaveSettings returns when settings are invalid.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	msgs := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		msgs = append(msgs, p.Message)
	}
	return "invalid settings: " + strings.Join(msgs, "; ")
}

// Location is a gateway location the credentials may use.
type Location struct {
	ID   string
	Name string
	// SaleRequires names the fields the settings of the agent's product at
	// this location require of a sale (set on the configured location).
	SaleRequires []string
}

// Decision is the cashier's answer to a pairing request.
type Decision int

// Decisions. The zero value denies, so a forgotten answer is safe.
const (
	DecisionDeny Decision = iota
	DecisionOnce
	DecisionAlways
)

func (d Decision) String() string {
	switch d {
	case DecisionOnce:
		return "once"
	case DecisionAlways:
		return "always"
	}
	return "deny"
}

// Options tune the window.
type Options struct {
	// Title of the window; default "posagent".
	Title string
	// Version shown in the window and tray.
	Version string
	// StartHidden starts in the tray only (where the driver has one).
	StartHidden bool
	// Logger; default slog.Default().
	Logger *slog.Logger
	// StatusEvery is how often Status is polled; default 2s.
	StatusEvery time.Duration
}

// ErrHeadless is returned by Run in a build without the window.
var ErrHeadless = errors.New("built without the cashier window (headless)")

// ErrNoDisplay is returned by Run when there is no display to open a window on.
var ErrNoDisplay = errors.New("no display available for the cashier window")
