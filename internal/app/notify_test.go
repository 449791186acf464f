package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/config"
)

// TestRunNotifiesSystemd runs the agent the way systemd's Type=notify unit
// does: READY=1 must arrive only once the bridge accepts connections, and
// STOPPING=1 when it is told to stop.
func TestRunNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	read := func() string {
		buf := make([]byte, 1024)
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, config.Default(), RunOptions{Demo: true, Headless: true, Listen: "127.0.0.1:0",
			StateDir: t.TempDir(), Stdout: io.Discard, Stderr: io.Discard, LogWriter: io.Discard})
	}()
	msg := read()
	if !strings.HasPrefix(msg, "READY=1\n") {
		t.Fatalf("first notification %q, want READY=1", msg)
	}
	url := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(msg, "\n", 2)[1], "STATUS=listening on "))
	// At READY the listener is bound: the very first request is answered.
	resp, err := http.Get(strings.TrimSuffix(url, "/") + "/healthz")
	if err != nil {
		t.Fatalf("bridge not answering at READY: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	cancel()
	if msg := read(); !strings.HasPrefix(msg, "STOPPING=1\n") {
		t.Fatalf("notification at stop %q, want STOPPING=1", msg)
	}
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("exit code %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not stop")
	}
}

// TestRunConfigErrorExitCode: a configuration error exits 78, which the
// systemd unit's RestartPreventExitStatus= keeps from restarting in a loop.
func TestRunConfigErrorExitCode(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = "0.0.0.0:7380" // refused without --insecure-listen-any
	var stderr strings.Builder
	code := Run(context.Background(), cfg, RunOptions{StateDir: t.TempDir(), Stdout: io.Discard, Stderr: &stderr, LogWriter: io.Discard})
	if code != ExitConfig {
		t.Fatalf("exit code %d, want %d (stderr %q)", code, ExitConfig, stderr.String())
	}
	if !strings.Contains(stderr.String(), "listen") {
		t.Errorf("stderr does not name the problem: %q", stderr.String())
	}
}
