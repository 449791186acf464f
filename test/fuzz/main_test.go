package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// raceOutput is what CI printed when the coordinator race failed a target
// that had found nothing (Go 1.26.8, FuzzDecodeLogin, 5 s).
const raceOutput = `fuzz: elapsed: 0s, gathering baseline coverage: 0/202 completed
fuzz: elapsed: 1s, gathering baseline coverage: 202/202 completed, now fuzzing with 1 workers
fuzz: elapsed: 3s, execs: 20591 (6863/sec), new interesting: 1 (total: 203)
fuzz: elapsed: 5s, execs: 39423 (9239/sec), new interesting: 3 (total: 205)
--- FAIL: FuzzDecodeLogin (5.05s)
    context deadline exceeded
FAIL
exit status 1
FAIL	github.com/posagent/posagent/internal/gateway/paidyet	5.066s
`

func TestClassify(t *testing.T) {
	tests := []struct {
		name    string
		output  string
		written []string
		want    verdict
	}{
		{"the coordinator race", raceOutput, nil, coordinatorRace},
		{"the race, but an input was written", raceOutput, []string{"582528ddfad69eb5"}, finding},
		{"a crash", `fuzz: elapsed: 2s, execs: 1000 (500/sec), new interesting: 0 (total: 3)
--- FAIL: FuzzDecodeLogin (2.11s)
    --- FAIL: FuzzDecodeLogin (0.00s)
        testing.go:1591: panic: runtime error: index out of range [3] with length 3

    Failing input written to testdata/fuzz/FuzzDecodeLogin/582528ddfad69eb5
    To re-run:
    go test -run=FuzzDecodeLogin/582528ddfad69eb5
FAIL
`, nil, finding},
		{"a failing seed", `--- FAIL: FuzzDecodeLogin (0.01s)
    --- FAIL: FuzzDecodeLogin/seed#0 (0.00s)
        login_test.go:40: decoded token "x", want ""
FAIL
`, nil, finding},
		{"the deadline line plus a check that failed", `--- FAIL: FuzzDecodeLogin (5.02s)
    login_test.go:40: round trip differs
    context deadline exceeded
FAIL
`, nil, finding},
		{"another target failed", `--- FAIL: FuzzOther (5.05s)
    context deadline exceeded
FAIL
`, nil, finding},
		{"a hang", `fuzz: elapsed: 12s, execs: 9000 (0/sec), new interesting: 0 (total: 3)
--- FAIL: FuzzDecodeLogin (12.00s)
    fuzzing process hung or terminated unexpectedly: exit status 2
    Failing input written to testdata/fuzz/FuzzDecodeLogin/aa
FAIL
`, nil, finding},
		{"a build failure", "# github.com/posagent/posagent/internal/gateway/paidyet\n./login.go:3:1: syntax error\nFAIL\n", nil, finding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.output, "FuzzDecodeLogin", tt.written); got != tt.want {
				t.Errorf("classify = %d, want %d", got, tt.want)
			}
		})
	}
}

// module writes a throwaway module with one passing and one failing fuzz
// target, so the runner's go test calls write nothing into this repo.
func module(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/fz\n\ngo 1.25\n",
		"fz.go":  "package fz\n\nfunc Len(s string) int { return len(s) }\n",
		"fz_test.go": `package fz

import "testing"

func FuzzOK(f *testing.F) {
	f.Add("a")
	f.Fuzz(func(t *testing.T, s string) {
		if Len(s) != len(s) {
			t.Fatal("length")
		}
	})
}

func FuzzBad(f *testing.F) {
	f.Add("boom")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "boom" {
			t.Fatal("boom")
		}
	})
}
`,
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// inModule runs the runner from inside dir.
func inModule(t *testing.T, dir string, o options) (int, string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out strings.Builder
	code := run(o, []string{"./..."}, &out)
	return code, out.String()
}

func TestRunFindsFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	code, out := inModule(t, module(t), options{fuzztime: "200x", tags: "x", goCmd: goCmd})
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "2 targets, 1 failed") || !strings.Contains(out, "FAILED: example.com/fz FuzzBad") {
		t.Errorf("summary does not name FuzzBad alone:\n%s", out)
	}
	code, out = inModule(t, module(t), options{fuzztime: "200x", tags: "x", goCmd: goCmd, match: "^FuzzOK$"})
	if code != 0 || !strings.Contains(out, "1 targets, 0 failed") {
		t.Errorf("FuzzOK alone: exit %d\n%s", code, out)
	}
}

// fakeGo is a go command whose fuzzing always ends in the coordinator race
// and whose replay passes unless FAKE_REPLAY_FAILS is set; go list is real.
func fakeGo(t *testing.T) string {
	t.Helper()
	real, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	script := `#!/bin/sh
case "$*" in
list*) exec ` + real + ` "$@" ;;
*"-fuzz "*) printf '%s' "$FAKE_RACE_OUTPUT"; exit 1 ;;
*) [ -n "$FAKE_REPLAY_FAILS" ] && { echo "--- FAIL: FuzzOK/seed#0"; exit 1; }; echo ok; exit 0 ;;
esac
`
	p := filepath.Join(t.TempDir(), "go")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunToleratesCoordinatorRace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	t.Setenv("FAKE_RACE_OUTPUT", strings.ReplaceAll(raceOutput, "FuzzDecodeLogin", "FuzzOK"))
	o := options{fuzztime: "5s", tags: "x", goCmd: fakeGo(t), match: "^FuzzOK$"}
	code, out := inModule(t, module(t), o)
	if code != 0 || !strings.Contains(out, "race, replayed clean: example.com/fz FuzzOK") {
		t.Errorf("race with a clean replay: exit %d\n%s", code, out)
	}
	t.Setenv("FAKE_REPLAY_FAILS", "1")
	code, out = inModule(t, module(t), o)
	if code != 1 || !strings.Contains(out, "FAILED: example.com/fz FuzzOK") {
		t.Errorf("race with a failing replay: exit %d\n%s", code, out)
	}
}
