package app

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/gateway/paidyet"
	"github.com/posagent/posagent/internal/gateway/payaconnect"
	"github.com/posagent/posagent/internal/reader/serial"
	"github.com/posagent/posagent/internal/reader/sim"
)

// ValidateConfig is the one check of a configuration: `run
// --check-config`, `run` (and so the service and its start check) and the
// settings window's save all call it, so that a config one of them accepts
// is one the agent starts with. It is config's rules (Config.Validate:
// listen, allowed_origins, gateway, readers) plus the ones that need the
// runtime, checked with the functions the runtime itself uses:
//   - a simulated reader's model (sim.ParseModel, which Drivers calls) and
//     a serial entry (serial.Port.Validate, likewise);
//   - the state directory and the journal file can be created (with the
//     path Start opens, JournalPath);
//   - the listen host can be bound on this computer (on a free port: the
//     configured one may be held by the agent being checked);
//   - with insecureListenAny (--insecure-listen-any) listen may name any IP
//     address (config.CheckListen).
//
// stateDir "" skips the file checks (the settings window saves a file for
// the next start, whose state directory may differ). The error is a
// *config.ValidationError naming every key at fault.
func ValidateConfig(cfg *config.Config, stateDir string, insecureListenAny bool) error {
	var ps []config.Problem
	if err := cfg.Validate(); err != nil {
		var ve *config.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		ps = ve.Problems
	}
	add := func(field, format string, args ...any) {
		ps = append(ps, config.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if insecureListenAny {
		kept := ps[:0]
		for _, p := range ps {
			if p.Field != "listen" {
				kept = append(kept, p)
			}
		}
		ps = kept
		if err := config.CheckListen(cfg.Listen, true); err != nil {
			add("listen", "%v", err)
		}
	}
	if !hasField(ps, "listen") {
		if err := checkListenHost(cfg.Listen); err != nil {
			add("listen", "%v", err)
		}
	}
	for i, r := range cfg.Readers {
		switch {
		case r.Kind == config.ReaderSim && r.Model != "":
			if _, err := sim.ParseModel(r.Model); err != nil {
				add(fmt.Sprintf("readers[%d].model", i), "%v", err)
			}
		case r.Kind == config.ReaderSerial && !hasField(ps, fmt.Sprintf("readers[%d].protocol", i)):
			// The serial driver's own guard, which Drivers applies: config's
			// rule is the stricter one, this keeps them from drifting apart.
			if err := (serial.Port{Path: r.Path, Protocol: r.Protocol, Baud: r.Baud}).Validate(); err != nil {
				add(fmt.Sprintf("readers[%d]", i), "%v", err)
			}
		}
	}
	if stateDir != "" {
		jp := JournalPath(cfg, stateDir)
		if err := checkCreatable(stateDir, true); err != nil {
			add("--state-dir", "the state directory (journal, pairings, stored key) cannot be created: %v", err)
		} else if err := checkCreatable(jp, false); err != nil {
			add("journal.path", "the sales journal %s cannot be opened or created: %v", jp, err)
		}
	}
	if len(ps) > 0 {
		return &config.ValidationError{Problems: ps}
	}
	return nil
}

func hasField(ps []config.Problem, field string) bool {
	for _, p := range ps {
		if p.Field == field {
			return true
		}
	}
	return false
}

// checkListenHost binds listen's host on a free port and lets it go: an
// address this computer does not have (::1 without IPv6) is refused
// here, not at start.
func checkListenHost(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return fmt.Errorf("%q cannot be listened on here: %w", listen, err)
	}
	return ln.Close()
}

// JournalPath is where the journal lives: journal.path, or journal.db in
// the state directory.
func JournalPath(cfg *config.Config, stateDir string) string {
	if cfg.Journal.Path != "" {
		return cfg.Journal.Path
	}
	return filepath.Join(stateDir, "journal.db")
}

// checkCreatable reports whether path (a directory when dir) exists as
// such and is writable, or can be created: its nearest existing ancestor
// is a directory this process can create files in. It leaves nothing
// behind (a probe file is removed at once).
func checkCreatable(path string, dir bool) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && dir:
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", path)
		}
		return probeDir(path)
	case err == nil:
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory, not a file", path)
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		return f.Close()
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	parent := filepath.Dir(path)
	for {
		fi, err := os.Stat(parent)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", parent)
			}
			return probeDir(parent)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		up := filepath.Dir(parent)
		if up == parent {
			return err
		}
		parent = up
	}
}

// probeDir creates and removes a file in dir: the one portable test that
// this process may create files there.
func probeDir(dir string) error {
	f, err := os.CreateTemp(dir, ".posagent-check-*")
	if err != nil {
		return fmt.Errorf("cannot create files in %s: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// isConfigError reports whether an error from starting the agent is one
// of the configuration, which no restart fixes (exit ExitConfig): the
// gateway clients' refusals of their settings. ValidateConfig should have
// caught it first; this keeps the exit code right if it ever does not.
func isConfigError(err error) bool {
	var ve *config.ValidationError
	return errors.As(err, &ve) || errors.Is(err, payaconnect.ErrConfig) || errors.Is(err, paidyet.ErrConfig)
}
