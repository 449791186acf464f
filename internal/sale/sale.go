package sale

import (
	"time"

	"github.com/posagent/posagent/internal/card"
)

// State is where a transaction stands.
//
// Only StateSending and StateUnknown are "unfinished": the gateway may or may
// not have the transaction, and the engine must find out by lookup. (A
// pending record is a live sale; on start, the engine turns those an earlier
// run left into StateUnknown.)
type State string

// States.
const (
	// StatePending: created with its transaction_api_id, durable before any
	// request; waiting for a card. The engine writes StateSending once the
	// request is on the wire, not before, so a record an earlier run left
	// pending may have been sent: recovery looks it up.
	StatePending State = "pending"
	// StateSending: the request has left (written once it is on the wire).
	StateSending State = "sending"
	// StateUnknown: the request may have been committed (timeout, 5xx,
	// reset); resolution by lookup is in progress.
	StateUnknown State = "unknown"
	// StateDone: the outcome is final.
	StateDone State = "done"
)

// Unfinished reports whether the gateway's view must be looked up.
func (s State) Unfinished() bool { return s == StateSending || s == StateUnknown }

// Outcome is how a sale or follow-up ended; the values are protocol v1's.
type Outcome string

// Outcomes.
const (
	OutcomeApproved  Outcome = "approved"
	OutcomeDeclined  Outcome = "declined"
	OutcomeCancelled Outcome = "cancelled"
	OutcomeError     Outcome = "error"
	// OutcomeUnknown: the gateway did not answer in time; the agent is
	// resolving the transaction by lookup.
	OutcomeUnknown Outcome = "unknown"
)

// Prompt is what the customer (or cashier) must do next; the values are
// protocol v1's. Readers raise them, the engine publishes them.
type Prompt string

// Prompts.
const (
	PromptPresentCard Prompt = "present_card"
	PromptUseChip     Prompt = "use_chip"
	PromptRetry       Prompt = "retry"
	PromptProcessing  Prompt = "processing"
	PromptRemoveCard  Prompt = "remove_card"
)

// Result is a transaction as the engine tells it: masked card data only.
// Amounts are decimal strings as the gateway writes them ("12.34").
type Result struct {
	TransactionAPIID string
	ClientID         string // the websocket request id that asked
	Origin           string // the web origin (or "ui", "cli") that asked
	Action           string // sale, authonly, force, avsonly, refund, void, complete, tipadjust, ...
	Amount           string
	TipAmount        string
	OrderNum         string
	Description      string
	ReaderID         string
	OrigTransaction  string // refund/void/complete target
	State            State
	Outcome          Outcome
	MaskedPAN        string // first six and last four at most
	LastFour         string
	Brand            string
	EntryMode        string
	TransactionID    string
	StatusID         int
	ReasonCodeID     int
	AuthCode         string
	AuthAmount       string
	Verbiage         string // the gateway's words, e.g. "APPROVED"
	AVS              string // the gateway's address check (avsonly, sales with a billing address)
	Receipt          card.Receipt
	Error            string // the agent's explanation for error, unknown, cancelled
	Code             string // the error's protocol code, when it has one (duplicate_id)
	Created          time.Time
	Updated          time.Time
	Acked            bool
	// CardCompletion is a contact chip card's part after an online
	// authorisation: "pending", "accepted" or "declined"; empty for reads
	// with no completion (swipe, tap, fallback).
	CardCompletion string
	// VoidAPIID is, on an approved sale the card did not accept, the
	// transaction_api_id of the void the engine made of it.
	VoidAPIID string
	// ReversalOf is, on that void, the transaction_api_id of the sale it
	// reverses.
	ReversalOf string
}

// Values of Result.CardCompletion: a contact chip card's part after an
// online authorisation.
const (
	CardPending  = "pending"  // from the read on, until the card answers
	CardAccepted = "accepted" // TC at the second GENERATE AC
	CardDeclined = "declined" // AAC, or the card was never told
)

// Query selects a page of history. Every filter set must match; the most
// selective one set picks the index the page is read from (transaction
// id, then last four, then amount, else creation time).
type Query struct {
	TransactionID string    // the gateway's transaction id, exactly
	LastFour      string    // the card's last four digits
	Amount        string    // as the journal writes it: "12.34"
	Since, Until  time.Time // created in [Since, Until); zero: unbounded
	// Before continues a listing: records that come after it, newest
	// first. The zero Cursor starts with the newest.
	Before Cursor
	// Limit is the page size: 1 to the journal's maximum (0: its default).
	Limit int
}

// Matches reports whether a sale with these fields is in q's listing
// (every filter set holds; paging aside): the journal filters its index
// entries with it, and a caller merging a sale into a page asks it.
func (q *Query) Matches(transactionID, lastFour, amount string, created time.Time) bool {
	return (q.TransactionID == "" || transactionID == q.TransactionID) &&
		(q.LastFour == "" || lastFour == q.LastFour) &&
		(q.Amount == "" || amount == q.Amount) &&
		(q.Since.IsZero() || !created.Before(q.Since)) &&
		(q.Until.IsZero() || created.Before(q.Until))
}

// Cursor is a position in the history: a record's creation time and id.
type Cursor struct {
	Created time.Time
	ID      string
}

// IsZero reports whether c is the start of the history.
func (c Cursor) IsZero() bool { return c.ID == "" && c.Created.IsZero() }

// Page is one page of history, newest first. Next continues it (as
// Query.Before) when More is set.
type Page struct {
	Results []Result
	Next    Cursor
	More    bool
}
