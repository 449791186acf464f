// Package payaconnect is the client of the Paya Connect v2 REST API: the
// transactions endpoint (every action, with the seed's per-action field rules
// checked before sending), transaction lookup and list filters, and
// /v2/locationinfos for discovering location and product transaction ids.
//
// Request and response bodies follow the API reference exactly: a
// transaction travels wrapped as {"transaction": {...}}, a list as
// {"transactions": [...], "meta": {...}}. New transactions are POSTed to
// /v2/transactions; changes to one (authcomplete, authincrement, void,
// partialreversal, tipadjust, edit) are PUT to /v2/transactions/{id}.
//
// The client never sends a request twice. An ambiguous failure (timeout
// after the write, 5xx, reset) is resolved with Resolve, a GET
// /v2/transactions?transaction_api_id=... as the reference's "Timeout
// Handling" demands. Card data (e_track_data, account numbers) lives only in
// request bodies, which are never logged.
package payaconnect
