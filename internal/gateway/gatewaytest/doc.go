// Package gatewaytest holds what every gateway client is tested with: one
// conformance suite (RunSuite) that each client passes against its backend,
// and Proxy, a fault-injecting http.Handler in front of a backend that
// commits a request and then times out, answers 500, resets the connection,
// or refuses with 429. The suite proves that no fault makes a second charge
// at the backend and that every ambiguous outcome is resolved by lookup.
package gatewaytest
