//go:build !windows

package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServiceUnprivileged runs the real binary as an unprivileged user:
// status works and says what it can see; the changing actions refuse with
// the command that would work (exit 77).
func TestServiceUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	bin := buildPosagent(t)
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/nonexistent"}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := run("service", "status")
	if !strings.HasPrefix(out, "posagent service: ") || !strings.Contains(out, "config:") || !strings.Contains(out, "logs:") {
		t.Fatalf("status output:\n%s", out)
	}
	if code != 0 && code != 1 && code != 3 && code != 4 {
		t.Fatalf("status exit %d:\n%s", code, out)
	}
	for _, action := range []string{"install", "uninstall", "start", "stop"} {
		out, code := run("service", action)
		if _, err := os.Stat("/run/systemd/system"); err != nil {
			// Without systemd that is the message, whoever asks.
			if code != 1 || !strings.Contains(out, "does not run systemd") {
				t.Errorf("%s without systemd: exit %d\n%s", action, code, out)
			}
			continue
		}
		if code != exitNoPermission || !strings.Contains(out, "sudo posagent service "+action) {
			t.Errorf("%s unprivileged: exit %d\n%s", action, code, out)
		}
	}
}

// buildPosagent builds the headless binary into a directory any user can
// read (t.TempDir is private to root).
func buildPosagent(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "posagent-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "posagent")
	cmd := exec.Command("go", "build", "-tags", "headless", "-o", bin, ".")
	cmd.Stderr = io.Discard
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("go build: %v %s", err, out)
	}
	return bin
}
