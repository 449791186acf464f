package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// Notifier sends state lines to one notification socket.
type Notifier struct {
	socket string // "" when not run by systemd
}

// FromEnv returns the notifier for the socket systemd names in NOTIFY_SOCKET.
// It unsets the variable so that child processes (none today) cannot speak
// for the service.
func FromEnv() *Notifier {
	s := os.Getenv("NOTIFY_SOCKET")
	os.Unsetenv("NOTIFY_SOCKET")
	return &Notifier{socket: s}
}

// Enabled reports whether a service manager is listening.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// Ready says the service has started: the listener is bound.
func (n *Notifier) Ready(status string) error {
	return n.send("READY=1", statusLine(status))
}

// Stopping says the service is shutting down (a sale in flight may still be
// finishing: systemd waits TimeoutStopSec).
func (n *Notifier) Stopping(status string) error {
	return n.send("STOPPING=1", statusLine(status))
}

// Status updates the one-line status `systemctl status` shows.
func (n *Notifier) Status(status string) error { return n.send(statusLine(status)) }

func statusLine(s string) string {
	if s == "" {
		return ""
	}
	// A newline would start another assignment: keep the status one line.
	return "STATUS=" + strings.ReplaceAll(s, "\n", " ")
}

func (n *Notifier) send(lines ...string) error {
	if !n.Enabled() {
		return nil
	}
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	addr := &net.UnixAddr{Name: n.socket, Net: "unixgram"}
	if strings.HasPrefix(n.socket, "@") {
		addr.Name = "\x00" + n.socket[1:] // abstract namespace
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}
