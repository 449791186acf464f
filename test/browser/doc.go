// Package browser holds the end-to-end test of the demo POS page and
// posagent.js in a real headless Chromium, driven by playwright-core
// (e2e.mjs). The Go test starts the bridge over bridgetest's fake engine
// (approves, declines the sandbox's decline amounts such as 6.16) and a
// second "foreign" POS page on another origin that pairs with the agent.
//
// Set BASE_URL to run the same script against a real agent, e.g. the one
// `posagent demo --headless` starts; run.sh installs Chromium and
// playwright-core when they are missing. Set WS_CAPTURE to a file to have
// e2e.mjs write every websocket frame of its pages there, one plain text
// line each, for make leakscan.
package browser
