package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Default credentials. They protect nothing: the sandbox serves loopback
// only unless told otherwise, and holds no real card data.
const (
	DeveloperID = "posagent-dev" // Paya Connect developer-id header
	UserID      = "sandbox-user" // Paya Connect user-id header
	UserAPIKey  = "sandbox-key"  // Paya Connect user-api-key header

	PaidYETSubdomain = "sandbox"     // PaidYET login subdomain
	PaidYETKey       = "sandbox-key" // PaidYET login key
	// PaidYETTokenApproved and PaidYETTokenDeclined are card tokens on file
	// from the start: the first approves, the second declines (51,
	// Insufficient Funds).
	PaidYETTokenApproved = "tok_sandbox_approved"
	PaidYETTokenDeclined = "tok_sandbox_declined"
)

// Stable ids of the one location and its two product transactions
// (merchant deposit accounts), so that configurations written once keep
// working across restarts. They are hex like the real ids but contain no run
// of more than four decimal digits, so no leak scanner can take them for a
// card number.
const (
	LocationID        = "11ef5a4db0c0ffee1c0ca7e1"
	ProductCCID       = "11ef5a4dcc0ffee1c0ca7ecc"
	ProductACHID      = "11ef5a4dac0ffee1c0ca7eac"
	sandboxUserRecord = "11ef5a4dbee0ffee1c0ca7eb"
)

// PaidYET limits, from the PaidYET v3 document.
const (
	PaidYETPerMinute = 75
	PaidYETPerDay    = 7000
)

// maxBody bounds a request body. The largest legitimate one (an ID TECH frame
// in e_track_data plus every optional field) is a few kilobytes.
const maxBody = 64 << 10

// Options configure a Sandbox. The zero value is usable.
type Options struct {
	// Logger receives one line per request at debug level and problems at
	// warn. It never receives card data. Default: discard.
	Logger *slog.Logger
	// Now is the clock; tests inject one to drive token expiry and rate
	// limits. Default: time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends, for the 8.0x delayed-response amounts.
	// Tests pass a recording no-op or a scaled sleep. Default: a real timer.
	Sleep func(ctx context.Context, d time.Duration) error

	// Credentials; empty fields take the exported defaults.
	DeveloperID, UserID, UserAPIKey string
	PaidYETSubdomain, PaidYETKey    string

	// TokenTTL is the lifetime of a PaidYET bearer token. Default: 1 hour.
	TokenTTL time.Duration
}

// Sandbox is the emulated gateway pair. It implements http.Handler.
type Sandbox struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	mu       sync.Mutex // guards the Paya Connect state below
	txns     map[string]*record
	order    []*record         // creation order, for lists
	byAPIID  map[string]string // transaction_api_id -> id (one location)
	orderSeq uint64

	py paidyet
}

// New returns a Sandbox with empty state.
func New(opts Options) *Sandbox {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&opts.DeveloperID, DeveloperID)
	def(&opts.UserID, UserID)
	def(&opts.UserAPIKey, UserAPIKey)
	def(&opts.PaidYETSubdomain, PaidYETSubdomain)
	def(&opts.PaidYETKey, PaidYETKey)
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	s := &Sandbox{
		opts:    opts,
		log:     opts.Logger,
		txns:    map[string]*record{},
		byAPIID: map[string]string{},
	}
	s.py.init()
	s.routes()
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Sandbox) routes() {
	m := http.NewServeMux()
	m.HandleFunc("/v2/transactions", s.payaAuth(s.handleTransactions))
	m.HandleFunc("/v2/transactions/{id}", s.payaAuth(s.handleTransaction))
	m.HandleFunc("/v2/locationinfos", s.payaAuth(s.handleLocationInfos))
	m.HandleFunc("/v2/locationinfos/{id}", s.payaAuth(s.handleLocationInfo))
	m.HandleFunc("/v2/", s.payaAuth(func(w http.ResponseWriter, r *http.Request) {
		payaError(w, http.StatusNotFound, "endpoint", "The endpoint does not exist.")
	}))

	m.HandleFunc("/v3/login", s.handleLogin)
	m.HandleFunc("/v3/transaction", s.pyAuth(s.handlePYTransactions))
	m.HandleFunc("/v3/transaction/search", s.pyAuth(s.handlePYSearch))
	m.HandleFunc("/v3/transaction/{id}", s.pyAuth(s.handlePYTransaction))
	m.HandleFunc("/v3/card", s.pyAuth(s.handlePYCards))
	m.HandleFunc("/v3/card/{token}", s.pyAuth(s.handlePYCard))
	m.HandleFunc("/v3/", func(w http.ResponseWriter, r *http.Request) {
		pyError(w, http.StatusNotFound, "endpoint not found")
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"message": "not found: the sandbox serves Paya Connect under /v2/ and PaidYET under /v3/",
		})
	})
	s.mux = m
}

// ServeHTTP serves both emulated APIs.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A panic must not take the sandbox down or leave the client hanging;
	// it becomes a 500 like the real API's "not your fault".
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("sandbox: handler panic", "method", r.Method, "path", r.URL.Path)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "internal server error"})
		}
	}()
	s.log.Debug("sandbox request", "method", r.Method, "path", r.URL.Path)
	s.mux.ServeHTTP(w, r)
}

func (s *Sandbox) now() time.Time { return s.opts.Now() }

// writeJSON writes v with status. Encoding errors cannot happen for the
// types used here; a write error means the client is gone.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// readBody reads a bounded request body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
}

// newID makes a 24-character lower-case hex id like the real ones. Every
// eighth character is forced to a letter so that an id never holds a long
// run of digits that a PAN leak scanner would flag.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	const hexd = "0123456789abcdef"
	out := make([]byte, 24)
	for i, c := range b {
		out[2*i] = hexd[c>>4]
		out[2*i+1] = hexd[c&0x0f]
	}
	copy(out, "11ef")
	for i := 7; i < len(out); i += 8 {
		out[i] = 'a' + out[i]%6
	}
	return string(out)
}

// newAuthCode is a six-character hex approval code, like the sandbox's.
func newAuthCode() string {
	return newID()[8:14]
}
