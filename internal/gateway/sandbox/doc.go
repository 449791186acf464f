// Package sandbox is the embedded sandbox gateway: one http.Handler that
// emulates Paya Connect v2 under /v2/ and PaidYET v3 under /v3/, with the
// behaviour of the vendors' published sandboxes (shared/reference/
// gateway-sandbox.md): amount-driven declines and delays, AVS and CVV test
// values, test cards, status/type/reason ids, transaction_api_id uniqueness
// and lookup, auth/capture/void/refund state rules, ACH, and PaidYET's login
// tokens and rate limits.
//
// It owns the only gateway-side decryption in posagent: a POST carrying
// e_format, e_track_data and e_serial_number is decrypted with the public
// ANSI X9.24 test BDK (through internal/decrypt/dukpt, the one package that
// holds DUKPT and cipher code) to find the card, exactly as a real gateway
// decrypts with the merchant's BDK. This package only cuts the ciphertext
// blocks and the KSN out of the four e_track_data layouts and reads the PAN,
// name and expiry out of the decrypted tracks; data it cannot cut, decrypt or
// parse declines with reason 1621 (encryption error).
//
// Clear card numbers live only on the stack of one request. State keeps the
// first six and last four digits, the brand and, for PaidYET tokens, the
// behaviour of the card; logs and responses never carry a clear PAN, a track,
// a key or ciphertext. The test-card tables are keyed by SHA-256 of the PAN
// (see cards.go) so that no clear test number sits in non-test source.
//
// State is in memory and safe for concurrent use; it is lost when the
// process stops, as befits a sandbox.
package sandbox
