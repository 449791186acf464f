package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// stampConn records when the first bytes of each request arrive on a
// gateway connection: the first read that returns data after the
// connection was opened or after a response was written. That is as close
// to "the request on the wire" as a process can see without a packet
// capture, and earlier than the handler, which runs only after the headers
// are parsed.
type stampConn struct {
	net.Conn
	mu    sync.Mutex
	idle  bool // no byte of the next request read yet
	first time.Time
}

func (c *stampConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		now := time.Now()
		c.mu.Lock()
		if c.idle {
			c.first, c.idle = now, false
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *stampConn) Write(p []byte) (int, error) {
	// Marked before the write: the client can send its next request only
	// after it has this response, so no byte of it can be read earlier.
	c.mu.Lock()
	c.idle = true
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *stampConn) firstByte() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first
}

type stampListener struct{ net.Listener }

func (l stampListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stampConn{Conn: c, idle: true}, nil
}

type connKey struct{}

// gateway is the sandbox (the same handler the agent embeds) behind the
// stamping listener. It remembers when each sale request arrived, by
// transaction_api_id.
type gateway struct {
	srv  *http.Server
	ln   net.Listener
	next http.Handler
	mu   sync.Mutex
	at   map[string][]time.Time
	// last is the last sale request, for the floor program to send again
	// (floor.go). It holds ciphertext of a made-up test card: memory only.
	last capturedRequest
}

// capturedRequest is one sale request as it arrived.
type capturedRequest struct {
	method, path, apiID string
	header              http.Header
	body                []byte
}

func startGateway() (*gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gateway listener: %w", err)
	}
	g := &gateway{ln: ln, next: sandbox.New(sandbox.Options{}), at: map[string][]time.Time{}}
	g.srv = &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
	}
	go func() { _ = g.srv.Serve(stampListener{ln}) }()
	return g, nil
}

func (g *gateway) url() string { return "http://" + g.ln.Addr().String() }

func (g *gateway) close() { _ = g.srv.Close() }

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/v2/transactions" {
		var at time.Time
		if c, ok := r.Context().Value(connKey{}).(*stampConn); ok {
			at = c.firstByte()
		}
		// The body is read only to find the transaction_api_id, after the
		// arrival was taken; it holds ciphertext and is never logged.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req struct {
			Transaction struct {
				APIID string `json:"transaction_api_id"`
			} `json:"transaction"`
		}
		if json.Unmarshal(body, &req) == nil && req.Transaction.APIID != "" {
			g.mu.Lock()
			g.at[req.Transaction.APIID] = append(g.at[req.Transaction.APIID], at)
			g.last = capturedRequest{method: r.Method, path: r.URL.Path, apiID: req.Transaction.APIID, header: r.Header.Clone(), body: body}
			g.mu.Unlock()
		}
	}
	g.next.ServeHTTP(w, r)
}

// lastSale is the last sale request that arrived.
func (g *gateway) lastSale() capturedRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// arrivals is when each sale request for apiID arrived.
func (g *gateway) arrivals(apiID string) []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]time.Time(nil), g.at[apiID]...)
}
