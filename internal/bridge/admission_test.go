package bridge

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHostCheck(t *testing.T) {
	h := start(t)
	p := strconv.Itoa(h.port)
	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + p, http.StatusOK},
		{"localhost:" + p, http.StatusOK},
		{"LOCALHOST:" + p, http.StatusOK},
		{"[::1]:" + p, http.StatusOK},
		{"evil.example:" + p, http.StatusMisdirectedRequest},       // DNS rebinding
		{"attacker.localhost:" + p, http.StatusMisdirectedRequest}, // resolves to loopback, still a foreign name
		{"127.0.0.2:" + p, http.StatusMisdirectedRequest},
		{"127.0.0.1:1", http.StatusMisdirectedRequest}, // another port
		{"127.0.0.1", http.StatusMisdirectedRequest},   // no port
		{"localhost", http.StatusMisdirectedRequest},
		{"0x7f000001:" + p, http.StatusMisdirectedRequest},
	}
	for _, path := range []string{"/", "/healthz", "/metrics", "/posagent.js"} {
		for _, tt := range tests {
			res := h.get(path, tt.host)
			b := body(t, res)
			if res.StatusCode != tt.want {
				t.Errorf("GET %s Host %q: status %d, want %d (%s)", path, tt.host, res.StatusCode, tt.want, b)
			}
			if tt.want != http.StatusOK && !strings.Contains(b, "bad_host") {
				t.Errorf("GET %s Host %q: body %q does not say bad_host", path, tt.host, b)
			}
			if res.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("GET %s Host %q: no security headers on the response", path, tt.host)
			}
		}
	}
	// The same guard on the websocket handshake.
	for _, tt := range tests {
		_, res, err := h.dial(h.self(), tt.host)
		if tt.want == http.StatusOK {
			if err != nil {
				t.Errorf("websocket Host %q: %v", tt.host, err)
			}
			continue
		}
		if err == nil || res == nil || res.StatusCode != tt.want {
			t.Errorf("websocket Host %q: err %v, response %v; want status %d", tt.host, err, res, tt.want)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := start(t)
	for _, path := range []string{"/", "/app.js", "/app.css", "/posagent.js", "/posagent.d.ts", "/healthz", "/metrics", "/nope", "/v1/ws"} {
		res := h.get(path, h.host())
		body(t, res)
		hd := res.Header
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
		} {
			if got := hd.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q lacks frame-ancestors 'none'", path, csp)
		}
		switch path {
		case "/healthz", "/metrics", "/v1/ws", "/nope":
			if cc := hd.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: Cache-Control %q, want no-store", path, cc)
			}
		}
	}
	res := h.get("/", h.host())
	body(t, res)
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' ws://"+h.host()) || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("page CSP %q: want connect-src to this agent only and no unsafe-inline", csp)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("page Content-Type %q", ct)
	}
	res = h.get("/posagent.js", h.host())
	body(t, res)
	if res.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("posagent.js headers %v", res.Header)
	}
}

func TestOriginHandshake(t *testing.T) {
	h := start(t, func(o *Options, _ *timing) { o.AllowedOrigins = []string{"https://pos.example.com"} })
	tests := []struct {
		origin string
		ok     bool
	}{
		{h.self(), true},
		{"http://localhost:" + strconv.Itoa(h.port), true},
		{"https://pos.example.com", true},
		{"https://other.example", true}, // may connect, must pair
		{"", true},                      // no Origin: native, must pair
		{"null", false},
		{"chrome-extension://abcdef", false},
		{"https://pos.example.com/path", false},
		{"native", false},
		{"not a url", false},
	}
	for _, tt := range tests {
		_, res, err := h.dial(tt.origin, "")
		if tt.ok != (err == nil) {
			t.Errorf("Origin %q: err %v, want ok=%v", tt.origin, err, tt.ok)
		}
		if !tt.ok && res != nil {
			if b := body(t, res); res.StatusCode != http.StatusForbidden || !strings.Contains(b, CodeForbiddenOrigin) {
				t.Errorf("Origin %q: status %d body %q, want 403 forbidden_origin", tt.origin, res.StatusCode, b)
			}
		}
	}
}

func TestAdmission(t *testing.T) {
	dir := t.TempDir()
	pairs, err := OpenPairings(dir)
	if err != nil {
		t.Fatal(err)
	}
	paired := "https://paired.example"
	token, err := pairs.Approve(paired, false)
	if err != nil {
		t.Fatal(err)
	}
	revoked := "https://revoked.example"
	revokedToken, _ := pairs.Approve(revoked, false)
	if _, err := pairs.Revoke(revoked); err != nil {
		t.Fatal(err)
	}
	h := start(t, func(o *Options, _ *timing) {
		o.AllowedOrigins = []string{"https://kiosk.example"}
		o.Pairings = pairs
	})
	tests := []struct {
		name, origin, token string
		want                string // welcome or an error code
	}{
		{"own page 127.0.0.1", h.self(), "", "welcome"},
		{"own page localhost", "http://localhost:" + strconv.Itoa(h.port), "", "welcome"},
		{"allowed origin", "https://kiosk.example", "", "welcome"},
		{"allowed origin ignores a stray token", "https://kiosk.example", "whatever", "welcome"},
		{"paired origin with its token", paired, token, "welcome"},
		{"paired origin, default port spelled out", "https://paired.example:443", token, "welcome"},
		{"paired origin without token", paired, "", CodeNotPaired},
		{"paired origin, bad token", paired, flipLast(token), CodeNotPaired},
		{"another origin's token", "https://foreign.example", token, CodeNotPaired},
		{"revoked token", revoked, revokedToken, CodeNotPaired},
		{"foreign origin", "https://foreign.example", "", CodeNotPaired},
		{"own page on another port is foreign", "http://127.0.0.1:1", "", CodeNotPaired},
		{"no Origin header", "", "", CodeNotPaired},
		{"no Origin header with a web token", "", token, CodeNotPaired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.mustDial(tt.origin)
			// Nothing works before hello.
			c.send(`{"type":"status","id":"q0"}`)
			c.expectError(CodeNotPaired)
			c.send(map[string]string{"type": "hello", "id": "1", "token": tt.token})
			if tt.want == "welcome" {
				m := c.expect("welcome")
				if m.str("id") != "1" || m.obj("agent").str("name") != "posagent" || m["readers"] == nil {
					t.Fatalf("welcome %s", m["_raw"])
				}
				c.send(`{"type":"status","id":"q1"}`)
				c.expect("status")
				return
			}
			e := c.expectError(tt.want)
			if e.str("id") != "1" || e.str("message") == "" {
				t.Fatalf("error %s: want id 1 and a message", e["_raw"])
			}
			if strings.Contains(e.str("_raw"), token) {
				t.Fatal("the error echoes the token")
			}
			// Still refused, and the connection still answers.
			c.send(`{"type":"sale","id":"s1","amount":"1.00"}`)
			c.expectError(CodeNotPaired)
		})
	}
}

func TestPairingClaim(t *testing.T) {
	pairs, _ := OpenPairings(t.TempDir())
	if _, err := pairs.Approve("https://pos.example.com", true); err != nil {
		t.Fatal(err)
	}
	h := start(t, func(o *Options, _ *timing) { o.Pairings = pairs })
	c := h.mustDial("https://pos.example.com")
	c.send(`{"type":"hello","id":"1"}`)
	p := c.expect("paired")
	if p.str("token") == "" || p.str("scope") != "always" || p.str("origin") != "https://pos.example.com" {
		t.Fatalf("paired %s", p["_raw"])
	}
	c.expect("welcome")
	// The claim is spent: the next tokenless hello is refused, the token works.
	c2 := h.mustDial("https://pos.example.com")
	c2.send(`{"type":"hello","id":"1"}`)
	c2.expectError(CodeNotPaired)
	c2.send(map[string]string{"type": "hello", "id": "2", "token": p.str("token")})
	c2.expect("welcome")
}

// countingPairer answers with d and counts the questions.
type countingPairer struct {
	d     PairingDecision
	calls atomic.Int32
	block chan struct{} // when set, answers only once closed
}

func (p *countingPairer) RequestPairing(ctx context.Context, _ PairingRequest) (PairingDecision, error) {
	p.calls.Add(1)
	if p.block != nil {
		select {
		case <-p.block:
		case <-ctx.Done():
			return PairDeny, ctx.Err()
		}
	}
	return p.d, nil
}

func TestPairingDecisions(t *testing.T) {
	for _, tc := range []struct {
		d      PairingDecision
		stored bool
	}{{PairOnce, false}, {PairAlways, true}} {
		t.Run(tc.d.String(), func(t *testing.T) {
			dir := t.TempDir()
			pairs, _ := OpenPairings(dir)
			pr := &countingPairer{d: tc.d}
			h := start(t, func(o *Options, _ *timing) { o.Pairings = pairs; o.Pairer = pr })
			c := h.mustDial("https://shop.example")
			c.send(`{"type":"hello","id":"1"}`)
			p := c.expect("paired")
			token := p.str("token")
			if p.str("scope") != tc.d.String() || len(token) < 40 {
				t.Fatalf("paired %s", p["_raw"])
			}
			c.expect("welcome")
			c.send(`{"type":"status","id":"q"}`)
			c.expect("status")
			// A later connection presents the token.
			c2 := h.mustDial("https://shop.example")
			c2.send(map[string]string{"type": "hello", "id": "1", "token": token})
			c2.expect("welcome")
			raw, _ := os.ReadFile(filepath.Join(dir, PairingsFile))
			if strings.Contains(string(raw), token) {
				t.Fatal("the pairing store holds a clear token")
			}
			if got := strings.Contains(string(raw), "https://shop.example"); got != tc.stored {
				t.Fatalf("store mentions the origin: %v, want %v\n%s", got, tc.stored, raw)
			}
			if n := pr.calls.Load(); n != 1 {
				t.Fatalf("pairer asked %d times", n)
			}
		})
	}
}

func TestPairingDenyCooldown(t *testing.T) {
	pr := &countingPairer{d: PairDeny}
	h := start(t, func(o *Options, tm *timing) { o.Pairer = pr; tm.pairDenyCooldown = time.Hour })
	c := h.mustDial("https://pushy.example")
	c.send(`{"type":"hello","id":"1"}`)
	c.expectError(CodeNotPaired)
	for i := 0; i < 5; i++ {
		c.send(`{"type":"hello","id":"again"}`)
		c.expectError(CodeNotPaired)
	}
	if n := pr.calls.Load(); n != 1 {
		t.Fatalf("the cashier was asked %d times, want once (cool-down)", n)
	}
}

func TestPairingSharedAndPending(t *testing.T) {
	pr := &countingPairer{d: PairOnce, block: make(chan struct{})}
	h := start(t, func(o *Options, _ *timing) { o.Pairer = pr })
	a := h.mustDial("https://two.example")
	b := h.mustDial("https://two.example")
	a.send(`{"type":"hello","id":"1"}`)
	b.send(`{"type":"hello","id":"1"}`)
	// While the cashier decides, requests and a second hello are refused.
	time.Sleep(50 * time.Millisecond)
	a.send(`{"type":"sale","id":"s","amount":"1.00"}`)
	if e := a.expectError(CodeNotPaired); !strings.Contains(e.str("message"), "waiting") {
		t.Fatalf("pending: %s", e["_raw"])
	}
	a.send(`{"type":"hello","id":"2"}`)
	a.expectError(CodeNotPaired)
	close(pr.block)
	pa, pb := a.expect("paired"), b.expect("paired")
	if pa.str("token") == pb.str("token") {
		t.Fatal("two browsers got the same token")
	}
	a.expect("welcome")
	b.expect("welcome")
	if n := pr.calls.Load(); n != 1 {
		t.Fatalf("the cashier was asked %d times for one origin", n)
	}
}

func TestPairingTimeout(t *testing.T) {
	pr := &countingPairer{d: PairAlways, block: make(chan struct{})}
	h := start(t, func(o *Options, tm *timing) { o.Pairer = pr; tm.pairingTimeout = 50 * time.Millisecond })
	c := h.mustDial("https://slow.example")
	c.send(`{"type":"hello","id":"1"}`)
	c.expectError(CodeNotPaired)
}

func TestNativePairing(t *testing.T) {
	pairs, _ := OpenPairings(t.TempDir())
	token, err := pairs.Approve(NativeOrigin, false)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, func(o *Options, _ *timing) { o.Pairings = pairs })
	c := h.mustDial("")
	c.send(map[string]string{"type": "hello", "id": "1", "token": token})
	if w := c.expect("welcome"); w.str("origin") != NativeOrigin {
		t.Fatalf("welcome %s", w["_raw"])
	}
}

func TestRevokeClosesConnections(t *testing.T) {
	pairs, _ := OpenPairings(t.TempDir())
	token, _ := pairs.Approve("https://gone.example", false)
	h := start(t, func(o *Options, _ *timing) { o.Pairings = pairs })
	c := h.mustDial("https://gone.example")
	c.send(map[string]string{"type": "hello", "id": "1", "token": token})
	c.expect("welcome")
	if err := h.b.Revoke("https://gone.example"); err != nil {
		t.Fatal(err)
	}
	if code, why := c.closeCode(); code != 1008 || !strings.Contains(why, "revoked") {
		t.Fatalf("close %d %q, want 1008 pairing revoked", code, why)
	}
}

func TestRevokeFromAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	pairs, _ := OpenPairings(dir)
	token, _ := pairs.Approve("https://cli.example", false)
	h := start(t, func(o *Options, _ *timing) { o.Pairings = pairs })
	c := h.mustDial("https://cli.example")
	c.send(map[string]string{"type": "hello", "id": "1", "token": token})
	c.expect("welcome")
	// `posagent pair --revoke` is another process with its own store.
	other, _ := OpenPairings(dir)
	if ok, err := other.Revoke("https://cli.example"); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	c.send(`{"type":"status","id":"q"}`)
	c.expectError(CodeNotPaired)
}

func flipLast(s string) string {
	if s[len(s)-1] == 'A' {
		return s[:len(s)-1] + "B"
	}
	return s[:len(s)-1] + "A"
}
