// Package sale is the vocabulary of a sale, declared once: how it stands
// (State), how it ended (Outcome), what it ended with (Result, whose
// receipt is card.Receipt whole), what the customer is asked (Prompt), what
// it publishes while it runs (Update, with its Card and ReaderEvent), the
// readers it runs on (Reader), and what a page of history is (Query,
// Cursor, Page).
//
// The engine's API speaks it, and so do the websocket bridge, the cashier
// window and the composition root; none of them keeps a mirror. The
// journal's storage row (internal/engine/journal.Record) is the engine's
// own and becomes a Result at the engine's edge. The bridge still declares
// protocol v1's JSON messages (its Receipt, ResultCard, ReaderInfo): they
// are the wire's encoding of these types, kept byte for byte.
//
// The package imports only internal/card (internal/archtest holds it to
// that).
package sale
