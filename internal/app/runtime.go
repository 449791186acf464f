package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// RuntimeFile is the file a running agent keeps in its state directory:
// it tells `posagent pair` which agent uses the directory and where it
// listens, so that pairing reaches the agent the cashier actually runs
// (the demo's directory is not the service's).
const RuntimeFile = "agent.json"

// Runtime describes a running agent.
type Runtime struct {
	PID     int    `json:"pid"`
	URL     string `json:"url"`
	Demo    bool   `json:"demo"`
	Version string `json:"version"`
	// StateDir is filled in by ReadRuntime (not stored).
	StateDir string `json:"-"`
}

// Name is how a person would call the agent: "posagent demo" or "posagent".
func (r Runtime) Name() string {
	if r.Demo {
		return "posagent demo"
	}
	return "posagent"
}

// writeRuntime writes dir/agent.json; the returned func removes it.
func writeRuntime(dir string, r Runtime) (func(), error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, RuntimeFile)
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return func() { _ = os.Remove(path) }, nil
}

// ReadRuntime reads dir/agent.json and checks that the agent it names is
// still running: its process exists and it answers /healthz at its URL
// within a second. An agent that was killed leaves the file behind; that is
// reported as not running.
func ReadRuntime(ctx context.Context, dir string) (Runtime, error) {
	var r Runtime
	b, err := os.ReadFile(filepath.Join(dir, RuntimeFile))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil || r.URL == "" {
		return r, fmt.Errorf("%s: not an agent runtime file", filepath.Join(dir, RuntimeFile))
	}
	r.StateDir = dir
	// A killed agent leaves its file behind, and another agent may listen
	// on its port now: the process must exist as well as the URL answer.
	if r.PID <= 0 || !processAlive(r.PID) {
		return r, fmt.Errorf("the agent of %s (pid %d) is not running", filepath.Join(dir, RuntimeFile), r.PID)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"healthz", nil)
	if err != nil {
		return r, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, fmt.Errorf("the agent at %s does not answer: %w", r.URL, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return r, errors.New("the agent at " + r.URL + " answered " + res.Status)
	}
	return r, nil
}
