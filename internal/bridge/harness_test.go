package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/posagent/posagent/internal/bridge/bridgetest"
)

// waitFor bounds every wait in the tests; nothing should take near this.
const waitFor = 5 * time.Second

// harness is a real bridge on a real loopback listener over the fake engine.
type harness struct {
	t      testing.TB
	b      *Bridge
	eng    *bridgetest.Engine
	port   int
	cancel context.CancelFunc
	done   chan error
}

type harnessOpt func(*Options, *timing)

func start(t testing.TB, opts ...harnessOpt) *harness {
	t.Helper()
	return startOn(t, "127.0.0.1:0", opts...)
}

// startOn is start on another listen address.
func startOn(t testing.TB, addr string, opts ...harnessOpt) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return startWith(t, ln, opts...)
}

// startWith is start on a listener the test made.
func startWith(t testing.TB, ln net.Listener, opts ...harnessOpt) *harness {
	t.Helper()
	eng := bridgetest.New()
	o := Options{Engine: eng, Simulator: eng, SandboxGateway: true, Version: "test", TrustOwnPage: true}
	tm := defaultTiming
	for _, f := range opts {
		f(&o, &tm)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	b.t = tm
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, b: b, eng: eng, port: ln.Addr().(*net.TCPAddr).Port, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- b.Serve(ctx, ln) }()
	t.Cleanup(h.stop)
	return h
}

// stop cancels Serve and checks that it returns promptly and cleanly.
func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Serve returned %v", err)
		}
		h.done <- nil // later stop calls return at once
	case <-time.After(waitFor):
		h.t.Errorf("Serve did not return within %v of cancel", waitFor)
	}
}

func (h *harness) self() string { return "http://127.0.0.1:" + strconv.Itoa(h.port) }
func (h *harness) host() string { return "127.0.0.1:" + strconv.Itoa(h.port) }

// get makes an HTTP request with the given Host header.
func (h *harness) get(path, host string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+h.host()+path, nil)
	req.Host = host
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

type client struct {
	t  testing.TB
	ws *websocket.Conn
}

// dial opens a websocket with the given Origin ("" for none) and Host.
func (h *harness) dial(origin, host string) (*client, *http.Response, error) {
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	if host != "" {
		hdr.Set("Host", host)
	}
	d := websocket.Dialer{HandshakeTimeout: waitFor}
	ws, res, err := d.Dial("ws://"+h.host()+"/v1/ws", hdr)
	if err != nil {
		return nil, res, err
	}
	c := &client{t: h.t, ws: ws}
	h.t.Cleanup(func() { ws.Close() })
	return c, res, nil
}

// mustDial dials as the agent's own page and says hello.
func (h *harness) open() *client {
	h.t.Helper()
	c := h.mustDial(h.self())
	c.send(`{"type":"hello","id":"h"}`)
	c.expect("welcome")
	return c
}

func (h *harness) mustDial(origin string) *client {
	h.t.Helper()
	c, _, err := h.dial(origin, "")
	if err != nil {
		h.t.Fatalf("dial %s: %v", origin, err)
	}
	return c
}

type msg map[string]any

func (m msg) str(k string) string { s, _ := m[k].(string); return s }

func (m msg) obj(k string) msg { o, _ := m[k].(map[string]any); return o }

func (c *client) send(v any) {
	c.t.Helper()
	var data []byte
	switch v := v.(type) {
	case string:
		data = []byte(v)
	case []byte:
		data = v
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recv reads the next message.
func (c *client) recv() (msg, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(waitFor))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	var m msg
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("message is not JSON: %q", data)
	}
	m["_raw"] = string(data)
	return m, nil
}

// expect reads the next message and checks its type.
func (c *client) expect(typ string) msg {
	c.t.Helper()
	m, err := c.recv()
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", typ, err)
	}
	if m.str("type") != typ {
		c.t.Fatalf("got %s, want type %s", m["_raw"], typ)
	}
	return m
}

// expectAll reads one message of each type, in any order: replies come
// from the connection's reader, events from the hub, so they interleave.
func (c *client) expectAll(types ...string) map[string]msg {
	c.t.Helper()
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	got := map[string]msg{}
	for range types {
		m, err := c.recv()
		if err != nil {
			c.t.Fatalf("waiting for %v: %v", types, err)
		}
		typ := m.str("type")
		if !want[typ] || got[typ] != nil {
			c.t.Fatalf("got %s, want one each of %v", m["_raw"], types)
		}
		got[typ] = m
	}
	return got
}

// sale starts a sale and returns its accepted reply.
func (c *client) sale(id, amount string) msg {
	c.t.Helper()
	c.send(map[string]string{"type": "sale", "id": id, "amount": amount})
	m := c.expectAll("prompt", "accepted")
	if m["prompt"].str("prompt") != "present_card" || m["prompt"].str("id") != id {
		c.t.Fatalf("prompt %s", m["prompt"]["_raw"])
	}
	return m["accepted"]
}

// card simulates a card and returns the card and result events.
func (c *client) card(pan, mode string) map[string]msg {
	c.t.Helper()
	c.send(map[string]string{"type": "simulate", "id": "sim", "card": pan, "entry_mode": mode})
	return c.expectAll("card", "prompt", "simulated", "result")
}

// expectError reads the next message and checks it is an error with code.
func (c *client) expectError(code string) msg {
	c.t.Helper()
	m := c.expect("error")
	if m.str("code") != code {
		c.t.Fatalf("got error %s, want code %s", m["_raw"], code)
	}
	return m
}

// quiet checks that nothing arrives for a short while.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(d))
	_, data, err := c.ws.ReadMessage()
	if err == nil {
		c.t.Fatalf("expected no message, got %s", data)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("expected a read timeout, got %v", err)
	}
	// A timed-out gorilla connection cannot be read again: callers use
	// quiet last on a client.
}

// closeCode reads until the connection closes and returns the close code
// and reason.
func (c *client) closeCode() (int, string) {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(waitFor))
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "EOF") {
			return -1, err.Error()
		}
		c.t.Fatalf("waiting for close: %v", err)
	}
}

func body(t testing.TB, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
