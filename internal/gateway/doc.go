// Package gateway owns the contract between the sale engine and a payment
// gateway: the Gateway interface, the normalized Request and Result, the
// gateway Capabilities, and the error classes the engine's exactly-once
// logic rests on:
//
//   - Declined: the gateway answered and said no. Nothing to resolve.
//   - Retryable: the request provably never left this machine (DNS failure,
//     connection refused, TLS handshake failure) or the gateway refused it
//     before processing (429). Sending it again is safe.
//   - Ambiguous: the request may have been committed (timeout after it was
//     written, 5xx, connection reset after the write, an unreadable success
//     body). It must be resolved by lookup (Gateway.Resolve with the
//     transaction_api_id), never by sending it again blind.
//   - Rejected: the gateway refused the request (4xx); sending it again
//     unchanged gives the same answer.
//   - Invalid: client-side validation failed; nothing was sent.
//
// It also holds the HTTP plumbing both clients share (Send, CheckBaseURL,
// NewHTTPClient): the TLS 1.2 floor, the loopback-only plain-HTTP rule and the
// classification of transport failures by what provably reached the wire.
// Concrete clients live in payaconnect/ and paidyet/; the conformance suite
// and the fault-injecting proxy in gatewaytest/.
package gateway
