// Package browser holds the end-to-end tests of the demo POS page and
// posagent.js in a real headless Chromium, driven by playwright-core.
//
// TestBrowserDemoPairing (agent_test.go, agent.mjs) builds bin/posagent and
// runs a real `posagent demo`: pages on their own origins admitted by
// --allow-origin, by `posagent pair`, and by following the not_paired
// message; connect({timeout}) against no agent; the examples/ pages; the
// simulator's scenarios; the demo page's down state when the agent stops.
// It compares docs/protocol.md's examples with the messages the demo sent,
// checks the demo's log for repeated attributes, and scans log and frames
// for card data. TestErrorCodeUnionComplete checks posagent.d.ts's
// ErrorCode against the codes in the Go source.
//
// TestBrowser runs e2e.mjs (the demo page: sales, keyboard, Esc, second
// tab, layouts with screenshots at 1280x800, 1024x600 and 390x844). The Go test starts the bridge over bridgetest's fake engine
// (approves, declines the sandbox's decline amounts such as 6.16) and a
// second "foreign" POS page on another origin that pairs with the agent.
//
// Set BASE_URL to run the same script against a real agent, e.g. the one
// `posagent demo --headless` starts; run.sh installs Chromium and
// playwright-core when they are missing. Set WS_CAPTURE to a file to have
// e2e.mjs write every websocket frame of its pages there, one plain text
// line each, for make leakscan.
package browser
