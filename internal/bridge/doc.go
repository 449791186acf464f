// Package bridge is the agent's local face to browser POS pages: a loopback
// HTTP server with the websocket protocol v1 (docs/protocol.md) at /v1/ws,
// the demo POS page and posagent.js, /healthz and a hand-written Prometheus
// /metrics.
//
// It owns admission (admission.go) — the Host header must name this
// computer (the DNS-rebinding guard), and a connection must present a token
// unless its Origin is a configured allowed origin or the own page where
// that is trusted (demo); connections that are not admitted yet have their
// own pool, a hello deadline and capped, per-site pairing questions — the
// pairing store (token hashes in a 0600 JSON file in the state dir), the
// protocol's message types and their mapping from engine updates, and the
// routing of updates to the connection that asked for them.
//
// The bridge never sees card data beyond what may be shown: masked PAN,
// last four, brand and entry mode. The one exception is the simulate
// request, which carries a public sandbox test card number from the demo
// page to the simulated reader; it is accepted only when a Simulator is
// wired for the sandbox gateway, and it is never logged or echoed.
//
// The engine, the simulator and the cashier's pairing dialog are consumed
// through the small interfaces declared in engine.go; the composition root
// passes the real ones in Options.
package bridge
