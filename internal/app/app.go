package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posagent/posagent/internal/bridge"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/paidyet"
	"github.com/posagent/posagent/internal/gateway/payaconnect"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/sim"
)

// Shutdown timing.
const (
	// shutdownGrace is how long a stop waits for a sale in flight to get
	// its answer before leaving it to the journal and the next start.
	shutdownGrace = 10 * time.Second
	serverTimeout = 10 * time.Second
)

// Options configure an App.
type Options struct {
	Config   *config.Config
	StateDir string
	Log      *slog.Logger
	// Demo runs the simulated reader whatever the config says.
	Demo bool
	// InsecureListenAny allows a non-loopback listen address.
	InsecureListenAny bool
	// GatewayWrap, when set, wraps the gateway client's transport (tests
	// put the fault-injecting proxy in front of the sandbox this way).
	GatewayTransport http.RoundTripper
	// Pairer asks the cashier about unknown web origins (the UI's dialog).
	Pairer bridge.Pairer
	// PairCommand is the `posagent pair` command line (without --origin)
	// that reaches this agent's pairing store, e.g. "posagent pair --demo":
	// a page the agent does not know is told to have it run.
	PairCommand string
	// ConfigPath is where the settings window saves the configuration ("":
	// settings are read-only, e.g. in the demo).
	ConfigPath string
	// Version is reported by the bridge.
	Version string
	// StepHook is passed to the engine (crash tests only).
	StepHook func(step, transactionAPIID string)
	// ResolveBackoff, when set, is the engine's in-line lookup schedule
	// (tests shorten it).
	ResolveBackoff []time.Duration
	// Stdout receives the lines a person starting the agent needs (URLs).
	Stdout io.Writer
	// SandboxURLOverride points a sandbox-kind gateway at an external
	// server (e.g. a fault proxy) instead of starting the embedded one.
	SandboxURLOverride string
}

// App is a running agent.
type App struct {
	o       Options
	log     *slog.Logger
	journal *journal.Journal
	gw      gateway.Gateway
	manager *reader.Manager
	engine  *engine.Engine
	sim     *sim.Driver
	// sandboxFaults stages the gateway_timeout scenario (sandbox kind only).
	sandboxFaults *timeoutAfterCommit

	sandboxURL string
	sandboxSrv *http.Server
	bridge     *bridge.Bridge
	pairings   *bridge.Pairings
	paya       *payaconnect.Client // for location discovery, when the gateway is Paya Connect
	url        string
	// notice is the warning every cashier window shows when it opens
	// (a damaged journal), "" when there is none.
	notice string

	cancel   context.CancelFunc
	stopOnce sync.Once
	wg       sync.WaitGroup
	errMu    sync.Mutex
	err      error
}

// New checks the options; Start does the work.
func New(o Options) (*App, error) {
	if o.Config == nil {
		return nil, errors.New("app: no config")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.StateDir == "" {
		return nil, errors.New("app: no state directory")
	}
	return &App{o: o, log: o.Log}, nil
}

// Engine is the sale engine (after Start).
func (a *App) Engine() *engine.Engine { return a.engine }

// Sim is the simulated reader's driver, or nil.
func (a *App) Sim() *sim.Driver { return a.sim }

// SandboxURL is the embedded sandbox's base URL, or "".
func (a *App) SandboxURL() string { return a.sandboxURL }

// URL is the browser bridge's base URL (the demo POS page), after Start.
func (a *App) URL() string { return a.url }

// Journal is the open journal.
func (a *App) Journal() *journal.Journal { return a.journal }

// Manager is the reader manager.
func (a *App) Manager() *reader.Manager { return a.manager }

// Start opens the journal, the gateway and the readers and starts the
// engine. On error everything started so far is stopped again.
func (a *App) Start(ctx context.Context) (err error) {
	ctx, a.cancel = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			a.Stop()
		}
	}()
	cfg := a.o.Config
	jpath := JournalPath(cfg, a.o.StateDir)
	if a.journal, err = journal.Open(jpath, a.log); err != nil {
		return err
	}
	gw, err := a.openGateway(ctx)
	if err != nil {
		return err
	}
	_ = a.loadSettings(ctx) // a failure is logged: the agent runs with the settings unknown
	timed := &timedGateway{Gateway: gw}
	a.gw = timed
	drivers, err := a.drivers()
	if err != nil {
		return err
	}
	// The manager names its component itself (component=reader).
	a.manager = reader.NewManager(drivers, reader.Options{Logger: a.log})
	a.engine, err = engine.New(engine.Config{
		Gateway: a.gw, Readers: a.manager, Journal: a.journal, Log: a.log.With("component", "engine"),
		LiveHost: a.liveHost(), StepHook: a.o.StepHook, ResolveBackoff: a.o.ResolveBackoff,
	})
	if err != nil {
		return err
	}
	a.goRun("readers", func() error { return a.manager.Run(ctx) })
	a.goRun("reader events", func() error {
		for ev := range a.manager.Events() {
			a.engine.HandleReaderEvent(ev)
		}
		return nil
	})
	// The last run's unfinished sales are taken over before the bridge
	// (or the window, which starts after Start) can start a sale: none of
	// this run's can be taken for a leftover.
	if err := a.engine.Start(); err != nil {
		return err
	}
	// Retention moves finished, acknowledged sales only, so it never meets
	// the sweep's records; it starts after it all the same, and Stop waits
	// for it (a.wg) before the journal closes.
	a.goRun("journal retention", func() error { a.retain(ctx, a.journal, cfg.Journal.KeepDays); return nil })
	if err := a.startBridge(ctx); err != nil {
		return err
	}
	if a.notice = journalNotice(a.journal.Report()); a.notice != "" {
		a.log.Error("cashier warned about the journal", "warning", a.notice)
	}
	timed.observe.Store(a.bridge.ObserveGatewayLatency)
	a.log.Info("agent started", "gateway", cfg.Gateway.Kind, "journal", jpath, "url", a.url)
	return nil
}

// journalNotice tells the cashier what Open found wrong with the journal
// and what to do: the sales it held may need checking in the portal.
func journalNotice(r journal.OpenReport) string {
	var parts []string
	if r.MovedAside != "" {
		parts = append(parts, fmt.Sprintf("The sales journal was damaged: it was kept as %s and a new one started with the %d records that could be read; unfinished sales among them are being checked with the gateway.", filepath.Base(r.MovedAside), r.Salvaged))
	}
	if r.Unreadable > 0 {
		parts = append(parts, fmt.Sprintf("%d sales journal record(s) could not be read and are skipped.", r.Unreadable))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " ") + " Check today's sales in the gateway portal."
}

// startBridge listens on the configured loopback address and serves the
// websocket, the demo page and posagent.js.
func (a *App) startBridge(ctx context.Context) error {
	cfg := a.o.Config
	if err := config.CheckListen(cfg.Listen, a.o.InsecureListenAny); err != nil {
		return &config.ValidationError{Problems: []config.Problem{{Field: "listen", Message: err.Error()}}}
	}
	pairings, err := bridge.OpenPairings(a.o.StateDir)
	if err != nil {
		return err
	}
	a.pairings = pairings
	opts := bridge.Options{
		Engine: a.engine, Pairings: pairings, Pairer: a.o.Pairer, PairHint: a.pairHint, AllowedOrigins: cfg.AllowedOrigins, Version: a.o.Version,
		Log: a.log.With("component", "bridge"), InsecureListenAny: a.o.InsecureListenAny,
		// The demo page is the demo; in run it pairs (or is listed in
		// allowed_origins): docs/security.md, "The own page and local processes".
		TrustOwnPage:   a.o.Demo,
		SandboxGateway: cfg.Gateway.Kind == config.GatewaySandbox,
	}
	if a.sim != nil && opts.SandboxGateway {
		opts.Simulator = &simulator{d: a.sim, gateway: a.sandboxFaults}
	}
	if a.bridge, err = bridge.New(opts); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another posagent running? use --listen to pick another port)", cfg.Listen, err)
	}
	a.url = "http://" + ln.Addr().String() + "/"
	a.goRun("bridge", func() error { return a.bridge.Serve(ctx, ln) })
	return nil
}

// pairHint is the advice a page this agent does not know gets in its
// not_paired error: the command that reaches this agent, and the setting
// that admits the origin for good.
func (a *App) pairHint(origin string) string {
	cmd := a.o.PairCommand
	if cmd == "" {
		cmd = "posagent pair"
	}
	setting := "to add it to allowed_origins"
	if a.o.Demo {
		setting = "to restart the demo with --allow-origin " + origin
	}
	return "ask the cashier to run `" + cmd + " --origin " + origin + "` or " + setting
}

// timedGateway reports each gateway call's duration to the metrics.
// The observer is set once the bridge exists, while the engine may already
// be resolving leftovers: hence the atomic.
type timedGateway struct {
	gateway.Gateway
	observe atomic.Value // func(time.Duration)
}

// Precheck passes through to a client that can check requests early.
func (t *timedGateway) Precheck(req gateway.Request) error {
	if pc, ok := t.Gateway.(gateway.Prechecker); ok {
		return pc.Precheck(req)
	}
	return nil
}

func (t *timedGateway) Do(ctx context.Context, req gateway.Request) (*gateway.Result, error) {
	start := time.Now()
	res, err := t.Gateway.Do(ctx, req)
	if f, ok := t.observe.Load().(func(time.Duration)); ok {
		f(time.Since(start))
	}
	return res, err
}

func (a *App) goRun(name string, f func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("component stopped", "component", name, "error", err)
			a.errMu.Lock()
			if a.err == nil {
				a.err = fmt.Errorf("%s: %w", name, err)
			}
			a.errMu.Unlock()
			a.cancel()
		}
	}()
}

// liveHost is the configured gateway's host when it is a live one
// (gateway.LiveHost): the engine refuses test-key reads there. The sandbox
// kind is never live.
func (a *App) liveHost() string {
	if g := a.o.Config.Gateway; g.Kind != config.GatewaySandbox {
		return gateway.LiveHost(g.URL)
	}
	return ""
}

// embeddedSandbox starts the embedded sandbox on a loopback port, so that
// the agent talks real HTTP to it, and returns its base URL.
func (a *App) embeddedSandbox() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("embedded sandbox: %w", err)
	}
	a.sandboxSrv = &http.Server{Handler: sandbox.New(sandbox.Options{Logger: a.log.With("component", "sandbox")}),
		ReadHeaderTimeout: serverTimeout}
	go func() { _ = a.sandboxSrv.Serve(ln) }()
	a.sandboxURL = "http://" + ln.Addr().String()
	return a.sandboxURL, nil
}

// openGateway builds the client; for the sandbox kind (and a PaidYET
// gateway whose url is "embedded", as `demo --gateway paidyet` sets) it
// first starts the embedded sandbox.
func (a *App) openGateway(ctx context.Context) (gateway.Gateway, error) {
	g := a.o.Config.Gateway
	switch g.Kind {
	case config.GatewaySandbox:
		base := a.o.SandboxURLOverride
		if base == "" && g.URL != "" {
			base = strings.TrimSuffix(g.URL, "/") // an external sandbox (e.g. `posagent sandbox`, or a fault proxy in front of one)
		}
		if base == "" {
			var err error
			if base, err = a.embeddedSandbox(); err != nil {
				return nil, err
			}
		}
		a.sandboxURL = base
		// The simulate request's gateway_timeout scenario drops one answer
		// of the sandbox; until armed this transport passes everything.
		next := a.o.GatewayTransport
		if next == nil {
			next = http.DefaultTransport.(*http.Transport).Clone()
		}
		a.sandboxFaults = &timeoutAfterCommit{next: next}
		c, err := payaconnect.New(payaconnect.Options{
			BaseURL: base, DeveloperID: sandbox.DeveloperID, UserID: sandbox.UserID, UserAPIKey: sandbox.UserAPIKey,
			// A product_transaction_id in the config picks one of the
			// sandbox's merchant-settings products (docs/sandbox.md).
			LocationID: cmp.Or(g.LocationID, sandbox.LocationID), ProductTransactionID: cmp.Or(g.ProductTransactionID, sandbox.ProductCCID),
			Timeout:   g.Timeout.Duration,
			Transport: a.sandboxFaults, Logger: a.log.With("component", "gateway"),
		})
		a.paya = c
		return c, err
	case config.GatewayPaya:
		c, err := payaconnect.New(payaconnect.Options{
			BaseURL: g.URL, DeveloperID: g.DeveloperID, UserID: g.UserID, UserAPIKey: g.UserAPIKey,
			LocationID: g.LocationID, ProductTransactionID: g.ProductTransactionID, Timeout: g.Timeout.Duration,
			Transport: a.o.GatewayTransport, Logger: a.log.With("component", "gateway"),
		})
		a.paya = c
		return c, err
	case config.GatewayPaidYET:
		base := g.URL
		if base == config.SandboxURL {
			var err error
			if base, err = a.embeddedSandbox(); err != nil {
				return nil, err
			}
		}
		return paidyet.New(paidyet.Options{
			BaseURL: base, Subdomain: g.Subdomain, Key: g.UserAPIKey, Timeout: g.Timeout.Duration,
			Transport: a.o.GatewayTransport, Logger: a.log.With("component", "gateway"),
		})
	}
	return nil, fmt.Errorf("gateway kind %q is not one of paya, paidyet, sandbox", g.Kind)
}

// drivers builds the reader drivers: the simulator in demo mode, else
// what the config's [[readers]] ask for.
func (a *App) drivers() ([]reader.Driver, error) {
	if a.o.Demo {
		d, err := sim.NewDriver(sim.Options{})
		if err != nil {
			return nil, err
		}
		a.sim = d
		return []reader.Driver{d}, nil
	}
	ds, simd, err := Drivers(a.o.Config.Readers, a.log.With("component", "readers"))
	a.sim = simd
	return ds, err
}

// Wait blocks until the app stops and returns the first component error.
func (a *App) Wait() error {
	a.wg.Wait()
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.err
}

// Stop stops the readers and the bridge, lets a sale in flight finish (or
// leaves it journaled), then closes the journal — after the engine's last
// writer has ended — and the sandbox. It may be called more than once and
// from several goroutines (a signal and a deferred Stop): every call
// returns once the first has finished.
func (a *App) Stop() { a.stopOnce.Do(a.stop) }

func (a *App) stop() {
	if a.cancel != nil {
		a.cancel()
	}
	if a.engine != nil {
		a.engine.Close(shutdownGrace)
	}
	a.wg.Wait()
	if a.sandboxSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
		_ = a.sandboxSrv.Shutdown(ctx)
		cancel()
	}
	if a.journal != nil {
		if err := a.journal.Close(); err != nil {
			a.log.Error("journal close", "error", err)
		}
		a.journal = nil
	}
}

// EnsureStateDir creates the state directory owner-only.
func EnsureStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	return nil
}
