package sdnotify

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen opens a datagram socket the way systemd does and returns a function
// that reads one message.
func listen(t *testing.T, name string) func() string {
	t.Helper()
	addr := &net.UnixAddr{Name: name, Net: "unixgram"}
	if strings.HasPrefix(name, "@") {
		addr.Name = "\x00" + name[1:]
	}
	conn, err := net.ListenUnixgram("unixgram", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return func() string {
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
}

func TestNotify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		socket string
	}{
		{"path", filepath.Join(t.TempDir(), "notify")},
		{"abstract", "@posagent-sdnotify-test-" + t.Name()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := listen(t, tc.socket)
			t.Setenv("NOTIFY_SOCKET", tc.socket)
			n := FromEnv()
			if !n.Enabled() {
				t.Fatal("notifier not enabled with NOTIFY_SOCKET set")
			}
			if err := n.Ready("listening on 127.0.0.1:7380\nsecond line"); err != nil {
				t.Fatal(err)
			}
			if got, want := read(), "READY=1\nSTATUS=listening on 127.0.0.1:7380 second line\n"; got != want {
				t.Errorf("ready message %q, want %q", got, want)
			}
			if err := n.Stopping(""); err != nil {
				t.Fatal(err)
			}
			if got := read(); got != "STOPPING=1\n" {
				t.Errorf("stopping message %q", got)
			}
		})
	}
}

func TestDisabledIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := FromEnv()
	if n.Enabled() {
		t.Fatal("enabled without NOTIFY_SOCKET")
	}
	if err := n.Ready("x"); err != nil {
		t.Fatalf("no-op returned %v", err)
	}
	var nilN *Notifier
	if nilN.Enabled() {
		t.Fatal("nil notifier enabled")
	}
}

func TestUnreachableSocketIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody-listens"))
	if err := FromEnv().Ready(""); err == nil || !strings.Contains(err.Error(), "sd_notify") {
		t.Fatalf("err = %v, want an sd_notify error", err)
	}
}
