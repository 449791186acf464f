// Command chaos runs many sales through the real posagent binary — simulated
// reader, websocket client, the sandbox gateway behind a fault-injecting
// proxy — with faults drawn at random: commit-then-timeout, 500 and reset
// after the gateway committed, reset before it did, 429, slow answers
// (delayed between a quarter and 1¾ of the agent's 1 s gateway timeout, so
// some arrive late and some only after the agent gave up and must look the
// sale up), the websocket client dropping mid-sale, and the agent killed
// with SIGKILL at a random moment and restarted. A share of the sales are
// contact chip reads, which wait for the gateway's answer (the completion),
// and a share of those fail at completion — the card declines the approval,
// or the reader is unplugged before the card is told (picked by the
// amount's cents, see reader/sim) — so that the agent must void the
// approval, sometimes through a gateway fault of its own. The agent runs
// with [journal] keep_days = 1 and, before every start, the harness seeds
// its journal with old, finished, acknowledged sales (-old), which the
// agent archives and compacts away at that start; before a share of the
// sales (-retention-kills) the agent is restarted and killed 0-1 s later,
// while it retains or compacts. It then
// reconciles the gateway's records, the agent's journal and what the
// client was told, prints the counts, and exits 1 if any sale was charged
// twice, lost its outcome, is still unresolved, or is charged although its
// chip card did not accept the approval, if a transaction was voided
// twice, or if a seeded old sale is not exactly once in journal ∪ archive.
//
//	go run ./test/chaos -n 2000 -bin bin/posagent
//
// For make leakscan it keeps everything in one directory and captures what
// crossed the agent's boundaries, as plain text lines:
//
//	go run ./test/chaos -n 100 -bin bin/posagent -log-level debug -dir DIR -capture
//
// DIR then holds agent.log (the agent's stdout and stderr, every restart),
// state/journal.db, ws.capture (every websocket frame: time, send or recv,
// payload) and gateway-responses.capture (the sandbox's answer to every
// request the proxy forwarded). Requests to the gateway are not captured:
// they carry ciphertext (e_track_data) by contract.
package main
