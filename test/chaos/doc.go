// Command chaos runs many sales through the real posagent binary — simulated
// reader, websocket client, the sandbox gateway behind a fault-injecting
// proxy — with faults drawn at random: commit-then-timeout, 500 and reset
// after the gateway committed, reset before it did, 429, the websocket
// client dropping mid-sale, and the agent killed with SIGKILL at a random
// moment and restarted. It then reconciles the gateway's records, the
// agent's journal and what the client was told, prints the counts, and
// exits 1 if any sale was charged twice, lost its outcome, or is still
// unresolved.
//
//	go run ./test/chaos -n 2000 -bin bin/posagent
package main
