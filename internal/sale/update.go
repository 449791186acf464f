package sale

import (
	"time"

	"github.com/posagent/posagent/internal/card"
)

// UpdateKind says what an Update carries.
type UpdateKind string

// Update kinds.
const (
	UpdatePrompt  UpdateKind = "prompt"
	UpdateCard    UpdateKind = "card"
	UpdateResult  UpdateKind = "result"
	UpdateReader  UpdateKind = "reader"
	UpdateWarning UpdateKind = "warning" // a refused read, a guard, a damaged journal: tell the cashier
)

// Card is what may be shown of a read: masked only.
type Card struct {
	EntryMode card.EntryMode
	Brand     card.Brand
	MaskedPAN card.MaskedPAN
	LastFour  string
}

// ReaderEvent is a reader coming, going or breaking.
type ReaderEvent struct {
	// Kind is "attached", "detached" or "broken" (protocol v1's reader
	// event; internal/reader's EventKind of the same name).
	Kind   string
	Reader Reader
}

// Update is one thing a sale (or the agent) publishes to its clients, the
// websocket and the window. Nothing in it holds clear card data.
type Update struct {
	Kind             UpdateKind
	ClientID         string // the request id the client chose
	Origin           string // who asked: a web origin, "ui" or "cli"
	TransactionAPIID string
	Prompt           Prompt       // UpdatePrompt
	Card             *Card        // UpdateCard
	Result           *Result      // UpdateResult
	Reader           *ReaderEvent // UpdateReader
	Warning          string       // UpdateWarning
	Code             string       // warning code, e.g. clear_track_data, replayed_read
	// ReadAt is when the reader delivered the read's last byte (card
	// updates): the start of the agent's own latency.
	ReadAt time.Time
}
