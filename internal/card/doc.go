// Package card holds the domain values every stage of posagent shares: a card
// Read, the encrypted Envelope forwarded to the gateway, MaskedPAN, KSN,
// EntryMode and DeviceInfo — and the card-data policy (FindCardData,
// ContainsCardData, RedactPANs: redact.go), the one definition of a card
// number or track in free text that request validation, the journal, the
// logs, the websocket, the gateway clients and cmd/leakscan all use.
//
// The package imports nothing internal. Values that carry card data implement
// slog.LogValuer so that logging one prints its masked form only: a clear PAN,
// a track, a key or ciphertext can never reach a log line through this package.
package card
