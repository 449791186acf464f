package engine

import (
	"fmt"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
)

// Error codes the bridge and UI show; they are protocol v1 error codes.
const (
	CodeBusy        = "busy"            // the reader already has a sale in progress
	CodeNoReader    = "no_reader"       // no usable card reader
	CodeInvalid     = "invalid_request" // a field is missing or wrong
	CodeDuplicateID = "duplicate_id"    // transaction_api_id already used
	CodeNotFound    = "not_found"       // no such sale
	CodeTooLate     = "too_late"        // cancel after the sale was sent
	CodeUnsupported = "unsupported"     // the gateway cannot do this
	CodeJournal     = "journal_error"   // could not record the sale: nothing was sent
	CodePaused      = "paused"          // the cashier paused new sales
	CodeCardData    = "card_data"       // a text field or id holds a card number or track: refused before the card is read
	// CodeMissingField: the merchant account's settings require a field
	// the sale lacks (a surcharge's subtotal_amount, a lodging stay, an
	// order number); nothing was started, no card was asked for.
	CodeMissingField = "missing_field"
)

// CardDataMessage is the refusal of a request whose field holds card data
// (card.ContainsCardData). It names the field, never the value.
func CardDataMessage(field string) string {
	return field + " holds what looks like a card number or card track: cards go through the card reader only, never in a request. " +
		"Remove it and send the request again (nothing was started); digits that are not a card number can be grouped with '/' instead"
}

// Error is a refusal with a code and a message a person can act on.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// OriginUI is the Origin of requests from the cashier's window.
const OriginUI = "ui"

// resultOf is a journal record as the engine tells it.
func resultOf(r *journal.Record) sale.Result {
	return sale.Result{
		TransactionAPIID: r.TransactionAPIID, ClientID: r.ClientID, Origin: r.Origin, Action: r.Action,
		Amount: r.Amount, TipAmount: r.TipAmount, OrderNum: r.OrderNum, Description: r.Description,
		ReaderID: r.ReaderID, OrigTransaction: r.OrigTransaction, State: r.State, Outcome: r.Outcome,
		MaskedPAN: r.MaskedPAN, LastFour: r.LastFour, Brand: r.Brand, EntryMode: r.EntryMode,
		TransactionID: r.TransactionID, StatusID: r.StatusID, ReasonCodeID: r.ReasonCodeID,
		AuthCode: r.AuthCode, AuthAmount: r.AuthAmount, Verbiage: r.Verbiage, AVS: r.AVS,
		Receipt: r.Receipt, Error: r.Error, Code: r.Code, Created: r.Created, Updated: r.Updated,
		Acked: r.Acked, CardCompletion: r.CardCompletion, VoidAPIID: r.VoidAPIID, ReversalOf: r.ReversalOf,
	}
}

// resultsOf converts a list of records.
func resultsOf(recs []journal.Record) []sale.Result {
	out := make([]sale.Result, len(recs))
	for i := range recs {
		out[i] = resultOf(&recs[i])
	}
	return out
}

func ptr[T any](v T) *T { return &v }
