// Command fuzz runs every fuzz target in the module for a fixed time each,
// the corpora kept in each package's testdata/fuzz:
//
//	go run ./test/fuzz -fuzztime 10m
//
// It exists, rather than a loop over `go test -fuzz`, because Go 1.26's
// fuzzing coordinator sometimes fails a target at the end of its -fuzztime
// with a bare "context deadline exceeded" although nothing was found: the
// deadline races the coordinator's own check for it (go.dev/issue/75804,
// fixed in Go 1.27). A loop would turn that into a red build at random.
// This runner tells the race apart from a finding — a finding writes a
// failing input to testdata/fuzz or prints something beyond that one line —
// and, before calling it the race, replays the target's seeds and corpus
// with `go test -run`; only a clean replay passes. Anything else fails the
// run, after every target has had its turn, and the summary names it.
package main
