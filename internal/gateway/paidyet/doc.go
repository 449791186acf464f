// Package paidyet is the client of the PaidYET v3 REST API: /v3/login
// bearer tokens (refreshed before they expire and once on a 401),
// client-side pacing that never exceeds the API's 75 calls a minute or 7000
// a day, transactions (sale, auth, capture, void, refund, get, search) and
// cards (tokenize, get by token or external id), with every answer decoded
// from the API's ApiResponse envelope.
//
// The v3 API has no field for encrypted track data: a card-present read
// (card.Envelope) cannot be sent to PaidYET and is refused before anything
// leaves the machine. Sales go through a card token.
//
// To make an ambiguous sale resolvable, the client stores the caller's
// transaction_api_id on the transaction twice: as external_id and as the
// custom field "transaction_api_id", which the search endpoint can filter
// on. Resolve searches by it and checks every hit for an exact match.
package paidyet
