package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/ui"
)

func sandboxConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Load(strings.NewReader("listen = \"127.0.0.1:0\"\n[gateway]\nkind = \"sandbox\"\n[[readers]]\nkind = \"sim\"\n" + extra))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestValidateConfig: the rules that need the runtime, each naming its key.
func TestValidateConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, extra, stateDir string
		listen                string
		insecure              bool
		field                 string // "" when valid
	}{
		{name: "valid", stateDir: dir},
		{name: "no state dir: file checks skipped", extra: "[journal]\npath = \"" + filepath.Join(file, "j.db") + "\"\n"},
		{name: "sim model", extra: "model = \"ingenico\"\n", stateDir: dir, field: "readers[0].model"},
		{name: "sim model vp3300", extra: "model = \"vp3300\"\n", stateDir: dir},
		{name: "journal under a file", extra: "[journal]\npath = \"" + filepath.Join(file, "j.db") + "\"\n", stateDir: dir, field: "journal.path"},
		{name: "journal is a directory", extra: "[journal]\npath = \"" + dir + "\"\n", stateDir: dir, field: "journal.path"},
		{name: "journal to create", extra: "[journal]\npath = \"" + filepath.Join(dir, "a", "b", "j.db") + "\"\n", stateDir: dir},
		{name: "state dir under a file", stateDir: filepath.Join(file, "state"), field: "--state-dir"},
		{name: "127.0.0.2", listen: "127.0.0.2:0", stateDir: dir, field: "listen"},
		{name: "127.0.0.2 with --insecure-listen-any", listen: "127.0.0.2:0", insecure: true, stateDir: dir},
		{name: "all interfaces with --insecure-listen-any", listen: ":0", insecure: true, stateDir: dir},
		{name: "a DNS name even with --insecure-listen-any", listen: "pos.lan:7380", insecure: true, stateDir: dir, field: "listen"},
		{name: "bad port with --insecure-listen-any", listen: "0.0.0.0:70000", insecure: true, stateDir: dir, field: "listen"},
		{name: "an address this computer does not have", listen: "192.0.2.1:0", insecure: true, stateDir: dir, field: "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sandboxConfig(t, tt.extra)
			if tt.listen != "" {
				cfg.Listen = tt.listen
			}
			err := ValidateConfig(cfg, tt.stateDir, tt.insecure)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve *config.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *config.ValidationError naming %s", err, tt.field)
			}
			found := false
			for _, p := range ve.Problems {
				found = found || p.Field == tt.field
			}
			if !found || !strings.Contains(err.Error(), config.DocsRef) {
				t.Errorf("problems %v do not name %s or point to %s", ve.Problems, tt.field, config.DocsRef)
			}
		})
	}
}

// TestSaveSettingsChecksAsRunDoes: the settings window's save refuses the
// gateway URLs run refuses (the old copy of the rule accepted them, the
// file was written and the next start failed), and writes nothing.
func TestSaveSettingsChecksAsRunDoes(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent") // no keyring: the secret file
	for _, u := range []string{"http://gw.localhost:7381", "https://user:pw@api.sandbox.payaconnect.com", "https://api.sandbox.payaconnect.com:99999"} {
		t.Run(u, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "posagent.toml")
			cfg, err := config.Load(strings.NewReader("[gateway]\nkind = \"paya\"\nurl = \"https://api.sandbox.payaconnect.com\"\ndeveloper_id = \"d\"\nuser_id = \"u\"\nuser_api_key = \"k\"\nlocation_id = \"l\"\n"))
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(Options{Config: cfg, StateDir: dir, ConfigPath: path})
			if err != nil {
				t.Fatal(err)
			}
			b := a.UIBackend()
			m := b.Settings()
			m.GatewayURL = u
			var ve *ui.ValidationError
			if err := b.SaveSettings(m); !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "gateway.url" {
				t.Fatalf("save: %v, want a problem with gateway.url", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused config was written: %v", err)
			}
		})
	}
}
