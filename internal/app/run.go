package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/logging"
	"github.com/posagent/posagent/internal/sdnotify"
	"github.com/posagent/posagent/internal/secrets"
	"github.com/posagent/posagent/internal/ui"
)

// RunOptions are the command-line choices of `posagent run` and `demo`.
type RunOptions struct {
	Demo, Headless, InsecureListenAny bool
	// Listen and LogLevel override the config when set.
	Listen, LogLevel string
	StateDir         string
	// PairCommand is the pair command that reaches this agent (Options).
	PairCommand string
	// ConfigPath is where the settings window saves ("" in the demo).
	ConfigPath     string
	Version        string
	Stdout, Stderr io.Writer
	// LogWriter receives the log (default os.Stderr; the Windows service
	// passes the event log).
	LogWriter io.Writer
}

// Exit codes of run and demo, chosen so that service managers can act on
// them: systemd's unit has RestartPreventExitStatus=78, because restarting
// cannot fix a configuration error.
const (
	ExitOK      = 0
	ExitFailure = 1  // a runtime failure: restarting may help
	ExitUsage   = 2  // bad command-line flags
	ExitConfig  = 78 // EX_CONFIG (sysexits.h): the configuration is wrong or missing
)

// LoadConfig reads the file at path (a missing file is an error that says
// what to do) and applies the POSAGENT_* overrides.
func LoadConfig(path string) (*config.Config, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no config file at %s: create one from the commented template packaging/linux/posagent.toml (Configure in README.md, readers in docs/readers.md), pass --config, or try `posagent demo`", path)
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

// DemoConfig is the demo's configuration: the simulated reader and the
// embedded sandbox, speaking Paya Connect ("sandbox", the default) or
// PaidYET v3 ("paidyet": stored-card sales only, reader sales refused).
func DemoConfig(gw string) (*config.Config, error) {
	cfg := config.Default()
	switch gw {
	case "", config.GatewaySandbox:
	case config.GatewayPaidYET:
		cfg.Gateway.Kind, cfg.Gateway.URL = config.GatewayPaidYET, config.SandboxURL
		cfg.Gateway.Subdomain, cfg.Gateway.UserAPIKey = sandbox.PaidYETSubdomain, sandbox.PaidYETKey
	default:
		return nil, fmt.Errorf("--gateway %q: use sandbox (Paya Connect v2) or paidyet (PaidYET v3)", gw)
	}
	return cfg, nil
}

// CheckConfig loads the config file at path and validates it as `run`
// would, with the API key stored in stateDir's secret store: nil when the
// agent could start with it.
func CheckConfig(path, stateDir string) error {
	cfg, err := LoadConfig(path)
	if err != nil {
		return err
	}
	if err := ResolveAPIKey(cfg, stateDir); err != nil {
		return err
	}
	if err := validate(cfg, false); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ResolveAPIKey fills in the gateway's API key from the secret store (the
// OS keyring, else stateDir's secret file — where the settings window
// saves it) when neither the environment nor the file gave one. It runs
// before validation, which would otherwise call a stored key missing.
// No key stored is not an error here: validation says what to do.
func ResolveAPIKey(cfg *config.Config, stateDir string) error {
	g := &cfg.Gateway
	if g.UserAPIKey != "" || (g.Kind != config.GatewayPaya && g.Kind != config.GatewayPaidYET) {
		return nil
	}
	key, err := secrets.New(stateDir).Get("user_api_key")
	switch {
	case err == nil:
		g.UserAPIKey = key
	case !errors.Is(err, secrets.ErrNotFound):
		return fmt.Errorf("gateway.user_api_key: %w", err)
	}
	return nil
}

// Run runs the agent until ctx ends (SIGINT/SIGTERM) or the cashier quits
// the window, and returns the process exit code. With a display and without
// Headless the cashier window runs on this goroutine, which must be the
// main one (fyne needs it).
func Run(ctx context.Context, cfg *config.Config, o RunOptions) int {
	fail := func(err error) int {
		fmt.Fprintf(o.Stderr, "posagent: %v\n", err)
		return ExitFailure
	}
	if o.Listen != "" {
		cfg.Listen = o.Listen
	}
	if o.LogLevel != "" {
		cfg.LogLevel = o.LogLevel
	}
	if !o.Demo {
		if err := ResolveAPIKey(cfg, o.StateDir); err != nil {
			fmt.Fprintf(o.Stderr, "posagent: %v\n", err)
			return ExitConfig
		}
	}
	if err := validate(cfg, o.InsecureListenAny); err != nil {
		fmt.Fprintf(o.Stderr, "posagent: %v\n", err)
		return ExitConfig
	}
	level, _ := logging.ParseLevel(cfg.LogLevel)
	logOut := o.LogWriter
	if logOut == nil {
		logOut = os.Stderr
	}
	log := logging.New(logOut, level)
	if err := EnsureStateDir(o.StateDir); err != nil {
		return fail(err)
	}
	// The window's pairing dialog answers the bridge, so it is referenced
	// before the window exists (atomically).
	var window atomic.Pointer[ui.UI]
	withUI := !o.Headless && ui.DisplayAvailable()
	opts := Options{Config: cfg, StateDir: o.StateDir, Log: log, Demo: o.Demo, InsecureListenAny: o.InsecureListenAny,
		Stdout: o.Stdout, Version: o.Version, ConfigPath: o.ConfigPath, PairCommand: o.PairCommand}
	if withUI {
		opts.Pairer = UIPairer(func(ctx context.Context, origin string) (ui.Decision, error) {
			if w := window.Load(); w != nil {
				return w.AskPairing(ctx, origin)
			}
			return ui.DecisionDeny, errors.New("the cashier window is not open yet")
		})
	}
	a, err := New(opts)
	if err != nil {
		return fail(err)
	}
	if err := a.Start(ctx); err != nil {
		return fail(err)
	}
	if removeRuntime, err := writeRuntime(o.StateDir, Runtime{PID: os.Getpid(), URL: a.URL(), Demo: o.Demo, Version: o.Version}); err != nil {
		log.Warn("posagent pair will not find this agent", "error", err)
	} else {
		defer removeRuntime()
	}
	printBanner(o.Stdout, a, o.Demo)
	// Under systemd (Type=notify) the unit counts as started only now,
	// with the listener bound: a POS page started after it can connect.
	notify := sdnotify.FromEnv()
	if err := notify.Ready("listening on " + a.URL()); err != nil {
		log.Warn("could not tell systemd the agent is ready", "error", err)
	}
	if withUI {
		w := ui.New(a.UIBackend(), ui.Options{Title: "posagent", Version: o.Version, Logger: log})
		window.Store(w)
		err := w.Run(ctx)
		switch {
		case errors.Is(err, ui.ErrNoDisplay) || errors.Is(err, ui.ErrHeadless):
			log.Warn("no cashier window: running headless", "reason", err)
			<-ctx.Done()
		case err != nil:
			log.Error("cashier window", "error", err)
		}
	} else {
		<-ctx.Done()
	}
	log.Info("stopping: finishing or journaling any sale in flight")
	_ = notify.Stopping("finishing or journaling any sale in flight")
	a.Stop()
	if err := a.Wait(); err != nil {
		log.Error("agent stopped with an error", "error", err)
		return ExitFailure
	}
	return ExitOK
}

// validate checks the config; --insecure-listen-any waives the loopback rule.
func validate(cfg *config.Config, insecureAny bool) error {
	err := cfg.Validate()
	var ve *config.ValidationError
	if err == nil || !insecureAny || !errors.As(err, &ve) {
		return err
	}
	kept := ve.Problems[:0]
	for _, p := range ve.Problems {
		if p.Field != "listen" {
			kept = append(kept, p)
		}
	}
	if ve.Problems = kept; len(kept) == 0 {
		return nil
	}
	return ve
}

func printBanner(w io.Writer, a *App, demo bool) {
	name := "posagent"
	if demo {
		name = "posagent demo"
	}
	fmt.Fprintf(w, "%s is running.\n  POS page:   %s\n  websocket:  %sv1/ws  (protocol: docs/protocol.md)\n",
		name, a.URL(), "ws"+strings.TrimPrefix(a.URL(), "http"))
	if u := a.SandboxURL(); u != "" {
		fmt.Fprintf(w, "  sandbox:    %s  (Paya Connect v2 at /v2/, PaidYET v3 at /v3/; docs/sandbox.md)\n", u)
	}
	switch {
	case demo && a.o.Config.Gateway.Kind == config.GatewayPaidYET:
		fmt.Fprintf(w, "  gateway:    PaidYET v3 (embedded sandbox): no reader sales (v3 takes no card data from readers);\n"+
			"              charge a stored card with a sale's card_token: %s approves, %s declines\n",
			sandbox.PaidYETTokenApproved, sandbox.PaidYETTokenDeclined)
	case demo:
		fmt.Fprintln(w, "  reader:     simulated ID TECH VP3300 (swipe, chip, tap): use the page's test-card buttons")
	}
	if origins := a.o.Config.AllowedOrigins; len(origins) > 0 {
		fmt.Fprintf(w, "  allowed:    %s\n", strings.Join(origins, ", "))
	}
	pair := a.o.PairCommand
	if pair == "" {
		pair = "posagent pair"
	}
	fmt.Fprintf(w, "  your page:  %s --origin URL  (pairings in %s)\n", pair, a.o.StateDir)
	fmt.Fprintln(w, "Stop with Ctrl-C.")
}
