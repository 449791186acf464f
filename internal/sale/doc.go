// Package sale is the vocabulary of a sale: how it stands (State), how it
// ended (Outcome), what it ended with (Result, whose receipt is
// card.Receipt), and what a page of history is (Query, Cursor, Page).
//
// It is declared once, here, and spoken by the engine's API, the websocket
// bridge, the cashier window and the composition root; the journal's
// storage row (internal/engine/journal.Record) is the engine's own and
// converts to a Result at the engine's edge. The package imports only
// internal/card (internal/archtest holds it to that).
package sale
