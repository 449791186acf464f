package svc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/posagent/posagent/internal/config"
)

// State is what the service manager says about the service.
type State string

// States. Unavailable means this machine's service manager cannot run
// posagent (Linux without systemd).
const (
	StateRunning      State = "running"
	StateStarting     State = "starting"
	StateStopping     State = "stopping"
	StateStopped      State = "stopped"
	StateFailed       State = "failed"
	StateNotInstalled State = "not installed"
	StateUnavailable  State = "unavailable"
	StateUnknown      State = "unknown"
)

// Report is `posagent service status`: the service manager's view, the
// config, whether the bridge answers, and where to look next. It needs no
// privileges; what it cannot see without them it says.
type Report struct {
	Manager    string `json:"manager"`
	State      State  `json:"state"`
	Detail     string `json:"detail,omitempty"`
	Definition string `json:"definition"`
	Config     string `json:"config"`
	ConfigNote string `json:"config_note"`
	StateDir   string `json:"state_dir"`
	Bridge     string `json:"bridge"`
	Healthy    bool   `json:"healthy"`
	Health     string `json:"health"`
	Logs       string `json:"logs"`
	Next       string `json:"next,omitempty"`
}

// Exit codes of `service status`, after `systemctl status`: scripts on a
// kiosk can test them.
const (
	StatusRunning      = 0 // running and the bridge answers
	StatusUnhealthy    = 1 // running (or unknown) but the bridge does not answer
	StatusNotRunning   = 3 // installed, stopped or failed
	StatusNotInstalled = 4 // not installed, or no usable service manager
)

// ExitCode is the process exit code for the report.
func (r Report) ExitCode() int {
	switch r.State {
	case StateRunning, StateStarting:
		if r.Healthy {
			return StatusRunning
		}
		return StatusUnhealthy
	case StateStopped, StateFailed, StateStopping:
		return StatusNotRunning
	case StateNotInstalled, StateUnavailable:
		return StatusNotInstalled
	}
	return StatusUnhealthy
}

// Write prints the report for a person.
func (r Report) Write(w io.Writer) {
	state := string(r.State)
	if r.Detail != "" {
		state += ": " + r.Detail
	}
	fmt.Fprintf(w, "posagent service: %s\n", state)
	rows := [][2]string{
		{"manager", r.Manager}, {"definition", r.Definition}, {"config", r.Config + " — " + r.ConfigNote},
		{"state dir", r.StateDir}, {"bridge", r.Bridge + " — " + r.Health}, {"logs", r.Logs},
	}
	for _, row := range rows {
		fmt.Fprintf(w, "  %-11s %s\n", row[0]+":", row[1])
	}
	if r.Next != "" {
		fmt.Fprintf(w, "next: %s\n", r.Next)
	}
}

// Status reports on the service.
func (c *Controller) Status(ctx context.Context) Report {
	r := Report{
		Manager:    c.be.manager(),
		Definition: c.be.definition(),
		Config:     c.opts.Paths.ConfigFile,
		StateDir:   c.opts.Paths.StateDir,
		Logs:       c.be.logs(),
	}
	if err := c.be.available(); err != nil {
		r.State, r.Detail = StateUnavailable, err.Error()
	} else if st, detail, err := c.be.state(ctx); err != nil {
		r.State, r.Detail = StateUnknown, err.Error()
	} else {
		r.State, r.Detail = st, detail
	}
	listen, note := c.configNote()
	r.ConfigNote = note
	r.Bridge = "http://" + listen + "/"
	r.Healthy, r.Health = probe(ctx, listen)
	r.Next = c.next(r)
	return r
}

// configNote reads the service's config as the calling user can, and says
// what it found; it returns the listen address to probe.
func (c *Controller) configNote() (listen, note string) {
	listen, err := c.listenFor(c.opts.Paths.ConfigFile)
	switch {
	case err == nil:
		note = "ok"
		if c.opts.CheckConfig != nil {
			if verr := c.opts.CheckConfig(c.opts.Paths.ConfigFile); verr != nil {
				note = "has problems: " + verr.Error()
			}
		}
		return listen, note
	case errors.Is(err, fs.ErrNotExist):
		note = "missing: `posagent service install` writes a template (or install the package); see README \"Configure\""
	case errors.Is(err, fs.ErrPermission):
		note = fmt.Sprintf("exists but %s may not read it (it can hold the API key: root and the posagent group only); run the status as root to check it", currentUser())
	default:
		note = "unreadable: " + err.Error()
	}
	return config.DefaultListen, note
}

func (c *Controller) next(r Report) string {
	switch r.State {
	case StateNotInstalled:
		return privilegeHint("install")
	case StateStopped:
		return privilegeHint("start")
	case StateFailed:
		if r.ConfigNote != "ok" {
			return "fix the config (" + r.Config + "), then " + privilegeHint("start")
		}
		return "read the log (" + r.Logs + "), then " + privilegeHint("start")
	case StateRunning, StateStarting:
		if !r.Healthy {
			return "the service runs but the bridge does not answer: read the log (" + r.Logs + ")"
		}
	}
	return ""
}

// listenFromConfig is the bridge address in the config file at path.
func listenFromConfig(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	cfg, err := config.Load(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if cfg.Listen == "" {
		return config.DefaultListen, nil
	}
	return cfg.Listen, nil
}

// probe asks the bridge's /healthz.
func probe(ctx context.Context, listen string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+listen+"/healthz", nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return false, "not answering (" + op.Err.Error() + ")"
		}
		return false, "not answering (" + err.Error() + ")"
	}
	defer resp.Body.Close()
	var h struct {
		Version   string `json:"version"`
		Readers   int    `json:"readers"`
		ReadersOK int    `json:"readers_ok"`
		Clients   int    `json:"clients"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&h) != nil {
		return false, fmt.Sprintf("answering, but not like posagent (HTTP %d): another program has the port?", resp.StatusCode)
	}
	return true, fmt.Sprintf("answering: version %s, readers %d/%d ok, %d POS page(s) connected", h.Version, h.ReadersOK, h.Readers, h.Clients)
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return "user " + u.Username
	}
	return "this user"
}
