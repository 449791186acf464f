// Package engine turns card reads into money exactly once. It owns the sale
// state machine (sale, authonly, authcomplete, void, refund, tip adjust,
// cancel), one active sale per reader, the card-data guards (encrypting
// readers only, no replayed or backwards KSNs, no test keys outside the
// sandbox) and the reconciliation that resolves every uncertain outcome by
// looking the transaction up — never by sending it again blind.
//
// The order of operations is the whole point: a sale gets its
// transaction_api_id when it is created, is written to the journal before
// its request leaves, and every state change after that is durable before
// anyone is told about it. On start the engine resolves what a previous run
// left unfinished the same way.
package engine
