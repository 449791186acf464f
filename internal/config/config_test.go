package config

import (
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const full = `
listen = "127.0.0.1:7390"
allowed_origins = ["https://pos.example.com"]
log_level = "debug"

[gateway]
kind = "paya"
url = "https://api.sandbox.payaconnect.com"
developer_id = "dev"
user_id = "user"
user_api_key = "key"
location_id = "loc"
product_transaction_id = "pt"
timeout = "20s"

[[readers]]
kind = "serial"
path = "/dev/ttyACM0"
protocol = "vivopay"

[[readers]]
kind = "hid"
vid = 0x0801
pid = 0x0011

[journal]
path = "/var/lib/posagent/journal.db"
`

func TestLoadFull(t *testing.T) {
	c, err := Load(strings.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	if c.Listen != "127.0.0.1:7390" || c.Gateway.Timeout.Duration != 20*time.Second || c.Gateway.Kind != GatewayPaya {
		t.Errorf("decoded %+v", c)
	}
	if len(c.Readers) != 2 || c.Readers[0].Baud != 115200 || c.Readers[1].VID != 0x0801 || c.Readers[1].PID != 0x0011 {
		t.Errorf("readers %+v", c.Readers)
	}
	if c.Journal.Path != "/var/lib/posagent/journal.db" || c.AllowedOrigins[0] != "https://pos.example.com" {
		t.Errorf("journal/origins %+v", c)
	}
}

func TestDefaults(t *testing.T) {
	for name, c := range map[string]*Config{"Default": Default(), "sandbox file": mustLoad(t, "[gateway]\nkind = \"sandbox\"\n")} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if c.Listen != DefaultListen || c.Gateway.Kind != GatewaySandbox || c.Gateway.Timeout.Duration != DefaultTimeout ||
			len(c.Readers) != 1 || c.Readers[0].Kind != ReaderAuto || c.LogLevel != "info" || c.Journal.KeepDays != DefaultKeepDays {
			t.Errorf("%s: %+v", name, c)
		}
	}
}

// A file without a gateway kind is a config error, never the embedded
// sandbox taking sales; the environment can still name the gateway.
func TestGatewayKindRequired(t *testing.T) {
	for name, in := range map[string]string{
		"empty file":         "",
		"no [gateway] table": "log_level = \"info\"\n[[readers]]\nkind = \"sim\"\n",
		"[gateway] no kind":  "[gateway]\ntimeout = \"20s\"\n",
	} {
		c := mustLoad(t, in)
		var ve *ValidationError
		if err := c.Validate(); !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "gateway.kind" ||
			!strings.Contains(ve.Problems[0].Message, "README.md") {
			t.Errorf("%s: Validate = %v, want gateway.kind missing pointing at the config reference", name, err)
		}
	}
	c := mustLoad(t, "")
	if err := c.ApplyEnv(func(k string) (string, bool) { return "sandbox", k == "POSAGENT_GATEWAY_KIND" }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("POSAGENT_GATEWAY_KIND=sandbox: %v", err)
	}
}

func mustLoad(t *testing.T, s string) *Config {
	t.Helper()
	c, err := Load(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// keep_days 0 is "keep everything", not "unset": it survives Load, and
// the environment can set it.
func TestKeepDays(t *testing.T) {
	if c := mustLoad(t, "[gateway]\nkind = \"sandbox\"\n[journal]\nkeep_days = 0\n"); c.Journal.KeepDays != 0 || c.Validate() != nil {
		t.Errorf("keep_days = 0: %d %v", c.Journal.KeepDays, c.Validate())
	}
	if c := mustLoad(t, "[journal]\nkeep_days = 30\n"); c.Journal.KeepDays != 30 {
		t.Errorf("keep_days = 30: %d", c.Journal.KeepDays)
	}
	c := Default()
	if err := c.ApplyEnv(func(k string) (string, bool) { return map[string]string{"POSAGENT_JOURNAL_KEEP_DAYS": "7"}[k], true }); err != nil || c.Journal.KeepDays != 7 {
		t.Errorf("POSAGENT_JOURNAL_KEEP_DAYS=7: %d %v", c.Journal.KeepDays, err)
	}
	if err := c.ApplyEnv(func(k string) (string, bool) {
		return map[string]string{"POSAGENT_JOURNAL_KEEP_DAYS": "a week"}[k], true
	}); err == nil {
		t.Error("POSAGENT_JOURNAL_KEEP_DAYS=\"a week\" accepted")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"syntax", "listen = ", "line 1"},
		{"unknown key", "listne = \"x\"", "unknown setting listne"},
		{"unknown nested key", "[gateway]\nkidn = \"paya\"", "gateway.kidn"},
		{"bad duration", "[gateway]\ntimeout = \"soon\"", "not a duration"},
		{"wrong type", "listen = 7380", "listen"},
	}
	for _, tc := range tests {
		_, err := Load(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		field  string
		hint   string
	}{
		{"listen not host:port", func(c *Config) { c.Listen = "7380" }, "listen", "host:port"},
		{"listen on all interfaces", func(c *Config) { c.Listen = "0.0.0.0:7380" }, "listen", "--insecure-listen-any"},
		{"origin with path", func(c *Config) { c.AllowedOrigins = []string{"https://pos.example.com/app"} }, "allowed_origins[0]", "without a path"},
		{"origin not a URL", func(c *Config) { c.AllowedOrigins = []string{"pos.example.com"} }, "allowed_origins[0]", "https://pos.example.com"},
		{"log level", func(c *Config) { c.LogLevel = "verbose" }, "log_level", "debug"},
		{"gateway kind", func(c *Config) { c.Gateway.Kind = "stripe" }, "gateway.kind", "paya, paidyet, sandbox"},
		{"plain http to the internet", func(c *Config) { c.Gateway.URL = "http://api.payaconnect.com" }, "gateway.url", "https://"},
		{"missing key", func(c *Config) { c.Gateway.UserAPIKey = "" }, "gateway.user_api_key", "POSAGENT_USER_API_KEY"},
		{"missing location", func(c *Config) { c.Gateway.LocationID = "" }, "gateway.location_id", "discover"},
		{"timeout too long", func(c *Config) { c.Gateway.Timeout.Duration = time.Hour }, "gateway.timeout", "30s"},
		{"serial without path", func(c *Config) { c.Readers = []Reader{{Kind: ReaderSerial, Protocol: "idtech", Baud: 9600}} }, "readers[0].path", "/dev/ttyACM0"},
		{"serial protocol", func(c *Config) {
			c.Readers = []Reader{{Kind: ReaderSerial, Path: "/dev/ttyS0", Protocol: "ascii", Baud: 9600}}
		}, "readers[0].protocol", "vivopay"},
		{"hid vid only", func(c *Config) { c.Readers = []Reader{{Kind: ReaderHID, VID: 0x0801}} }, "readers[0]", "both vid and pid"},
		{"replay without file", func(c *Config) { c.Readers = []Reader{{Kind: ReaderReplay}} }, "readers[0].file", "transcript"},
		{"reader kind", func(c *Config) { c.Readers = []Reader{{Kind: "usb"}} }, "readers[0].kind", "auto, sim, hid, serial, replay"},
		{"keep_days negative", func(c *Config) { c.Journal.KeepDays = -1 }, "journal.keep_days", "0 (keep everything)"},
		{"keep_days too long", func(c *Config) { c.Journal.KeepDays = 100000 }, "journal.keep_days", "3660"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, full)
			tc.mutate(c)
			err := c.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a ValidationError", err)
			}
			for _, p := range ve.Problems {
				if p.Field == tc.field && strings.Contains(p.Message, tc.hint) {
					return
				}
			}
			t.Fatalf("problems %v lack %s with %q", ve.Problems, tc.field, tc.hint)
		})
	}
	// Every problem is reported at once.
	c := mustLoad(t, full)
	c.Listen, c.LogLevel, c.Gateway.UserID = "x", "loud", ""
	var ve *ValidationError
	if err := c.Validate(); !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	// Plain http to the loopback sandbox is fine.
	c = mustLoad(t, full)
	c.Gateway.URL = "http://127.0.0.1:7381"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestApplyEnv(t *testing.T) {
	c := mustLoad(t, full)
	env := map[string]string{
		"POSAGENT_USER_API_KEY":    "from-env",
		"POSAGENT_GATEWAY_TIMEOUT": "45s",
		"POSAGENT_ALLOWED_ORIGINS": "https://a.example, https://b.example",
		"POSAGENT_LOCATION_ID":     "  ", // blank: ignored
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := c.ApplyEnv(lookup); err != nil {
		t.Fatal(err)
	}
	if c.Gateway.UserAPIKey != "from-env" || c.Gateway.Timeout.Duration != 45*time.Second ||
		len(c.AllowedOrigins) != 2 || c.AllowedOrigins[1] != "https://b.example" || c.Gateway.LocationID != "loc" {
		t.Errorf("after env: %+v", c)
	}
	env["POSAGENT_GATEWAY_TIMEOUT"] = "soon"
	if err := c.ApplyEnv(lookup); err == nil || !strings.Contains(err.Error(), "POSAGENT_GATEWAY_TIMEOUT") {
		t.Errorf("bad env value: %v", err)
	}
	if len(EnvNames()) < 10 {
		t.Error("EnvNames incomplete")
	}
}

func TestLoopback(t *testing.T) {
	for h, want := range map[string]bool{"127.0.0.1": true, "127.5.6.7": true, "::1": true, "[::1]": true, "localhost": true,
		"LOCALHOST": true, "pos.localhost": false, "0.0.0.0": false, "10.0.0.1": false, "example.com": false, "localhost.evil.com": false, "": false} {
		if IsLoopbackHost(h) != want {
			t.Errorf("IsLoopbackHost(%q) != %v", h, want)
		}
	}
}

func TestPaths(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	home := func() (string, error) { return "/home/c", nil }
	if p := userPaths("linux", getenv, home); p.ConfigFile != "/home/c/.config/posagent/posagent.toml" || p.StateDir != "/home/c/.local/state/posagent" {
		t.Errorf("linux %+v", p)
	}
	env["XDG_CONFIG_HOME"] = "/x"
	if p := userPaths("linux", getenv, home); p.ConfigFile != "/x/posagent/posagent.toml" {
		t.Errorf("xdg %+v", p)
	}
	if p := userPaths("darwin", getenv, home); !strings.Contains(p.StateDir, "Library/Application Support/posagent") {
		t.Errorf("darwin %+v", p)
	}
	if p := systemPaths("linux", getenv); p.ConfigFile != "/etc/posagent/posagent.toml" || p.StateDir != "/var/lib/posagent" {
		t.Errorf("system %+v", p)
	}
	env["STATE_DIRECTORY"] = "/run/state"
	if p := systemPaths("linux", getenv); p.StateDir != "/run/state" {
		t.Errorf("systemd state dir %+v", p)
	}
	if p := systemPaths("windows", getenv); !strings.Contains(p.ConfigFile, "posagent.toml") {
		t.Errorf("windows %+v", p)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(full)
	f.Add("")
	f.Add("[[readers]]\nkind=\"serial\"")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Load(strings.NewReader(s))
		if err != nil {
			return
		}
		_ = c.Validate()
	})
}

// TestCheckListen: the listen rule run, --check-config and the bridge
// share. Only the names the bridge answers to pass without
// --insecure-listen-any: on 127.0.0.2 the agent started and refused every
// request with 421.
func TestCheckListen(t *testing.T) {
	tests := []struct {
		addr     string
		anyHost  bool
		ok       bool
		contains string
	}{
		{"127.0.0.1:7380", false, true, ""},
		{"127.0.0.1:0", false, true, ""},
		{"localhost:7380", false, true, ""},
		{"LOCALHOST:7380", false, true, ""},
		{"[::1]:7380", false, true, ""},
		{"127.0.0.1:65535", false, true, ""},
		{"127.0.0.1:65536", false, false, "port"},
		{"127.0.0.1:99999", false, false, "port"},
		{"127.0.0.1:notaport", false, false, "port"},
		{"127.0.0.1:-1", false, false, "port"},
		{"127.0.0.1:07380", false, false, "port"},
		{"127.0.0.1:", false, false, "port"},
		{"127.0.0.1", false, false, "host:port"},
		{"127.0.0.2:7380", false, false, "answers only to"},
		{"foo.localhost:7380", false, false, "not a loopback"},
		{"0.0.0.0:7380", false, false, "--insecure-listen-any"},
		{":7380", false, false, "not a loopback"},
		{"0.0.0.0:7380", true, true, ""},
		{":7380", true, true, ""},
		{"192.168.1.5:7380", true, true, ""},
		{"pos.lan:7380", true, false, "IP address"},
		{"0.0.0.0:99999", true, false, "port"},
	}
	for _, tt := range tests {
		err := CheckListen(tt.addr, tt.anyHost)
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(err.Error(), tt.contains)) {
			t.Errorf("CheckListen(%q, %v) = %v, want ok=%v containing %q", tt.addr, tt.anyHost, err, tt.ok, tt.contains)
		}
	}
}

// TestCheckGatewayURL: the transport rule, which the gateway clients
// apply through gateway.CheckBaseURL.
func TestCheckGatewayURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.sandbox.payaconnect.com":         true,
		"https://api.payaconnect.com:443/":            true,
		"http://127.0.0.1:7381":                       true,
		"http://localhost:7381":                       true,
		"http://[::1]:7381":                           true,
		"http://gw.localhost:7381":                    false, // resolved by DNS: not this computer for sure
		"http://api.sandbox.payaconnect.com":          false,
		"https://user:pw@api.sandbox.payaconnect.com": false,
		"https://user@api.sandbox.payaconnect.com":    false,
		"https://api.sandbox.payaconnect.com:99999":   false,
		"https://api.sandbox.payaconnect.com:0":       false,
		"https://:443":                                false,
		"ftp://127.0.0.1:7381":                        false,
		"api.sandbox.payaconnect.com":                 false,
		"":                                            false,
		"https:api.sandbox.payaconnect.com":           false,
	} {
		if err := CheckGatewayURL(raw); (err == nil) != ok {
			t.Errorf("CheckGatewayURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
	// The password never appears in the message.
	if err := CheckGatewayURL("https://user:s3cret@h"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("credentials message: %v", err)
	}
}

// TestOneSimReader: a second simulated reader is a config problem naming
// its entry (run used to exit 1 at start).
func TestOneSimReader(t *testing.T) {
	c, err := Load(strings.NewReader("[gateway]\nkind = \"sandbox\"\n[[readers]]\nkind = \"sim\"\n[[readers]]\nkind = \"hid\"\n[[readers]]\nkind = \"sim\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "readers[2].kind:") || strings.Contains(err.Error(), "readers[0]") {
		t.Errorf("Validate = %v", err)
	}
}

// FuzzCheckListen: no input panics, and what the rule accepts without
// --insecure-listen-any is a host the bridge answers to and a port that
// net.Listen takes.
func FuzzCheckListen(f *testing.F) {
	for _, s := range []string{"127.0.0.1:7380", "[::1]:0", "localhost:1", "127.0.0.2:7380", "a:b:c", "[::1", ":", "127.0.0.1:+1"} {
		f.Add(s)
	}
	hosts := BridgeHosts()
	f.Fuzz(func(t *testing.T, s string) {
		if CheckListen(s, false) != nil {
			_ = CheckListen(s, true)
			return
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil || !hosts[strings.ToLower(host)] {
			t.Fatalf("accepted %q: host %q", s, host)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			t.Fatalf("accepted %q: port %q", s, port)
		}
		if CheckListen(s, true) != nil {
			t.Fatalf("%q passes the strict rule but not --insecure-listen-any", s)
		}
	})
}

// FuzzCheckGatewayURL: no input panics; an accepted URL has a host, no
// credentials, and is https or http to loopback.
func FuzzCheckGatewayURL(f *testing.F) {
	for _, s := range []string{"https://api.sandbox.payaconnect.com", "http://127.0.0.1:1", "https://u:p@h", "http://[::1", "https://h:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckGatewayURL(s) != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q", s)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Hostname())) {
			t.Fatalf("accepted %q: scheme %q to %q", s, u.Scheme, u.Hostname())
		}
	})
}

// The config errors a stranger sees name files they can open: the
// unknown-setting error pointed at ARCHITECTURE §3.2 (not shipped) and
// docs/configuration.md (which does not exist).
func TestConfigErrorsNameFilesThatExist(t *testing.T) {
	_, err := Load(strings.NewReader("listne = \"x\""))
	if err == nil {
		t.Fatal("unknown setting accepted")
	}
	msg := err.Error()
	if strings.Contains(msg, "ARCHITECTURE") {
		t.Errorf("%q names ARCHITECTURE, which is not in the repository or the package", msg)
	}
	refs := regexp.MustCompile(`(?:docs|packaging)/[\w./-]*\w`).FindAllString(msg, -1)
	if len(refs) == 0 {
		t.Errorf("%q names no file with the settings", msg)
	}
	for _, ref := range refs {
		if _, err := os.Stat(filepath.Join("..", "..", ref)); err != nil {
			t.Errorf("%q names %s: %v", msg, ref, err)
		}
	}
}
