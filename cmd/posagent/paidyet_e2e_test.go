//go:build !windows

package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// startBinary runs the real binary and returns the value of the first
// stdout line starting with prefix (a URL of its banner).
func startBinary(t *testing.T, bin, prefix string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DISPLAY=", "WAYLAND_DISPLAY=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if v, ok := strings.CutPrefix(line, prefix); ok && !sent {
				found <- strings.Fields(v)[0]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case v, ok := <-found:
		if !ok {
			t.Fatalf("%s %v exited without %q; stderr:\n%s", bin, args, prefix, stderr.String())
		}
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("%s %v printed no %q; stderr:\n%s", bin, args, prefix, stderr.String())
	}
	return ""
}

// wsClient is a POS page on the websocket.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
	n  int
}

func dialAgent(t *testing.T, pageURL, origin string) *wsClient {
	t.Helper()
	wsURL := "ws" + strings.TrimPrefix(strings.TrimSuffix(pageURL, "/"), "http") + "/v1/ws"
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {origin}})
	if err != nil {
		t.Fatalf("dial %s: %v", wsURL, err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &wsClient{t: t, ws: ws}
	if m := c.call(map[string]any{"type": "hello"}, "welcome", "error"); m["type"] != "welcome" {
		t.Fatalf("hello: %v", m)
	}
	return c
}

// call sends msg with a fresh id and returns the first message about it
// whose type is one of until.
func (c *wsClient) call(msg map[string]any, until ...string) map[string]any {
	c.t.Helper()
	c.n++
	id := fmt.Sprintf("r%d", c.n)
	msg["id"] = id
	if err := c.ws.WriteJSON(msg); err != nil {
		c.t.Fatal(err)
	}
	return c.wait(id, until...)
}

func (c *wsClient) wait(id string, until ...string) map[string]any {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var m map[string]any
		if err := c.ws.ReadJSON(&m); err != nil {
			c.t.Fatalf("waiting for %v of %s: %v", until, id, err)
		}
		if m["id"] != id {
			continue
		}
		if m["type"] == "prompt" && m["prompt"] == "present_card" {
			c.t.Fatalf("request %s asked for a card: %v", id, m)
		}
		for _, u := range until {
			if m["type"] == u {
				return m
			}
		}
	}
}

// result runs a request to its result and returns the result's transaction.
func (c *wsClient) result(msg map[string]any) (outcome string, tx map[string]any) {
	c.t.Helper()
	m := c.call(msg, "result", "error")
	if m["type"] == "error" {
		c.t.Fatalf("%v refused: %v", msg, m)
	}
	tx, _ = m["transaction"].(map[string]any)
	o, _ := m["outcome"].(string)
	return o, tx
}

// counterFlow drives everything PaidYET allows at a counter over the
// websocket, and a reader sale that must be refused before the card.
func counterFlow(t *testing.T, c *wsClient) {
	o, sale := c.result(map[string]any{"type": "sale", "amount": "12.34", "card_token": sandbox.PaidYETTokenApproved, "receipt_email": "ann@example.com"})
	if o != "approved" || sale["id"] == "" {
		t.Fatalf("token sale: %s %v", o, sale)
	}
	if o, _ := c.result(map[string]any{"type": "refund", "transaction_id": sale["id"], "amount": "2.34"}); o != "approved" {
		t.Errorf("refund: %s", o)
	}
	o, auth := c.result(map[string]any{"type": "sale", "action": "authonly", "amount": "40.00", "card_token": sandbox.PaidYETTokenApproved})
	if o != "approved" {
		t.Fatalf("token authonly: %s %v", o, auth)
	}
	if o, _ := c.result(map[string]any{"type": "complete", "transaction_id": auth["id"], "amount": "35.00"}); o != "approved" {
		t.Errorf("capture: %s", o)
	}
	_, v := c.result(map[string]any{"type": "sale", "amount": "7.00", "card_token": sandbox.PaidYETTokenApproved})
	if o, _ := c.result(map[string]any{"type": "void", "transaction_id": v["id"]}); o != "approved" {
		t.Errorf("void: %s", o)
	}
	if o, _ := c.result(map[string]any{"type": "sale", "amount": "5.00", "card_token": sandbox.PaidYETTokenDeclined}); o != "declined" {
		t.Errorf("declined token: %s", o)
	}
	// A reader sale: an error at once, saying why; never a present_card.
	m := c.call(map[string]any{"type": "sale", "amount": "3.00"}, "accepted", "error", "result")
	if m["type"] != "error" || m["code"] != "unsupported" || !strings.Contains(fmt.Sprint(m["message"]), "e_track_data") {
		t.Errorf("reader sale on PaidYET: %v, want an unsupported error naming e_track_data", m)
	}
}

// End to end through the real binary: `posagent run` with [gateway] kind =
// "paidyet" pointed at `posagent sandbox`'s v3; then `posagent demo
// --gateway paidyet`.
func TestPaidYETEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPosagent(t)
	base := startBinary(t, bin, "posagent sandbox serving", "sandbox", "--listen", "127.0.0.1:0")

	t.Run("run", func(t *testing.T) {
		dir := t.TempDir()
		conf := filepath.Join(dir, "posagent.toml")
		const origin = "https://pos.example.com"
		cfg := fmt.Sprintf(`listen = "127.0.0.1:0"
allowed_origins = [%q]

[gateway]
kind = "paidyet"
url = %q
subdomain = %q
user_api_key = %q
timeout = "10s"

[[readers]]
kind = "sim"
`, origin, base, sandbox.PaidYETSubdomain, sandbox.PaidYETKey)
		if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		check := exec.Command(bin, "run", "--config", conf, "--check-config")
		if out, err := check.CombinedOutput(); err != nil {
			t.Fatalf("--check-config: %v\n%s", err, out)
		}
		page := startBinary(t, bin, "POS page:", "run", "--config", conf, "--headless", "--state-dir", filepath.Join(dir, "state"))
		counterFlow(t, dialAgent(t, page, origin))
	})

	t.Run("demo", func(t *testing.T) {
		dir := t.TempDir()
		page := startBinary(t, bin, "POS page:", "demo", "--gateway", "paidyet", "--headless", "--listen", "127.0.0.1:0", "--state-dir", dir)
		counterFlow(t, dialAgent(t, page, strings.TrimSuffix(page, "/")))
	})

	t.Run("demo-bad-gateway", func(t *testing.T) {
		cmd := exec.Command(bin, "demo", "--gateway", "stripe", "--headless", "--state-dir", t.TempDir())
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "paidyet") {
			t.Errorf("demo --gateway stripe: %v\n%s", err, out)
		}
	})
}
