package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/posagent/posagent/internal/app"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/logging"
	"github.com/posagent/posagent/internal/secrets"
	"github.com/posagent/posagent/internal/ui"
)

func init() {
	register(command{name: "run", summary: "run the agent with the configured readers and gateway (the service runs this)", run: runRun})
	register(command{name: "demo", summary: "run the agent with a simulated reader and the embedded sandbox gateway", run: runDemo})
}

// agentFlags are the flags run and demo share.
type agentFlags struct {
	headless, insecureAny bool
	listen, stateDir      string
	logLevel              string
	configPath            string // where the settings window saves ("" in the demo)
}

func (f *agentFlags) register(fs interface {
	BoolVar(*bool, string, bool, string)
	StringVar(*string, string, string, string)
}) {
	fs.BoolVar(&f.headless, "headless", false, "no cashier window (kiosks, services)")
	fs.BoolVar(&f.insecureAny, "insecure-listen-any", false, "allow a non-loopback listen address")
	fs.StringVar(&f.listen, "listen", "", "address of the browser bridge (default "+config.DefaultListen+")")
	fs.StringVar(&f.stateDir, "state-dir", "", "where the journal and pairings live (default: per-OS state directory)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (overrides the config)")
}

func runDemo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("demo", stderr)
	var f agentFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := config.Default()
	if f.stateDir == "" {
		f.stateDir = filepath.Join(config.UserPaths().StateDir, "demo")
	}
	return runAgent(ctx, cfg, f, true, stdout, stderr)
}

func runRun(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	var f agentFlags
	f.register(fs)
	cfgPath := fs.String("config", "", "config file (default: "+config.UserPaths().ConfigFile+")")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	paths := config.UserPaths()
	if os.Geteuid() == 0 {
		paths = config.SystemPaths() // the service
	}
	path := *cfgPath
	if path == "" {
		path = paths.ConfigFile
	}
	cfg, err := loadConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "posagent run: %v\n", err)
		return 1
	}
	if f.stateDir == "" {
		f.stateDir = paths.StateDir
	}
	f.configPath = path
	if cfg.Gateway.Kind != config.GatewaySandbox && cfg.Gateway.UserAPIKey == "" {
		if key, err := secrets.New(f.stateDir).Get("user_api_key"); err == nil {
			cfg.Gateway.UserAPIKey = key
		}
	}
	return runAgent(ctx, cfg, f, false, stdout, stderr)
}

// loadConfig reads the file (a missing file is an error that says what to
// do), then applies POSAGENT_* overrides.
func loadConfig(path string) (*config.Config, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no config file at %s: create one (see ARCHITECTURE §3.2 and docs/readers.md), pass --config, or try `posagent demo`", path)
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	cfg, err := config.Load(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
		return nil, err
	}
	return cfg, nil
}

func runAgent(ctx context.Context, cfg *config.Config, f agentFlags, demo bool, stdout, stderr io.Writer) int {
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	if f.logLevel != "" {
		cfg.LogLevel = f.logLevel
	}
	if err := cfg.Validate(); err != nil {
		var ve *config.ValidationError
		if errors.As(err, &ve) && f.insecureAny {
			ve.Problems = dropListenProblem(ve.Problems)
			if len(ve.Problems) == 0 {
				err = nil
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "posagent: %v\n", err)
			return 1
		}
	}
	level, _ := logging.ParseLevel(cfg.LogLevel)
	log := logging.New(os.Stderr, level)
	if err := app.EnsureStateDir(f.stateDir); err != nil {
		fmt.Fprintf(stderr, "posagent: %v\n", err)
		return 1
	}
	// The window, when there is a display: its pairing dialog answers the
	// bridge, so it is referenced before it exists (atomically).
	var window atomic.Pointer[ui.UI]
	withUI := !f.headless && ui.DisplayAvailable()
	opts := app.Options{Config: cfg, StateDir: f.stateDir, Log: log, Demo: demo, InsecureListenAny: f.insecureAny,
		Stdout: stdout, Version: version, ConfigPath: f.configPath}
	if withUI {
		opts.Pairer = app.UIPairer(func(ctx context.Context, origin string) (ui.Decision, error) {
			if w := window.Load(); w != nil {
				return w.AskPairing(ctx, origin)
			}
			return ui.DecisionDeny, errors.New("the cashier window is not open yet")
		})
	}
	a, err := app.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "posagent: %v\n", err)
		return 1
	}
	if err := a.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "posagent: %v\n", err)
		return 1
	}
	printBanner(stdout, a, demo)
	if withUI {
		// fyne needs the main goroutine: the agent runs in the background
		// and the window here, until the cashier quits or a signal comes.
		w := ui.New(a.UIBackend(), ui.Options{Title: "posagent", Version: version, Logger: log})
		window.Store(w)
		ctx, cancel := context.WithCancel(ctx)
		err := w.Run(ctx)
		cancel()
		if errors.Is(err, ui.ErrNoDisplay) || errors.Is(err, ui.ErrHeadless) {
			log.Warn("no cashier window: running headless", "reason", err)
			<-ctx.Done()
		} else if err != nil {
			log.Error("cashier window", "error", err)
		}
	} else {
		<-ctx.Done()
	}
	log.Info("stopping: finishing or journaling any sale in flight")
	a.Stop()
	if err := a.Wait(); err != nil {
		log.Error("agent stopped with an error", "error", err)
		return 1
	}
	return 0
}

func dropListenProblem(ps []config.Problem) []config.Problem {
	out := ps[:0]
	for _, p := range ps {
		if p.Field != "listen" {
			out = append(out, p)
		}
	}
	return out
}

func printBanner(w io.Writer, a *app.App, demo bool) {
	name := "posagent"
	if demo {
		name = "posagent demo"
	}
	fmt.Fprintf(w, "%s is running.\n  POS page:   %s\n  websocket:  %sv1/ws  (protocol: docs/protocol.md)\n",
		name, a.URL(), "ws"+strings.TrimPrefix(a.URL(), "http"))
	if u := a.SandboxURL(); u != "" {
		fmt.Fprintf(w, "  sandbox:    %s  (Paya Connect v2 at /v2/, PaidYET v3 at /v3/; docs/sandbox.md)\n", u)
	}
	if demo {
		fmt.Fprintln(w, "  reader:     simulated ID TECH VP3300 (swipe, chip, tap): use the page's test-card buttons")
	}
	fmt.Fprintln(w, "Stop with Ctrl-C.")
}
