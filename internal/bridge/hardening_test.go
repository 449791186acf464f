package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/syncbuf"
	"golang.org/x/net/publicsuffix"
)

// Issue 16: unpaired foreign connections used to count against the one
// connection cap, never had to say hello and lived as long as the browser
// answered pings: 64 of them locked the POS page out.
func TestStrangersCannotLockOutTheOwnPage(t *testing.T) {
	pairs, _ := OpenPairings(t.TempDir())
	token, _ := pairs.Approve("https://paired.example", false)
	h := start(t, func(o *Options, _ *timing) {
		o.Pairings = pairs
		o.AllowedOrigins = []string{"https://kiosk.example"}
	})
	held, refused := 0, 0
	for i := 0; i < maxClients+16; i++ {
		_, res, err := h.dial(fmt.Sprintf("https://x%d.evil.com", i), "")
		if err != nil {
			if res == nil || res.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("evil connection %d: %v (%v)", i, err, res)
			}
			refused++
			continue
		}
		held++
	}
	if held > maxStrangersPerSite {
		t.Fatalf("one site holds %d connections, want at most %d", held, maxStrangersPerSite)
	}
	// Other sites fill the strangers' pool.
	for i := 0; i < maxStrangers; i++ {
		_, _, _ = h.dial(fmt.Sprintf("https://site%d.example", i), "")
	}
	h.open() // the own page
	k := h.mustDial("https://kiosk.example")
	k.send(`{"type":"hello","id":"1"}`)
	k.expect("welcome")
	p := h.mustDial("https://paired.example")
	p.send(map[string]string{"type": "hello", "id": "1", "token": token})
	p.expect("welcome")
}

// A buggy or hostile paired page is a known origin too: it gets a share
// of the main pool, not all of it.
func TestOneKnownOriginCannotFillThePool(t *testing.T) {
	pairs, _ := OpenPairings(t.TempDir())
	token, _ := pairs.Approve("https://greedy.example", false)
	h := start(t, func(o *Options, _ *timing) { o.Pairings = pairs })
	held := 0
	for i := 0; i < maxClients+6; i++ {
		c, _, err := h.dial("https://greedy.example", "")
		if err != nil {
			continue
		}
		c.send(map[string]string{"type": "hello", "id": "1", "token": token})
		c.expect("welcome")
		held++
	}
	if held != maxClientsPerOrigin {
		t.Fatalf("one origin holds %d connections, want %d", held, maxClientsPerOrigin)
	}
	h.open()
}

func TestUnadmittedConnectionsHaveAHelloDeadline(t *testing.T) {
	h := start(t, func(_ *Options, tm *timing) { tm.helloWait = 100 * time.Millisecond })
	silent := h.mustDial("https://evil.example")
	if code, why := silent.closeCode(); code != websocket.ClosePolicyViolation || !strings.Contains(why, CodeNotPaired) {
		t.Fatalf("silent stranger closed with %d %q, want 1008 not_paired", code, why)
	}
	refusedHello := h.mustDial("https://evil.example")
	refusedHello.send(`{"type":"hello","id":"1"}`)
	refusedHello.expectError(CodeNotPaired)
	if code, _ := refusedHello.closeCode(); code != websocket.ClosePolicyViolation {
		t.Fatalf("refused stranger closed with %d, want 1008", code)
	}
	// An admitted connection stays past the deadline.
	own := h.open()
	time.Sleep(3 * h.b.t.helloWait)
	own.send(`{"type":"status","id":"q"}`)
	own.expect("status")
	waitClients(t, h.b, 1)
}

// Issue 16: the cap was checked before the upgrade and the connection
// counted after it, so concurrent handshakes admitted 65-119 for 64.
func TestConnectionCapUnderConcurrentHandshakes(t *testing.T) {
	const limit = 8
	h := start(t, func(o *Options, _ *timing) { o.MaxClients = limit })
	var ok atomic.Int32
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			hdr := http.Header{"Origin": {h.self()}}
			d := websocket.Dialer{HandshakeTimeout: waitFor}
			ws, _, err := d.Dial("ws://"+h.host()+"/v1/ws", hdr)
			if err == nil {
				ok.Add(1)
				t.Cleanup(func() { ws.Close() })
			}
		}()
	}
	close(gate)
	wg.Wait()
	if n := ok.Load(); n != limit {
		t.Fatalf("%d handshakes admitted, want exactly %d", n, limit)
	}
	if n := h.b.clientCount(); n != limit {
		t.Fatalf("%d clients, want %d", n, limit)
	}
}

// Issue 16: 4,000 log lines in 3 s from refused handshakes.
func TestRefusalsLogRateLimited(t *testing.T) {
	var logs syncbuf.Buffer
	var clock atomic.Int64 // seconds
	h := start(t, func(o *Options, _ *timing) {
		o.Log = slog.New(slog.NewTextHandler(&logs, nil))
		o.Now = func() time.Time { return time.Unix(clock.Load(), 0) }
	})
	for i := 0; i < 300; i++ {
		h.get("/", "evil.example:"+strconv.Itoa(h.port)).Body.Close()
		if _, _, err := h.dial("chrome-extension://x", ""); err == nil {
			t.Fatal("a chrome-extension origin was admitted")
		}
	}
	if n := strings.Count(logs.String(), "request refused"); n != refusalLogBurst {
		t.Fatalf("%d refusal lines for 600 refusals in one window, want %d", n, refusalLogBurst)
	}
	clock.Add(int64(refusalLogWindow / time.Second))
	h.get("/", "evil.example:"+strconv.Itoa(h.port)).Body.Close()
	out := logs.String()
	if !strings.Contains(out, "refused requests not logged") || !strings.Contains(out, "count="+strconv.Itoa(600-refusalLogBurst)) {
		t.Fatalf("no summary of the suppressed refusals:\n%s", out[max(0, len(out)-600):])
	}
}

// Issue 16: "http://127.0.0.1:017380" counted as the own page.
func TestOwnPageComparedCanonically(t *testing.T) {
	h := start(t)
	p := strconv.Itoa(h.port)
	for _, o := range []string{"http://127.0.0.1:0" + p, "http://127.0.0.1:00" + p, "http://127.0.0.1:+" + p, "http://[0:0:0:0:0:0:0:1]:" + p, "http://127.000.000.001:" + p} {
		c, res, err := h.dial(o, "")
		if err == nil {
			c.send(`{"type":"hello","id":"1"}`)
			m, _ := c.recv()
			t.Fatalf("Origin %q: handshake accepted, hello got %s", o, m["_raw"])
		}
		if res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("Origin %q: %v, want 403", o, err)
		}
	}
	for _, o := range []string{"http://localhost.:" + p, "http://LOCALHOST:" + p} {
		c := h.mustDial(o)
		c.send(`{"type":"hello","id":"1"}`)
		m, err := c.recv()
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{true: "welcome", false: "error"}[o == "http://LOCALHOST:"+p]
		if m.str("type") != want {
			t.Fatalf("Origin %q: %s, want %s", o, m["_raw"], want)
		}
	}
	// A Host with a leading-zero port is not the agent's either.
	if res := h.get("/", "127.0.0.1:0"+p); res.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("Host 127.0.0.1:0%s: status %d, want 421", p, res.StatusCode)
	}
}

// Issue 16: with --insecure-listen-any a LAN host that wrote Host and
// Origin as the own page (or an allowed origin) was admitted.
func TestLANBindingNeedsATokenFromEveryone(t *testing.T) {
	pairs, _ := OpenPairings(t.TempDir())
	token, _ := pairs.Approve("https://kiosk.example", false)
	h := startOn(t, "0.0.0.0:0", func(o *Options, _ *timing) {
		o.InsecureListenAny = true
		o.AllowedOrigins = []string{"https://kiosk.example"}
		o.Pairings = pairs
	})
	for _, o := range []string{h.self(), "https://kiosk.example"} {
		c := h.mustDial(o)
		c.send(`{"type":"hello","id":"1"}`)
		c.expectError(CodeNotPaired)
	}
	c := h.mustDial("https://kiosk.example")
	c.send(map[string]string{"type": "hello", "id": "1", "token": token})
	c.expect("welcome")
}

// Issue 16: an OPTIONS preflight with Access-Control-Request-Private-Network
// got 405.
func TestPrivateNetworkAccessPreflight(t *testing.T) {
	pairs, _ := OpenPairings(t.TempDir())
	_, _ = pairs.Approve("https://paired.example", false)
	h := start(t, func(o *Options, _ *timing) {
		o.AllowedOrigins = []string{"https://kiosk.example"}
		o.Pairings = pairs
	})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, "http://"+h.host()+"/v1/ws", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Private-Network", "true")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, o := range []string{"https://kiosk.example", "https://paired.example", h.self()} {
		res := preflight(o)
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Private-Network") != "true" ||
			res.Header.Get("Access-Control-Allow-Origin") != o {
			t.Errorf("%s: %d %v, want 204 with Access-Control-Allow-Private-Network: true", o, res.StatusCode, res.Header)
		}
	}
	for _, o := range []string{"https://evil.example", "null"} {
		res := preflight(o)
		if res.StatusCode != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Private-Network") != "" ||
			res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d %v, want 403 without CORS headers", o, res.StatusCode, res.Header)
		}
	}
}

// Issue 16: a local process that sent the own page's Origin was admitted
// without a token in `run`. Only posagent demo trusts the own page (or a
// config that lists it in allowed_origins).
func TestOwnPageNeedsATokenUnlessTrusted(t *testing.T) {
	pairs, _ := OpenPairings(t.TempDir())
	h := start(t, func(o *Options, _ *timing) { o.TrustOwnPage = false; o.Pairings = pairs })
	c := h.mustDial(h.self())
	c.send(`{"type":"hello","id":"1"}`)
	if e := c.expectError(CodeNotPaired); !strings.Contains(e.str("message"), "posagent pair --origin "+h.self()) {
		t.Fatalf("refusal %s: want the pair command", e["_raw"])
	}
	token, _ := pairs.Approve(h.self(), false)
	c.send(map[string]string{"type": "hello", "id": "2", "token": token})
	c.expect("welcome")

	listed := start(t, func(o *Options, _ *timing) { o.TrustOwnPage = false })
	listed.b.allowed["http://localhost:"+strconv.Itoa(listed.port)] = true // as allowed_origins would
	own := listed.mustDial(listed.self())
	own.send(`{"type":"hello","id":"1"}`)
	own.expect("welcome")
}

// Issue 16: a reading client was closed as slow after three status
// requests with 71 unacknowledged results (3 × 33 replies > the queue).
func TestStatusBurstIsNotSlowness(t *testing.T) {
	h := start(t)
	for i := 0; i < 71; i++ {
		h.eng.AddResult(sale.Result{TransactionAPIID: fmt.Sprintf("t%03d", i), ClientID: fmt.Sprintf("s%d", i),
			Origin: h.self(), Action: "sale", Amount: "1.00", Outcome: "approved"})
	}
	c := h.open()
	for i := 0; i < 3; i++ {
		c.send(fmt.Sprintf(`{"type":"status","id":"q%d"}`, i))
	}
	statuses, results := 0, 0
	for statuses+results < 3*(1+maxReplay) {
		m, err := c.recv()
		if err != nil {
			t.Fatalf("after %d status and %d results: %v", statuses, results, err)
		}
		switch m.str("type") {
		case "status":
			statuses++
		case "result":
			results++
		default:
			t.Fatalf("unexpected %s", m["_raw"])
		}
	}
	c.send(`{"type":"status","id":"again"}`)
	c.expect("status")
}

// smallBuffers makes every accepted connection's socket buffers small, so
// that a client that does not read stalls the agent's writes at once
// rather than after megabytes of kernel buffers.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// A client that truly does not read is still closed: its replies wait
// unread (or its socket stays full) past writeWait.
func TestNonReaderClosedByReplies(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := startWith(t, smallBuffers{ln}, func(_ *Options, tm *timing) { tm.writeWait = 200 * time.Millisecond })
	for i := 0; i < 71; i++ {
		h.eng.AddResult(sale.Result{TransactionAPIID: fmt.Sprintf("t%03d", i), ClientID: fmt.Sprintf("s%d", i),
			Origin: h.self(), Action: "sale", Amount: "1.00", Outcome: "approved"})
	}
	d := websocket.Dialer{HandshakeTimeout: waitFor, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	ws, _, err := d.Dial("ws://"+h.host()+"/v1/ws", http.Header{"Origin": {h.self()}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := &client{t: t, ws: ws}
	c.send(`{"type":"hello","id":"h"}`)
	c.expect("welcome")
	deadline := time.Now().Add(waitFor)
	for h.b.clientCount() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a client that never reads was never closed")
		}
		_ = ws.SetWriteDeadline(time.Now().Add(waitFor))
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"status","id":"q"}`)); err != nil {
			break // closed
		}
	}
	waitClients(t, h.b, 0)
}

// blockingPairer counts questions and holds each until its context ends.
type blockingPairer struct {
	calls   atomic.Int32
	mu      sync.Mutex
	ctxs    []context.Context
	origins []string
}

func (p *blockingPairer) RequestPairing(ctx context.Context, r PairingRequest) (PairingDecision, error) {
	p.calls.Add(1)
	p.mu.Lock()
	p.ctxs = append(p.ctxs, ctx)
	p.origins = append(p.origins, r.Origin)
	p.mu.Unlock()
	<-ctx.Done()
	return PairDeny, ctx.Err()
}

// Issue 16: distinct subdomains bypassed the per-origin deny cool-down.
func TestPairingRateLimitedPerSite(t *testing.T) {
	pr := &countingPairer{d: PairDeny}
	h := start(t, func(o *Options, tm *timing) { o.Pairer = pr; tm.pairDenyCooldown = time.Hour })
	for i, o := range []string{"https://a.evil.com", "https://b.evil.com", "http://evil.com:8080", "https://x.y.evil.com"} {
		c := h.mustDial(o)
		c.send(`{"type":"hello","id":"1"}`)
		e := c.expectError(CodeNotPaired)
		if i > 0 && !strings.Contains(e.str("message"), "evil.com") {
			t.Fatalf("%s: %s", o, e["_raw"])
		}
	}
	if n := pr.calls.Load(); n != 1 {
		t.Fatalf("the cashier was asked %d times by one site, want once", n)
	}
	// Another site is still asked; co.uk-style suffixes are not one site.
	c := h.mustDial("https://shop.example.co.uk")
	c.send(`{"type":"hello","id":"1"}`)
	c.expectError(CodeNotPaired)
	c2 := h.mustDial("https://other.co.uk")
	c2.send(`{"type":"hello","id":"1"}`)
	c2.expectError(CodeNotPaired)
	if n := pr.calls.Load(); n != 3 {
		t.Fatalf("the cashier was asked %d times, want 3", n)
	}
}

func TestSiteOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://x.evil.com": "evil.com", "http://y.evil.com:8080": "evil.com", "https://evil.com": "evil.com",
		"https://a.b.example.co.uk": "example.co.uk", "http://127.0.0.1:7380": "127.0.0.1", "http://[::1]:7380": "[::1]",
		"http://localhost:7380": "localhost", "https://pos.example.com.": "example.com", NativeOrigin: NativeOrigin,
	} {
		if got := siteOf(in); got != want {
			t.Errorf("siteOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// Issue 16: no global cap on pairing dialogs (6,000 pending).
func TestPairingQuestionsCappedGlobally(t *testing.T) {
	pr := &blockingPairer{}
	h := start(t, func(o *Options, _ *timing) { o.Pairer = pr })
	for i := 0; i < 10; i++ {
		c := h.mustDial(fmt.Sprintf("https://site%d.example", i))
		c.send(`{"type":"hello","id":"1"}`)
		if i >= maxPairingQuestions {
			if e := c.expectError(CodeNotPaired); !strings.Contains(e.str("message"), "questions open") {
				t.Fatalf("hello %d: %s, want refused for the cap", i, e["_raw"])
			}
			continue
		}
		// The first ones wait for the cashier.
		deadline := time.Now().Add(waitFor)
		for int(pr.calls.Load()) < i+1 {
			if time.Now().After(deadline) {
				t.Fatalf("hello %d never reached the cashier", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if n := pr.calls.Load(); n != maxPairingQuestions {
		t.Fatalf("the cashier has %d questions, want %d", n, maxPairingQuestions)
	}
}

// Issue 16: a question outlived its connection for 2 minutes.
func TestPairingQuestionDiesWithItsConnection(t *testing.T) {
	pr := &blockingPairer{}
	h := start(t, func(o *Options, _ *timing) { o.Pairer = pr })
	c := h.mustDial("https://leaving.example")
	c.send(`{"type":"hello","id":"1"}`)
	deadline := time.Now().Add(waitFor)
	for pr.calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cashier was never asked")
		}
		time.Sleep(time.Millisecond)
	}
	c.ws.Close()
	pr.mu.Lock()
	ctx := pr.ctxs[0]
	pr.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-time.After(waitFor):
		t.Fatal("the question outlived its connection")
	}
	// Its site cools down briefly: a page cannot flash dialogs by
	// reconnecting.
	c2 := h.mustDial("https://leaving.example")
	c2.send(`{"type":"hello","id":"1"}`)
	c2.expectError(CodeNotPaired)
	if n := pr.calls.Load(); n != 1 {
		t.Fatalf("asked %d times", n)
	}
}

// SIGTERM under a pairing flood: Serve still returns at once (the harness
// checks it on cleanup) and the cashier saw only the capped questions.
func TestShutdownUnderPairingFlood(t *testing.T) {
	pr := &blockingPairer{}
	h := start(t, func(o *Options, _ *timing) { o.Pairer = pr })
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := h.dial(fmt.Sprintf("https://s%d.flood%d.example", i, i%50), "")
			if err != nil {
				return
			}
			_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","id":"1"}`))
		}()
	}
	wg.Wait()
	if n := pr.calls.Load(); n > maxPairingQuestions {
		t.Fatalf("%d questions for the cashier, want at most %d", n, maxPairingQuestions)
	}
	h.stop()
}

func FuzzSiteOf(f *testing.F) {
	for _, s := range []string{"https://x.evil.com", "http://[::1]:7380", "http://127.0.0.1:7380", "https://a.b.co.uk.", NativeOrigin} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := NormalizeOrigin(s)
		if err != nil {
			return
		}
		site := siteOf(o)
		if site == "" || strings.Contains(site, "/") {
			t.Fatalf("siteOf(%q) = %q", o, site)
		}
		// A subdomain is in its parent's site (a one-label host such as
		// "localhost" is a top-level name: its subdomains are sites).
		if o == NativeOrigin {
			return
		}
		host := strings.TrimSuffix(strings.SplitN(strings.SplitN(o, "://", 2)[1], ":", 2)[0], ".")
		if ps, _ := publicsuffix.PublicSuffix(host); ps == host || strings.Contains(o, "[") || isIPOrigin(o) ||
			!strings.Contains(site, ".") {
			return
		}
		if sub := strings.Replace(o, "://", "://sub.", 1); siteOf(sub) != site {
			t.Fatalf("%s is in site %q, %s in %q", sub, siteOf(sub), o, site)
		}
	})
}

func isIPOrigin(o string) bool {
	h := o[strings.Index(o, "://")+3:]
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return strings.Trim(h, "0123456789.") == ""
}

// A LAN client of an agent listening beyond loopback (--insecure-listen-any)
// reaches it by the address it listens on: Host "192.0.2.2:7498". That Host
// got 421 bad_host, so the mode admitted only clients that spoof a loopback
// Host. An IP literal the connection arrived on cannot be DNS-rebound; a
// name still can, and is still refused. Every client still needs a token.
func TestLANClientsReachTheListenAddress(t *testing.T) {
	var lanIP net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			lanIP = n.IP
			break
		}
	}
	if lanIP == nil {
		t.Skip("no non-loopback IPv4 address on this machine")
	}
	pairs, _ := OpenPairings(t.TempDir())
	token, _ := pairs.Approve("https://kiosk.example", false)
	h := startOn(t, net.JoinHostPort(lanIP.String(), "0"), func(o *Options, _ *timing) {
		o.InsecureListenAny = true
		o.Pairings = pairs
	})
	lanHost := net.JoinHostPort(lanIP.String(), strconv.Itoa(h.port))
	d := websocket.Dialer{HandshakeTimeout: waitFor}
	ws, res, err := d.Dial("ws://"+lanHost+"/v1/ws", http.Header{"Origin": {"https://kiosk.example"}})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("a LAN client dialing %s: %v (HTTP %d)", lanHost, err, status)
	}
	c := &client{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	c.send(map[string]string{"type": "hello", "id": "1", "token": token})
	c.expect("welcome")
	// A name for the address is still the DNS-rebinding case.
	req, _ := http.NewRequest("GET", "http://"+lanHost+"/healthz", nil)
	req.Host = "pos.evil.example:" + strconv.Itoa(h.port)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host naming a DNS name on the LAN listener: %v %v, want 421", err, res)
	}
}
