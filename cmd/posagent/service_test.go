package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/app"
)

// TestServiceUsage: a missing or unknown action is a usage error.
func TestServiceUsage(t *testing.T) {
	for _, args := range [][]string{{"service"}, {"service", "restart-everything"}} {
		var out, errb bytes.Buffer
		if code := dispatch(context.Background(), args, nil, &out, &errb); code != app.ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, app.ExitUsage)
		}
		if !strings.Contains(errb.String(), "install|uninstall|start|stop|status") {
			t.Errorf("%v: usage not shown: %q", args, errb.String())
		}
	}
}

// TestRunCheckConfig: --check-config exits 0 for a usable config and 78
// with the problems for a broken one (the .deb's postinst relies on it).
func TestRunCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(good, []byte("[gateway]\nkind = \"sandbox\"\n[[readers]]\nkind = \"sim\"\n"), 0o600)
	os.WriteFile(bad, []byte("listen = \"0.0.0.0:80\"\n[gateway]\nkind = \"paya\"\n"), 0o600)
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{good, app.ExitOK, "config OK"},
		{bad, app.ExitConfig, "listen"},
		{filepath.Join(dir, "missing.toml"), app.ExitConfig, "every setting: docs/config.md"},
	} {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), []string{"run", "--check-config", "--config", tc.path}, nil, &out, &errb)
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("%s: exit %d, output %q %q", filepath.Base(tc.path), code, out.String(), errb.String())
		}
	}
}

// TestServiceStartConfigExit: the config check `service start` makes is
// run's (listen on 127.0.0.2 used to pass it), and its refusal, wrapped as
// svc.Controller.Start wraps it, exits 78 like run, not 1.
func TestServiceStartConfigExit(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("listen = \"127.0.0.2:7380\"\n[gateway]\nkind = \"sandbox\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := checkServiceConfig(bad)
	if err == nil || !strings.Contains(err.Error(), "listen:") {
		t.Fatalf("check: %v", err)
	}
	if code := serviceExitCode(fmt.Errorf("not starting: the service would stop at once: %w", err)); code != app.ExitConfig {
		t.Errorf("exit %d, want %d", code, app.ExitConfig)
	}
	if code := serviceExitCode(errors.New("systemctl: exit status 1")); code != app.ExitFailure {
		t.Errorf("a failure exits %d, want %d", code, app.ExitFailure)
	}
}
