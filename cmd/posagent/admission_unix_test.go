//go:build !windows

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/posagent/posagent/internal/syncbuf"
)

// startAgentOnPort runs the built binary with args plus --listen on a free port
// and returns the port once /healthz answers.
func startAgentOnPort(t *testing.T, bin string, args ...string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, append(args, "--listen", fmt.Sprintf("127.0.0.1:%d", port))...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("the agent did not stop on SIGINT:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return port
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never answered /healthz:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func wsDial(port int, origin string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.DialContext(context.Background(), fmt.Sprintf("ws://127.0.0.1:%d/v1/ws", port), http.Header{"Origin": {origin}})
}

// helloReply says hello on a fresh connection and returns the reply's type
// and code.
func helloReply(t *testing.T, port int, origin string) (string, string) {
	t.Helper()
	ws, res, err := wsDial(port, origin)
	if err != nil {
		t.Fatalf("%s: handshake refused: %v (%v)", origin, err, res)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","id":"1"}`)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("%s: no reply to hello: %v", origin, err)
	}
	var m struct{ Type, Code string }
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m.Type, m.Code
}

// Issue 16: 64 connections from https://evil.com, held open, locked the
// demo page out with 503 too_many_clients.
func TestBinaryEvilConnectionsDoNotLockOutTheOwnPage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPosagent(t)
	port := startAgentOnPort(t, bin, "demo", "--headless", "--state-dir", t.TempDir())
	held := 0
	for i := 0; i < 80; i++ {
		ws, _, err := wsDial(port, "https://evil.com")
		if err != nil {
			continue // refused: the strangers' pool is full
		}
		held++
		t.Cleanup(func() { ws.Close() })
	}
	own := fmt.Sprintf("http://127.0.0.1:%d", port)
	if typ, code := helloReply(t, port, own); typ != "welcome" {
		t.Fatalf("own page's hello: %s %s, want welcome", typ, code)
	}
	if held == 0 || held >= 64 {
		t.Fatalf("evil.com holds %d connections, want a few (its share of the strangers' pool)", held)
	}
}

// Issue 16: in run, a local process sending the own page's Origin was
// admitted without a token. Now only demo trusts the own page; run needs
// a token unless allowed_origins lists it.
func TestBinaryRunOwnPageNeedsAToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPosagent(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "posagent.toml")
	if err := os.WriteFile(cfg, []byte("[gateway]\nkind = \"sandbox\"\n\n[[readers]]\nkind = \"sim\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := startAgentOnPort(t, bin, "run", "--headless", "--config", cfg, "--state-dir", filepath.Join(dir, "state"))
	own := fmt.Sprintf("http://127.0.0.1:%d", port)
	if typ, code := helloReply(t, port, own); typ != "error" || code != "not_paired" {
		t.Fatalf("run: own page's tokenless hello got %s %s, want error not_paired", typ, code)
	}
	// posagent demo trusts its page.
	demo := startAgentOnPort(t, bin, "demo", "--headless", "--state-dir", filepath.Join(dir, "demo"))
	if typ, code := helloReply(t, demo, fmt.Sprintf("http://127.0.0.1:%d", demo)); typ != "welcome" {
		t.Fatalf("demo: own page's hello got %s %s, want welcome", typ, code)
	}
}

// startXvfb starts a private X server and returns its DISPLAY.
func startXvfb(t *testing.T) string {
	t.Helper()
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Skip("no Xvfb: the window test needs it (make test-deps)")
	}
	for n := 90; n < 190; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			continue
		}
		cmd := exec.Command(xvfb, fmt.Sprintf(":%d", n), "-screen", "0", "1024x600x24", "-nolisten", "tcp")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
				return fmt.Sprintf(":%d", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("Xvfb :%d did not start", n)
	}
	t.Skip("no free X display number")
	return ""
}

// Issue 16: in window mode, thousands of pairing hellos from distinct
// subdomains opened thousands of dialogs (RSS 139 -> 346 MB, a core at
// 100 %) and SIGTERM no longer stopped the agent.
func TestBinaryWindowPairingFloodStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the window binary and runs it on Xvfb")
	}
	display := startXvfb(t)
	dir, err := os.MkdirTemp("", "posagent-win-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "posagent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Skipf("the window build needs cgo and the GL headers: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var out syncbuf.Buffer
	cmd := exec.Command(bin, "demo", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--state-dir", filepath.Join(dir, "state"))
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never answered:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// 2,000 pages of 2,000 sites say hello, 64 at a time.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := 0; i < 2000; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ws, _, err := wsDial(port, fmt.Sprintf("https://s%d.flood%d.example", i, i))
			if err != nil {
				return
			}
			t.Cleanup(func() { ws.Close() })
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","id":"1"}`))
		}(i)
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond) // let the held hellos reach the cashier
	if n := strings.Count(out.String(), "asking the cashier"); n == 0 || n > 3 {
		t.Errorf("%d pairing questions reached the cashier, want 1 to 3", n)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("SIGTERM did not stop the agent within 10 s under a pairing flood")
	}
}

// TestPairWarnsOfAnotherAgent: a demo runs as another user (or with its
// own --state-dir) and `sudo posagent pair --origin …` edits a state
// directory no running agent reads: it said "none running … applies when it
// starts", and the page stayed not_paired. It now says an agent answers on
// the listen address that does not read this directory, and how to reach
// it.
func TestPairWarnsOfAnotherAgent(t *testing.T) {
	bin := agentBinary(t)
	port := startAgentOnPort(t, bin, "demo", "--headless", "--state-dir", t.TempDir())
	t.Setenv("POSAGENT_LISTEN", fmt.Sprintf("127.0.0.1:%d", port))
	code, out, errs := runPairCmd(t, "--state-dir", t.TempDir(), "--origin", "http://localhost:8000")
	if code != 0 {
		t.Fatalf("pair: exit %d %s", code, errs)
	}
	want := fmt.Sprintf("an agent answers at http://127.0.0.1:%d/", port)
	if !strings.Contains(errs, want) || !strings.Contains(errs, "--state-dir") {
		t.Errorf("pair said nothing of the agent it did not reach:\nstdout: %s\nstderr: %s", out, errs)
	}
}
