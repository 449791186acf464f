package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/posagent/posagent/assets"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/sale"
)

// Timeouts and limits. Each is named for what it bounds.
const (
	// writeWait bounds writing one message to a client.
	writeWait = 10 * time.Second
	// pongWait is how long a connection may stay silent (no message, no
	// pong) before it is considered dead.
	pongWait = 60 * time.Second
	// pingPeriod must be shorter than pongWait so that a live client's
	// pong always arrives in time.
	pingPeriod = pongWait * 9 / 10
	// closeGrace bounds writing the close frame on the way out.
	closeGrace = time.Second
	// readHeaderTimeout bounds a request's headers (slowloris).
	readHeaderTimeout = 5 * time.Second
	// idleTimeout closes idle keep-alive HTTP connections.
	idleTimeout = 60 * time.Second
	// shutdownGrace bounds the HTTP server's shutdown.
	shutdownGrace = 3 * time.Second
	// requestTimeout bounds one engine call made for a request.
	requestTimeout = 15 * time.Second
	// simulateTimeout bounds handing a card to the simulated reader.
	simulateTimeout = 10 * time.Second
	// pairingTimeout is how long the cashier has to answer a pairing
	// request; then it counts as denied.
	pairingTimeout = 2 * time.Minute
	// pairDenyCooldown: after a deny (or no answer), the site's hellos are
	// refused without asking the cashier again, so that a page cannot
	// flood the counter with dialogs.
	pairDenyCooldown = time.Minute

	// MaxMessageSize is the largest request; bigger ones get too_large and
	// the connection stays usable.
	MaxMessageSize = 16 << 10
	// hardReadLimit: past it the connection is closed (1009), so that a
	// client cannot make the agent read without end.
	hardReadLimit = 1 << 20
	// sendQueueLen is each connection's queue of events (updates the
	// agent pushes); a client that lets it fill up is not reading.
	sendQueueLen = 64
	// replyQueueLen is each connection's queue of replies to its own
	// requests. A full one holds the connection's reader (the client gets
	// no further request read until it reads its replies), bounded by
	// writeWait: a burst of replies — a status replaying its results — is
	// never taken for slowness.
	replyQueueLen = 16
	// maxClients bounds the websocket connections of known origins (own
	// page, allowed, paired); the others have maxStrangers.
	maxClients = 64
)

// loopbackNames are the only Host names the agent answers to. A DNS name
// that resolves to 127.0.0.1 (DNS rebinding) is refused, and so is any
// other spelling of loopback: browsers use these three. They are config's
// (config.BridgeHosts), whose listen rule accepts only these hosts: an
// agent listening on another loopback address would refuse every request.
var loopbackNames = config.BridgeHosts()

// timing holds the durations tests shorten.
type timing struct {
	writeWait, pongWait, pingPeriod, pairingTimeout, pairDenyCooldown, pairAbandonCooldown, helloWait time.Duration
}

var defaultTiming = timing{writeWait, pongWait, pingPeriod, pairingTimeout, pairDenyCooldown, pairAbandonCooldown, helloWait}

// Bridge serves the websocket protocol, the demo page and the agent's
// health and metrics on a loopback listener.
type Bridge struct {
	opts     Options
	log      *slog.Logger
	eng      Engine
	pairings *Pairings
	allowed  map[string]bool
	metrics  *metrics
	web      fs.FS
	upgrader websocket.Upgrader
	t        timing
	now      func() time.Time
	// lan: Serve's listener is not loopback (InsecureListenAny); every
	// client needs a token.
	lan      atomic.Bool
	refusals refusalLog

	mu            sync.Mutex
	ctx           context.Context // Serve's; nil before Serve
	stopping      bool            // Serve is waiting for the connections to end
	conns         map[*conn]struct{}
	nKnown        int                  // connections in the main pool (slot)
	nStrangers    int                  // connections in the strangers' pool
	strangerSites map[string]int       // site → its connections in the strangers' pool
	perOrigin     map[string]int       // origin → its connections in the main pool
	owners        map[ownerKey][]*conn // sales in progress → who gets their updates
	cardAt        map[string]time.Time // transaction_api_id → card read (latency)
	pairing       map[string]*pairWait // origin → question waiting for the cashier
	denied        map[string]time.Time // site → no new question before this
	once          map[string][]string  // origin → hashes of "once" tokens (memory only)

	wg sync.WaitGroup // connections and the hub
}

// New makes a Bridge; Serve runs it.
func New(o Options) (*Bridge, error) {
	if o.Engine == nil {
		return nil, errors.New("bridge: an engine is required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.SendQueue <= 0 {
		o.SendQueue = sendQueueLen
	}
	if o.MaxClients <= 0 {
		o.MaxClients = maxClients
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	allowed := map[string]bool{}
	for _, a := range o.AllowedOrigins {
		n, err := NormalizeOrigin(a)
		if err != nil || n == NativeOrigin {
			return nil, fmt.Errorf("bridge: allowed origin %q: %w", a, err)
		}
		allowed[n] = true
	}
	b := &Bridge{
		opts: o, log: o.Log, eng: o.Engine, pairings: o.Pairings, allowed: allowed, metrics: newMetrics(),
		web: assets.Web(), t: defaultTiming, now: o.Now,
		conns: map[*conn]struct{}{}, owners: map[ownerKey][]*conn{}, cardAt: map[string]time.Time{},
		pairing: map[string]*pairWait{}, denied: map[string]time.Time{}, once: map[string][]string{},
		strangerSites: map[string]int{}, perOrigin: map[string]int{},
	}
	b.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// The allowlist: own page, allowed origins, and http(s) origins
		// that will have to pair (or present a token) in their hello.
		CheckOrigin: func(r *http.Request) bool { _, _, err := b.classify(r); return err == nil },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			code := "bad_request"
			if status == http.StatusForbidden {
				code = CodeForbiddenOrigin
			}
			b.refuse(w, r, status, code, reason)
		},
	}
	return b, nil
}

// ObserveGatewayLatency records one gateway request's latency for /metrics;
// the composition root calls it from the gateway client's wiring.
func (b *Bridge) ObserveGatewayLatency(d time.Duration) { b.metrics.observeGateway(d) }

// Serve serves on ln until ctx ends, then closes every connection and
// returns nil once they are all gone. A non-loopback listener is refused
// unless Options.InsecureListenAny is set.
func (b *Bridge) Serve(ctx context.Context, ln net.Listener) error {
	if host, _, err := net.SplitHostPort(ln.Addr().String()); err != nil || !config.IsLoopbackHost(host) {
		if !b.opts.InsecureListenAny {
			return fmt.Errorf("bridge: %s is not a loopback address: the agent serves card data to this computer only (set InsecureListenAny to override)", ln.Addr())
		}
		b.lan.Store(true)
	}
	// Connections and the hub run on sctx, which also ends when the HTTP
	// server fails on its own, so that Serve never waits for them forever.
	sctx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	b.mu.Lock()
	if b.ctx != nil {
		b.mu.Unlock()
		return errors.New("bridge: Serve called twice")
	}
	b.ctx = sctx
	b.mu.Unlock()

	updates, unsubscribe := b.eng.Subscribe()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer unsubscribe()
		b.hub(sctx, updates)
	}()

	srv := &http.Server{
		Handler:           b.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return sctx },
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		shctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		if serr := srv.Shutdown(shctx); serr != nil {
			_ = srv.Close()
		}
		cancel()
		err = <-done
	}
	// Websocket connections are hijacked: Shutdown does not wait for them.
	// No new one may start now; the open ones stop on sctx.
	b.mu.Lock()
	b.stopping = true
	b.mu.Unlock()
	stopAll()
	b.wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler is the bridge's HTTP handler. Serve uses it; it is exported for
// servers that own their listener (the Host check needs the local port
// from http.LocalAddrContextKey, which net/http sets). The websocket works
// only while Serve runs: Serve routes the engine's updates.
func (b *Bridge) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ws", b.serveWS)
	mux.HandleFunc("GET /healthz", b.serveHealth)
	mux.HandleFunc("GET /metrics", b.serveMetrics)
	mux.HandleFunc("GET /{$}", b.serveStatic)
	mux.HandleFunc("GET /{file}", b.serveStatic)
	mux.HandleFunc("OPTIONS /", b.servePreflight)
	return b.guard(mux)
}

// guard sets the security headers on every response and refuses requests
// whose Host is not this computer's loopback name.
func (b *Bridge) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if err := checkHost(r, b.lan.Load()); err != nil {
			// 421: this server is not the one the name was meant for.
			b.refuse(w, r, http.StatusMisdirectedRequest, "bad_host", err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": message})
}

// static files: name → content type and whether other origins may load it.
var staticFiles = map[string]struct {
	ctype string
	cors  bool
}{
	"index.html":    {"text/html; charset=utf-8", false},
	"app.js":        {"text/javascript; charset=utf-8", false},
	"app.css":       {"text/css; charset=utf-8", false},
	"favicon.svg":   {"image/svg+xml", false},
	"posagent.js":   {"text/javascript; charset=utf-8", true},
	"posagent.d.ts": {"text/plain; charset=utf-8", true},
}

func (b *Bridge) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" {
		name = "index.html"
	}
	name = path.Clean(name)
	f, ok := staticFiles[name]
	if !ok {
		writeJSONError(w, http.StatusNotFound, "not_found", "no such page: the demo POS page is at /, the websocket at /v1/ws")
		return
	}
	data, err := fs.ReadFile(b.web, name)
	if err != nil {
		writeJSONError(w, http.StatusNotFound, "not_found", "this build has no "+name)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "no-cache")
	if f.cors {
		// posagent.js is public code: POS pages on other origins may load
		// it (they should rather bundle it; see docs/protocol.md).
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	if name == "index.html" {
		// The page talks to this agent only: ws:// on the Host it was
		// loaded from (already checked to be loopback).
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self' ws://"+r.Host+"; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	}
	_, _ = w.Write(data)
}

func (b *Bridge) serveHealth(w http.ResponseWriter, _ *http.Request) {
	readers := b.eng.ReaderInfos()
	ok := 0
	for _, r := range readers {
		if r.Status == sale.ReaderOK {
			ok++
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "ok", "version": b.opts.Version, "protocol": ProtocolVersion,
		"readers": len(readers), "readers_ok": ok, "clients": b.clientCount(),
	})
}

func (b *Bridge) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if err := b.metrics.write(w, b.eng.ReaderInfos(), b.clientCount()); err != nil {
		b.log.Debug("metrics write", "error", err)
	}
}

func (b *Bridge) clientCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// agentInfo is the agent block of welcome and status.
func (b *Bridge) agentInfo() AgentInfo {
	return AgentInfo{Name: "posagent", Version: b.opts.Version, Protocol: ProtocolVersion, Simulate: b.simulateAvailable()}
}

func (b *Bridge) simulateAvailable() bool {
	if b.opts.Simulator == nil || !b.opts.SandboxGateway {
		return false
	}
	for _, r := range b.eng.ReaderInfos() {
		if r.Simulated {
			return true
		}
	}
	return false
}

// Revoke removes an origin's pairing (store and "once" tokens) and closes
// its open connections.
func (b *Bridge) Revoke(origin string) error {
	o, err := NormalizeOrigin(origin)
	if err != nil {
		return err
	}
	if b.pairings != nil {
		if _, err := b.pairings.Revoke(o); err != nil {
			return err
		}
	}
	b.mu.Lock()
	delete(b.once, o)
	var victims []*conn
	for c := range b.conns {
		if c.origin == o && c.kind >= originForeign {
			victims = append(victims, c)
		}
	}
	b.mu.Unlock()
	for _, c := range victims {
		c.kill(websocket.ClosePolicyViolation, "pairing revoked")
	}
	return nil
}
