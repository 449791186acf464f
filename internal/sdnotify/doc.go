// Package sdnotify tells systemd how the service is doing (the sd_notify
// protocol): READY=1 once the agent's listener is bound, so that a unit with
// Type=notify is "started" only when POS pages can connect, STOPPING=1 when
// it shuts down, and STATUS= lines for `systemctl status`.
//
// It is a few lines over a unix datagram socket instead of a dependency on
// libsystemd or go-systemd. Outside systemd (NOTIFY_SOCKET unset, or another
// OS) every call is a no-op.
package sdnotify
