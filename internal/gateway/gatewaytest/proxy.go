package gatewaytest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Fault is what the proxy does to one request.
type Fault int

// Faults. "Commit" means the request was handed to the backend, which
// processed it: from then on only a lookup can tell the client what happened.
const (
	FaultNone Fault = iota
	// FaultDelayAfterCommit forwards, then holds the answer until the client
	// gives up (its timeout) or MaxDelay passes.
	FaultDelayAfterCommit
	// Fault500AfterCommit forwards, then answers 500 instead of the backend's answer.
	Fault500AfterCommit
	// FaultResetAfterCommit forwards, then resets the connection.
	FaultResetAfterCommit
	// FaultResetBeforeCommit resets the connection after the request was
	// read, without forwarding: ambiguous to the client, provably absent.
	FaultResetBeforeCommit
	// Fault429 answers 429 without forwarding.
	Fault429
	// FaultSlow forwards, then delivers the backend's answer unchanged after
	// a delay (ArmSlow; DefaultSlowDelay when armed with Arm). Under the
	// client's timeout it is only a slow success; over it the client times
	// out on a committed request, and only a lookup can tell it that the
	// transaction exists. The answer is dropped if the client has gone.
	FaultSlow
)

func (f Fault) String() string {
	return [...]string{"none", "delay-after-commit", "500-after-commit", "reset-after-commit",
		"reset-before-commit", "429", "slow"}[f]
}

// MaxDelay bounds FaultDelayAfterCommit and FaultSlow so that a client
// without a timeout cannot hang a test forever.
const MaxDelay = 30 * time.Second

// DefaultSlowDelay is FaultSlow's delay when it is armed with Arm: well
// under any client timeout a test would set.
const DefaultSlowDelay = 200 * time.Millisecond

// maxBody bounds a request body the proxy buffers.
const maxBody = 1 << 20

// Record is one request the proxy saw.
type Record struct {
	Method, Path, Query string
	Fault               Fault
	// Forwarded: the backend processed the request.
	Forwarded     bool
	BackendStatus int
	// Delay is how long FaultSlow held the answer back.
	Delay time.Duration
}

type armed struct {
	fault Fault
	delay time.Duration
	match func(*http.Request) bool
}

// Proxy is an http.Handler that forwards to a backend handler and injects
// armed faults. It is safe for concurrent use.
type Proxy struct {
	backend http.Handler
	mu      sync.Mutex
	armed   []armed
	records []Record

	// capMu serializes capture writes without holding mu during I/O.
	capMu   sync.Mutex
	capture io.Writer
	capErr  error
}

// NewProxy puts a proxy in front of backend.
func NewProxy(backend http.Handler) *Proxy { return &Proxy{backend: backend} }

// Arm makes the next request matching match (nil: any) suffer fault f, once.
func (p *Proxy) Arm(f Fault, match func(*http.Request) bool) {
	d := time.Duration(0)
	if f == FaultSlow {
		d = DefaultSlowDelay
	}
	p.arm(armed{fault: f, delay: d, match: match})
}

// ArmSlow makes the next request matching match (nil: any) FaultSlow with
// delay d (at most MaxDelay), once.
func (p *Proxy) ArmSlow(d time.Duration, match func(*http.Request) bool) {
	p.arm(armed{fault: FaultSlow, delay: min(max(d, 0), MaxDelay), match: match})
}

func (p *Proxy) arm(a armed) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = append(p.armed, a)
}

// CaptureResponses makes the proxy write the backend's answer to every
// request it forwarded to w, whether or not a fault then kept it from the
// client: one line each, "time method request-uri status fault=F body",
// with the body's line breaks turned into spaces and nothing else changed,
// so that a scanner for card data reads the body as the backend sent it.
//
// Only answers are captured. Requests carry ciphertext (e_track_data) by
// contract, so a capture of them could never be held to "no card data";
// answers must hold none at all and are scanned strictly.
func (p *Proxy) CaptureResponses(w io.Writer) {
	p.capMu.Lock()
	defer p.capMu.Unlock()
	p.capture = w
}

// CaptureErr is the first error writing the capture, if any: a capture
// with a hole would make a clean scan prove nothing.
func (p *Proxy) CaptureErr() error {
	p.capMu.Lock()
	defer p.capMu.Unlock()
	return p.capErr
}

func (p *Proxy) captureResponse(r *http.Request, f Fault, status int, body []byte) {
	p.capMu.Lock()
	defer p.capMu.Unlock()
	if p.capture == nil || p.capErr != nil {
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s %d fault=%s ", time.Now().UTC().Format(time.RFC3339Nano), r.Method, r.URL.RequestURI(), status, f)
	b.Write(bytes.TrimRight(oneLine(body), " "))
	b.WriteByte('\n')
	if _, err := p.capture.Write(b.Bytes()); err != nil {
		p.capErr = fmt.Errorf("gatewaytest: response capture: %w", err)
	}
}

// oneLine returns b with CR and LF turned into spaces.
func oneLine(b []byte) []byte {
	out := bytes.ReplaceAll(b, []byte{'\r'}, []byte{' '})
	return bytes.ReplaceAll(out, []byte{'\n'}, []byte{' '})
}

// Records returns a copy of what the proxy saw.
func (p *Proxy) Records() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Record(nil), p.records...)
}

// Count counts records for which match is true.
func (p *Proxy) Count(match func(Record) bool) int {
	n := 0
	for _, r := range p.Records() {
		if match(r) {
			n++
		}
	}
	return n
}

func (p *Proxy) take(r *http.Request) armed {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, a := range p.armed {
		if a.match == nil || a.match(r) {
			p.armed = append(p.armed[:i], p.armed[i+1:]...)
			return a
		}
	}
	return armed{fault: FaultNone}
}

func (p *Proxy) record(rec Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = append(p.records, rec)
}

// ServeHTTP forwards r to the backend, applying an armed fault.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "proxy: cannot read request body", http.StatusBadRequest)
		return
	}
	// The match function may read the body: give it a fresh copy.
	r.Body = io.NopCloser(bytes.NewReader(body))
	a := p.take(r)
	f := a.fault
	rec := Record{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Fault: f, Delay: a.delay}
	switch f {
	case Fault429:
		p.record(rec)
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"message":"too many requests"}`, http.StatusTooManyRequests)
		return
	case FaultResetBeforeCommit:
		p.record(rec)
		reset(w)
		return
	}
	out := r.Clone(r.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	rr := httptest.NewRecorder()
	p.backend.ServeHTTP(rr, out)
	rec.Forwarded, rec.BackendStatus = true, rr.Code
	p.record(rec)
	p.captureResponse(r, f, rr.Code, rr.Body.Bytes())
	switch f {
	case FaultDelayAfterCommit:
		t := time.NewTimer(MaxDelay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C:
		}
	case FaultSlow:
		t := time.NewTimer(a.delay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			// The client gave up (its timeout, or it was killed): there is
			// nobody to deliver to, and waiting on would only hold a test.
			return
		case <-t.C:
		}
	case Fault500AfterCommit:
		http.Error(w, `{"message":"internal server error"}`, http.StatusInternalServerError)
		return
	case FaultResetAfterCommit:
		reset(w)
		return
	}
	for k, v := range rr.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rr.Code)
	_, _ = w.Write(rr.Body.Bytes())
}

// reset closes the client's connection abruptly: with SO_LINGER 0 on TCP
// the client sees a reset, not an orderly end.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2: net/http's own way to abort a response (the stream is reset).
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
