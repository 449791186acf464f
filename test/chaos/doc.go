// Command chaos runs many sales through the real posagent binary — simulated
// reader, websocket client, the sandbox gateway behind a fault-injecting
// proxy — with faults drawn at random: commit-then-timeout, 500 and reset
// after the gateway committed, reset before it did, 429, slow answers
// (delayed between a quarter and 1¾ of the agent's 1 s gateway timeout, so
// some arrive late and some only after the agent gave up and must look the
// sale up), the websocket client dropping mid-sale, and the agent killed
// with SIGKILL at a random moment and restarted. It then reconciles the
// gateway's records, the agent's journal and what the client was told,
// prints the counts, and exits 1 if any sale was charged twice, lost its
// outcome, or is still unresolved.
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
