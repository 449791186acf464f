package gatewaytest

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/gateway"
)

// Harness adapts one client and its backend to the suite.
type Harness struct {
	// Backend is the emulated gateway (a test fake or the sandbox). The
	// suite serves it behind a Proxy on an httptest server.
	Backend http.Handler
	// New builds the client for baseURL with the given per-request timeout.
	New func(t testing.TB, baseURL string, timeout time.Duration) gateway.Gateway
	// Approve and Decline return a sale the backend approves / declines.
	// The suite sets TransactionAPIID.
	Approve func() gateway.Request
	Decline func() gateway.Request
	// IsCommit reports whether a request creates a transaction (a charge),
	// so that the suite can count charges at the backend.
	IsCommit func(method, path string) bool
}

// Timeouts of the suite.
const (
	// opTimeout is the client timeout for calls that should just work; it
	// is generous because the race detector and a shared machine are slow.
	opTimeout = 10 * time.Second
	// faultTimeout is the client timeout in fault tests: a delayed answer
	// costs this much.
	faultTimeout = 750 * time.Millisecond
)

// RunSuite runs the conformance tests against h.
func RunSuite(t *testing.T, h Harness) {
	t.Helper()
	t.Run("SaleApproved", func(t *testing.T) { testSaleApproved(t, h) })
	t.Run("SaleDeclined", func(t *testing.T) { testSaleDeclined(t, h) })
	t.Run("LookupAndResolve", func(t *testing.T) { testLookupAndResolve(t, h) })
	t.Run("ResolveAbsent", func(t *testing.T) { testResolveAbsent(t, h) })
	t.Run("VoidAndRefund", func(t *testing.T) { testVoidAndRefund(t, h) })
	t.Run("InvalidNotSent", func(t *testing.T) { testInvalidNotSent(t, h) })
	t.Run("UnsupportedNotSent", func(t *testing.T) { testUnsupportedNotSent(t, h) })
	t.Run("ConnectionRefusedRetryable", func(t *testing.T) { testConnectionRefused(t, h) })
	for _, f := range []Fault{FaultDelayAfterCommit, Fault500AfterCommit, FaultResetAfterCommit, FaultSlow} {
		t.Run("Fault/"+f.String(), func(t *testing.T) { testCommittedFault(t, h, f) })
	}
	t.Run("Fault/slow-within-timeout", func(t *testing.T) { testSlowWithinTimeout(t, h) })
	t.Run("Fault/"+FaultResetBeforeCommit.String(), func(t *testing.T) { testAbsentFault(t, h) })
	t.Run("Fault/"+Fault429.String(), func(t *testing.T) { test429(t, h) })
	for _, a := range []gateway.Action{gateway.ActionForce, gateway.ActionAVSOnly} {
		for _, f := range []Fault{FaultDelayAfterCommit, Fault500AfterCommit, FaultResetAfterCommit} {
			t.Run("Fault/"+string(a)+"/"+f.String(), func(t *testing.T) { testCreateFault(t, h, a, f) })
		}
	}
	for _, a := range []gateway.Action{gateway.ActionAuthComplete, gateway.ActionVoid, gateway.ActionRefund,
		gateway.ActionAuthIncrement, gateway.ActionPartialReversal} {
		for _, f := range []Fault{FaultDelayAfterCommit, Fault500AfterCommit, FaultResetAfterCommit, FaultResetBeforeCommit, Fault429} {
			t.Run("Fault/"+string(a)+"/"+f.String(), func(t *testing.T) { testChangeFault(t, h, a, f) })
		}
	}
}

// env is one client behind one proxy.
type env struct {
	h     Harness
	proxy *Proxy
	gw    gateway.Gateway
	url   string
}

func newEnv(t *testing.T, h Harness, timeout time.Duration) *env {
	t.Helper()
	p := NewProxy(h.Backend)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &env{h: h, proxy: p, gw: h.New(t, srv.URL, timeout), url: srv.URL}
}

// commits counts transactions the backend created.
func (e *env) commits() int {
	return e.proxy.Count(func(r Record) bool {
		return r.Forwarded && r.BackendStatus/100 == 2 && e.h.IsCommit(r.Method, r.Path)
	})
}

func (e *env) isCommit(r *http.Request) bool { return e.h.IsCommit(r.Method, r.URL.Path) }

// NewAPIID makes a unique transaction_api_id of 24 random lowercase
// letters. No digits: a random id with digit runs, glued to whatever prefix
// a test adds, now and then holds a run the card-data policy takes for a
// card number, and the client refuses it (a flaky suite).
func NewAPIID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b[:])
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	t.Cleanup(cancel)
	return c
}

func approve(t *testing.T, e *env) (*gateway.Result, gateway.Request) {
	t.Helper()
	req := e.h.Approve()
	req.TransactionAPIID = NewAPIID()
	res, err := e.gw.Do(ctx(t), req)
	if err != nil {
		t.Fatalf("approved sale: %v", err)
	}
	return res, req
}

func testSaleApproved(t *testing.T, h Harness) {
	e := newEnv(t, h, opTimeout)
	res, req := approve(t, e)
	switch {
	case res == nil:
		t.Fatal("nil result without error")
	case res.Outcome != gateway.OutcomeApproved || !res.Approved():
		t.Errorf("outcome %q, want approved", res.Outcome)
	case res.ID == "":
		t.Error("no transaction id")
	}
	if res.Amount != req.Amount {
		t.Errorf("amount %v, want %v", res.Amount, req.Amount)
	}
	if res.Gateway != e.gw.Name() {
		t.Errorf("result gateway %q, client %q", res.Gateway, e.gw.Name())
	}
	if res.LastFour == "" || len(res.LastFour) != 4 {
		t.Errorf("last four %q", res.LastFour)
	}
	if req.Read != nil && res.EntryMode != req.Read.EntryMode {
		t.Errorf("entry mode %q, want %q", res.EntryMode, req.Read.EntryMode)
	}
	if n := e.commits(); n != 1 {
		t.Errorf("backend committed %d transactions, want 1", n)
	}
}

func testSaleDeclined(t *testing.T, h Harness) {
	e := newEnv(t, h, opTimeout)
	req := h.Decline()
	req.TransactionAPIID = NewAPIID()
	res, err := e.gw.Do(ctx(t), req)
	if !gateway.IsDeclined(err) || !errors.Is(err, gateway.ErrDeclined) {
		t.Fatalf("want a decline, got %v", err)
	}
	if gateway.IsAmbiguous(err) || gateway.IsRetryable(err) {
		t.Errorf("a decline is neither ambiguous nor retryable: %v", err)
	}
	if res == nil || res.Outcome != gateway.OutcomeDeclined {
		t.Fatalf("declined result %+v", res)
	}
	var ge *gateway.Error
	if !errors.As(err, &ge) || ge.Result != res {
		t.Errorf("the decline error does not carry the result")
	}
}

func testLookupAndResolve(t *testing.T, h Harness) {
	e := newEnv(t, h, opTimeout)
	res, req := approve(t, e)
	got, err := e.gw.Lookup(ctx(t), res.ID)
	if err != nil {
		t.Fatalf("lookup %s: %v", res.ID, err)
	}
	if got.ID != res.ID || got.Amount != res.Amount || got.Outcome != gateway.OutcomeApproved {
		t.Errorf("lookup = %+v, want the sale %+v", got, res)
	}
	if !e.gw.Capabilities().ResolveByAPIID {
		return
	}
	got, err = e.gw.Resolve(ctx(t), req.TransactionAPIID)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if got.ID != res.ID || got.TransactionAPIID != req.TransactionAPIID {
		t.Errorf("resolve found %s (%s), want %s (%s)", got.ID, got.TransactionAPIID, res.ID, req.TransactionAPIID)
	}
	if n := e.commits(); n != 1 {
		t.Errorf("backend committed %d transactions, want 1", n)
	}
}

func testResolveAbsent(t *testing.T, h Harness) {
	e := newEnv(t, h, opTimeout)
	if !e.gw.Capabilities().ResolveByAPIID {
		t.Skip("gateway cannot resolve by transaction_api_id")
	}
	// A prefix of a real id must not count: list filters match "like".
	_, req := approve(t, e)
	for _, id := range []string{NewAPIID(), req.TransactionAPIID[:len(req.TransactionAPIID)-2]} {
		res, err := e.gw.Resolve(ctx(t), id)
		if !errors.Is(err, gateway.ErrNotFound) {
			t.Errorf("resolve of unknown %s: %+v, %v; want ErrNotFound", id, res, err)
		}
	}
}

func testVoidAndRefund(t *testing.T, h Harness) {
	e := newEnv(t, h, opTimeout)
	caps := e.gw.Capabilities()
	for _, a := range []gateway.Action{gateway.ActionVoid, gateway.ActionRefund} {
		if !caps.Supports(a) {
			continue
		}
		sale, _ := approve(t, e)
		req := gateway.Request{Action: a, TransactionID: sale.ID, TransactionAPIID: NewAPIID()}
		if a == gateway.ActionRefund {
			req.Amount = sale.Amount
		}
		res, err := e.gw.Do(ctx(t), req)
		if err != nil {
			t.Errorf("%s of %s: %v", a, sale.ID, err)
			continue
		}
		if !res.Approved() {
			t.Errorf("%s: outcome %q", a, res.Outcome)
		}
	}
}

func testInvalidNotSent(t *testing.T, h Harness) {
	e := newEnv(t, h, opTimeout)
	req := h.Approve()
	req.TransactionAPIID = NewAPIID()
	req.Amount = 0
	_, err := e.gw.Do(ctx(t), req)
	if !gateway.IsInvalid(err) || !errors.Is(err, gateway.ErrInvalid) {
		t.Errorf("zero-amount sale: %v, want invalid", err)
	}
	if n := len(e.proxy.Records()); n != 0 {
		t.Errorf("an invalid request reached the server (%d requests)", n)
	}
}

func testUnsupportedNotSent(t *testing.T, h Harness) {
	e := newEnv(t, h, opTimeout)
	caps := e.gw.Capabilities()
	for _, a := range gateway.Actions {
		if caps.Supports(a) {
			continue
		}
		_, err := e.gw.Do(ctx(t), gateway.Request{Action: a, Amount: 100, TransactionID: "1", TransactionAPIID: NewAPIID()})
		if !errors.Is(err, gateway.ErrUnsupported) {
			t.Errorf("unsupported %s: %v, want ErrUnsupported", a, err)
		}
	}
	if n := len(e.proxy.Records()); n != 0 {
		t.Errorf("unsupported actions reached the server (%d requests)", n)
	}
}

func testConnectionRefused(t *testing.T, h Harness) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	gw := h.New(t, "http://"+addr, opTimeout)
	req := h.Approve()
	req.TransactionAPIID = NewAPIID()
	_, err = gw.Do(ctx(t), req)
	if !gateway.IsRetryable(err) {
		t.Errorf("connection refused: %v, want retryable", err)
	}
}

// testCommittedFault: the backend committed, the client saw a failure. The
// client must say Ambiguous, must not have sent twice, and Resolve must
// find the one transaction.
func testCommittedFault(t *testing.T, h Harness, f Fault) {
	e := newEnv(t, h, faultTimeout)
	req := h.Approve()
	req.TransactionAPIID = NewAPIID()
	if f == FaultSlow {
		// Slower than the client's timeout: the answer is on its way, but
		// too late.
		e.proxy.ArmSlow(MaxDelay, e.isCommit)
	} else {
		e.proxy.Arm(f, e.isCommit)
	}
	res, err := e.gw.Do(ctx(t), req)
	if !gateway.IsAmbiguous(err) || !gateway.NeedsResolve(err) {
		t.Fatalf("%s: got %+v, %v; want an ambiguous error", f, res, err)
	}
	if n := e.commits(); n != 1 {
		t.Fatalf("%s: backend committed %d, want 1", f, n)
	}
	resolved := resolve(t, e, req.TransactionAPIID)
	if resolved == nil {
		return
	}
	if !resolved.Approved() || resolved.Amount != req.Amount {
		t.Errorf("%s: resolved %+v, want the approved sale of %v", f, resolved, req.Amount)
	}
	if n := e.commits(); n != 1 {
		t.Errorf("%s: after resolving, backend committed %d, want 1 (no second charge)", f, n)
	}
}

// testCreateFault is testCommittedFault for the other actions that create
// a transaction from a card: a force (the approved sale's card with a voice
// auth code) and an avsonly (the card and a billing zip, no amount).
func testCreateFault(t *testing.T, h Harness, a gateway.Action, f Fault) {
	e := newEnv(t, h, faultTimeout)
	if !e.gw.Capabilities().Supports(a) {
		t.Skipf("%s not supported", a)
	}
	req := h.Approve()
	req.Action, req.TransactionAPIID = a, NewAPIID()
	if a == gateway.ActionForce {
		req.AuthCode = "VOX123"
	} else {
		req.Amount, req.Billing = 0, gateway.Billing{Zip: "32606"}
	}
	e.proxy.Arm(f, e.isCommit)
	if _, err := e.gw.Do(ctx(t), req); !gateway.IsAmbiguous(err) || !gateway.NeedsResolve(err) {
		t.Fatalf("%s after %s: %v; want an ambiguous error", a, f, err)
	}
	resolved := resolve(t, e, req.TransactionAPIID)
	if resolved != nil && (!resolved.Approved() || resolved.Amount != req.Amount) {
		t.Errorf("%s after %s: resolved %+v, want the approved %s of %v", a, f, resolved, a, req.Amount)
	}
	if n := e.commits(); n != 1 {
		t.Errorf("%s after %s: backend committed %d, want 1", a, f, n)
	}
}

// testSlowWithinTimeout: an answer that is slow but within the client's
// timeout is an ordinary result, sent once.
func testSlowWithinTimeout(t *testing.T, h Harness) {
	e := newEnv(t, h, opTimeout)
	e.proxy.ArmSlow(faultTimeout, e.isCommit)
	start := time.Now()
	res, _ := approve(t, e)
	if d := time.Since(start); d < faultTimeout {
		t.Errorf("answered in %v: the slow fault did not fire", d)
	}
	if !res.Approved() {
		t.Errorf("outcome %q, want approved", res.Outcome)
	}
	if n := e.commits(); n != 1 {
		t.Errorf("backend committed %d, want 1", n)
	}
}

// resolve resolves by transaction_api_id, or, for a gateway that cannot,
// reports the limitation and returns nil.
func resolve(t *testing.T, e *env, apiID string) *gateway.Result {
	t.Helper()
	if !e.gw.Capabilities().ResolveByAPIID {
		t.Logf("%s cannot resolve by transaction_api_id", e.gw.Name())
		return nil
	}
	res, err := e.gw.Resolve(ctx(t), apiID)
	if err != nil {
		t.Fatalf("resolve %s: %v", apiID, err)
	}
	if res.TransactionAPIID != "" && res.TransactionAPIID != apiID {
		t.Errorf("resolve %s found %s", apiID, res.TransactionAPIID)
	}
	return res
}

// testAbsentFault: the connection dies before the backend saw the request.
// The client cannot know that (Ambiguous); Resolve proves it absent; then,
// and only then, sending again is safe and makes exactly one charge.
func testAbsentFault(t *testing.T, h Harness) {
	e := newEnv(t, h, faultTimeout)
	if !e.gw.Capabilities().ResolveByAPIID {
		t.Skip("gateway cannot prove a transaction absent")
	}
	req := h.Approve()
	req.TransactionAPIID = NewAPIID()
	e.proxy.Arm(FaultResetBeforeCommit, e.isCommit)
	_, err := e.gw.Do(ctx(t), req)
	if !gateway.IsAmbiguous(err) {
		t.Fatalf("reset after write: %v, want ambiguous", err)
	}
	if _, err := e.gw.Resolve(ctx(t), req.TransactionAPIID); !errors.Is(err, gateway.ErrNotFound) {
		t.Fatalf("resolve after an uncommitted reset: %v, want ErrNotFound", err)
	}
	if _, err := e.gw.Do(ctx(t), req); err != nil {
		t.Fatalf("sending again after proven absence: %v", err)
	}
	if n := e.commits(); n != 1 {
		t.Errorf("backend committed %d, want 1", n)
	}
}

func test429(t *testing.T, h Harness) {
	e := newEnv(t, h, faultTimeout)
	req := h.Approve()
	req.TransactionAPIID = NewAPIID()
	e.proxy.Arm(Fault429, e.isCommit)
	_, err := e.gw.Do(ctx(t), req)
	if !gateway.IsRetryable(err) {
		t.Fatalf("429: %v, want retryable", err)
	}
	var ge *gateway.Error
	if errors.As(err, &ge) && ge.RetryAfter != time.Second {
		t.Errorf("retry after %v, want the server's 1s", ge.RetryAfter)
	}
	if n := e.commits(); n != 0 {
		t.Fatalf("backend committed %d on a 429, want 0", n)
	}
	if _, err := e.gw.Do(ctx(t), req); err != nil {
		t.Fatalf("sending again after 429: %v", err)
	}
	if n := e.commits(); n != 1 {
		t.Errorf("backend committed %d, want 1", n)
	}
}

// testChangeFault injects f on a capture, void or refund of an approved
// transaction. The client must never send it twice: a fault after the
// request was written is Ambiguous (the caller resolves it), a 429
// Retryable, and the backend saw the request at most once. A refund the
// backend committed must be found by Resolve unless the client declares
// refunds unprovable (Capabilities.NoAbsenceProof): a Resolve that answers
// "not found" for a refund that exists would make its caller send it again.
func testChangeFault(t *testing.T, h Harness, a gateway.Action, f Fault) {
	// The original and the checks go through a client with the generous
	// timeout; only the faulted request through one with the short one.
	e := newEnv(t, h, opTimeout)
	faulted := h.New(t, e.url, faultTimeout)
	caps := e.gw.Capabilities()
	if !caps.Supports(a) {
		t.Skipf("%s not supported", a)
	}
	orig := h.Approve()
	orig.TransactionAPIID = NewAPIID()
	if a == gateway.ActionAuthComplete || a == gateway.ActionAuthIncrement {
		orig.Action = gateway.ActionAuthOnly
	}
	tx, err := e.gw.Do(ctx(t), orig)
	if err != nil {
		t.Fatalf("%s: %v", orig.Action, err)
	}
	changes := func(r *http.Request) bool {
		return r.Method != http.MethodGet && !strings.HasSuffix(r.URL.Path, "/login")
	}
	e.proxy.Arm(f, changes)
	req := gateway.Request{Action: a, TransactionID: tx.ID}
	switch a {
	case gateway.ActionRefund:
		req.Amount, req.TransactionAPIID = tx.Amount, NewAPIID()
	case gateway.ActionAuthIncrement: // the new total (the seed's "desired settle amount")
		req.Amount = tx.Amount + 100
	case gateway.ActionPartialReversal:
		req.Amount = tx.Amount - 100
	}
	_, err = faulted.Do(ctx(t), req)
	switch f {
	case Fault429:
		if !gateway.IsRetryable(err) {
			t.Fatalf("%s after %s: %v, want retryable", a, f, err)
		}
	default:
		if !gateway.IsAmbiguous(err) || !gateway.NeedsResolve(err) {
			t.Fatalf("%s after %s: %v, want ambiguous", a, f, err)
		}
	}
	sent := e.proxy.Count(func(r Record) bool {
		return r.Method != http.MethodGet && !strings.HasSuffix(r.Path, "/login") && r.Fault == f
	})
	all := e.proxy.Count(func(r Record) bool {
		return r.Method != http.MethodGet && !strings.HasSuffix(r.Path, "/login")
	})
	if sent != 1 || all != 2 { // the original and this one
		t.Fatalf("%s after %s: %d requests changed state (%d with the fault), want the original and one", a, f, all, sent)
	}
	now, err := e.gw.Lookup(ctx(t), tx.ID)
	if err != nil {
		t.Errorf("lookup of %s after %s: %v", tx.ID, f, err)
	}
	committed := f == FaultDelayAfterCommit || f == Fault500AfterCommit || f == FaultResetAfterCommit
	if a == gateway.ActionAuthIncrement || a == gateway.ActionPartialReversal {
		// The engine decides whether a lost change took effect by the
		// amount the lookup shows: the new total, or still the old one.
		want := tx.Amount
		if committed {
			want = req.Amount
		}
		if now != nil && now.Amount != want {
			t.Errorf("%s after %s: lookup shows %v, want %v", a, f, now.Amount, want)
		}
	}
	if a == gateway.ActionRefund && committed && !caps.NoAbsenceProof[a] {
		if _, err := e.gw.Resolve(ctx(t), req.TransactionAPIID); err != nil {
			t.Errorf("resolve of a committed refund: %v; a client whose Resolve cannot find refunds must declare them in NoAbsenceProof", err)
		}
	}
}
