package main

import (
	"bytes"
	"context"
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
		{filepath.Join(dir, "missing.toml"), app.ExitConfig, "no config file"},
	} {
		var out, errb bytes.Buffer
		code := dispatch(context.Background(), []string{"run", "--check-config", "--config", tc.path}, nil, &out, &errb)
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("%s: exit %d, output %q %q", filepath.Base(tc.path), code, out.String(), errb.String())
		}
	}
}
