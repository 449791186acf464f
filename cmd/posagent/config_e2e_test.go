//go:build !windows

package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/app"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// base is a runnable config: the embedded sandbox and the simulated
// reader on a free port. Each case adds to or changes it.
const configBase = `listen = "127.0.0.1:0"
[gateway]
kind = "sandbox"
[[readers]]
kind = "sim"
`

const payaWith = `listen = "127.0.0.1:0"
[gateway]
kind = "paya"
url = %q
developer_id = "dev"
user_id = "user"
user_api_key = "key"
location_id = "loc"
[[readers]]
kind = "sim"
`

func withListen(l string) string { return strings.Replace(configBase, `"127.0.0.1:0"`, `"`+l+`"`, 1) }

func withTop(line string) string { return line + "\n" + configBase }

func payaURL(u string) string { return strings.Replace(payaWith, "%q", `"`+u+`"`, 1) }

// TestConfigCheckAgreesWithRun walks configs that `--check-config` used to
// accept and `run` then refused with exit 1 (issue 18: systemd restarted
// them every 2 s), and configs that must work, through both commands of
// the real binary. An invalid one exits 78 from both, with a message that
// names the key and points to docs/config.md; a valid one passes the
// check, starts and serves.
func TestConfigCheckAgreesWithRun(t *testing.T) {
	dir := t.TempDir()
	aFile := filepath.Join(dir, "a-file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	invalid := []struct {
		name, config string
		flags        []string // extra flags of both commands
		key          string   // the key the message must name
	}{
		{"listen port 99999", withListen("127.0.0.1:99999"), nil, "listen"},
		{"listen port not a number", withListen("127.0.0.1:notaport"), nil, "listen"},
		{"listen on a name DNS resolves", withListen("foo.localhost:7380"), nil, "listen"},
		{"listen on another loopback address (421 on every request)", withListen("127.0.0.2:0"), nil, "listen"},
		{"--listen flag on another loopback address", configBase, []string{"--listen", "127.0.0.2:0"}, "listen"},
		{"--listen flag with a bad port", configBase, []string{"--listen", "127.0.0.1:99999"}, "listen"},
		{"allowed origin port 99999", withTop(`allowed_origins = ["https://pos.example.com:99999"]`), nil, "allowed_origins[0]"},
		{"allowed origin port 0", withTop(`allowed_origins = ["https://pos.example.com:0"]`), nil, "allowed_origins[0]"},
		{"allowed origin with an empty query", withTop(`allowed_origins = ["https://pos.example.com?"]`), nil, "allowed_origins[0]"},
		{"allowed origin without a host", withTop(`allowed_origins = ["https://:443"]`), nil, "allowed_origins[0]"},
		{"gateway URL with credentials", payaURL("https://user:pw@api.sandbox.payaconnect.com"), nil, "gateway.url"},
		{"gateway URL port 99999", payaURL("https://api.sandbox.payaconnect.com:99999"), nil, "gateway.url"},
		{"Paya URL plain http to a .localhost name", payaURL("http://gw.localhost:7381"), nil, "gateway.url"},
		{"sandbox URL ftp", strings.Replace(configBase, `kind = "sandbox"`, "kind = \"sandbox\"\nurl = \"ftp://127.0.0.1:7381\"", 1), nil, "gateway.url"},
		{"journal under /proc", configBase + "[journal]\npath = \"/proc/nope/journal.db\"\n", nil, "journal.path"},
		{"journal under a file", configBase + "[journal]\npath = \"" + filepath.Join(aFile, "journal.db") + "\"\n", nil, "journal.path"},
		{"journal path is a directory", configBase + "[journal]\npath = \"" + dir + "\"\n", nil, "journal.path"},
		{"state directory under a file", configBase, []string{"--state-dir", filepath.Join(aFile, "state")}, "--state-dir"},
		{"two simulated readers", configBase + "[[readers]]\nkind = \"sim\"\n", nil, "readers[1].kind"},
		{"simulated model ingenico", configBase + "model = \"ingenico\"\n", nil, "readers[0].model"},
	}
	for i, tc := range invalid {
		t.Run("invalid/"+tc.name, func(t *testing.T) {
			d := filepath.Join(dir, "invalid", string(rune('a'+i)))
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(d, "posagent.toml")
			if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			common := append([]string{"--config", path, "--state-dir", d}, tc.flags...)
			for _, args := range [][]string{
				append([]string{"run", "--check-config"}, common...),
				append([]string{"run", "--headless"}, common...),
			} {
				code, out := runAgent(t, args...)
				if code != app.ExitConfig {
					t.Errorf("posagent %s: exit %d, want %d\n%s", args[1], code, app.ExitConfig, out)
					continue
				}
				if !strings.Contains(out, "  "+tc.key+": ") || !strings.Contains(out, config.DocsRef) {
					t.Errorf("posagent %s: the message does not name %q and point to %s:\n%s", args[1], tc.key, config.DocsRef, out)
				}
			}
		})
	}

	// The demo builds its config from flags: the same rules, the same exit.
	t.Run("invalid/demo --listen on another loopback address", func(t *testing.T) {
		code, out := runAgent(t, "demo", "--headless", "--state-dir", filepath.Join(dir, "demo"), "--listen", "127.0.0.2:0")
		if code != app.ExitConfig || !strings.Contains(out, "  listen: ") || !strings.Contains(out, config.DocsRef) {
			t.Errorf("demo: exit %d\n%s", code, out)
		}
	})

	valid := []struct {
		name, config string
		flags        []string
	}{
		{"embedded sandbox, simulated reader", configBase, nil},
		{"listen on localhost", withListen("localhost:0"), nil},
		{"listen on [::1]", withListen("[::1]:0"), nil},
		{"allowed origins", withTop(`allowed_origins = ["https://pos.example.com:8443", "http://localhost:5173/", "HTTPS://POS2.EXAMPLE.COM:443"]`), nil},
		{"--listen flag", configBase, []string{"--listen", "127.0.0.1:0"}},
		{"simulated model by its last word", configBase + "model = \"DYNAMAG\"\n", nil},
		{"journal in a directory to create", configBase + "[journal]\npath = \"" + filepath.Join(dir, "new", "sub", "journal.db") + "\"\n", nil},
		{"Paya on https", payaURL("https://api.sandbox.payaconnect.com"), nil},
		{"Paya on loopback http", payaURL("http://127.0.0.1:9"), nil},
		{"PaidYET on the embedded sandbox", "listen = \"127.0.0.1:0\"\n[gateway]\nkind = \"paidyet\"\nurl = \"embedded\"\nsubdomain = \"" +
			sandbox.PaidYETSubdomain + "\"\nuser_api_key = \"" + sandbox.PaidYETKey + "\"\n[[readers]]\nkind = \"sim\"\n", nil},
	}
	for i, tc := range valid {
		t.Run("valid/"+tc.name, func(t *testing.T) {
			d := filepath.Join(dir, "valid", string(rune('a'+i)))
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(d, "posagent.toml")
			if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			common := append([]string{"--config", path, "--state-dir", d}, tc.flags...)
			if code, out := runAgent(t, append([]string{"run", "--check-config"}, common...)...); code != app.ExitOK {
				t.Fatalf("--check-config: exit %d\n%s", code, out)
			}
			a := startAgent(t, append([]string{"run", "--headless"}, common...)...)
			resp, err := http.Get(a.url + "healthz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"ok"`) {
				t.Errorf("healthz: %d %s", resp.StatusCode, body)
			}
			if code := a.stop(t); code != app.ExitOK {
				t.Errorf("exit %d:\n%s", code, a.stderr)
			}
		})
	}
}
