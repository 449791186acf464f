// Package payarules is the request side of Paya Connect's transactions
// endpoint as the seeds state it (shared/seeds/002, "Transactions
// Endpoint", its field table): which fields exist, their formats and
// lengths, and for each action whether a field is required, optional,
// conditional or not to be sent.
//
// It is the one declaration of those rules. The payaconnect client checks
// every request with it before sending, and the embedded sandbox refuses
// with a 422 whatever it refuses, so that the client can never send what
// the sandbox turns away. Rules that need more than the field values (the
// KSN inside encrypted data, the merchant's product settings, the state of
// an earlier transaction) live with the sandbox and the client.
package payarules
