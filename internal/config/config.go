package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Defaults.
const (
	DefaultListen  = "127.0.0.1:7380"
	DefaultTimeout = 30 * time.Second
	// SandboxURL marks the embedded sandbox: no network, no credentials.
	SandboxURL = "embedded"
)

// Gateway kinds.
const (
	GatewayPaya    = "paya"
	GatewayPaidYET = "paidyet"
	GatewaySandbox = "sandbox"
)

// Reader kinds and serial protocols.
const (
	ReaderAuto   = "auto"
	ReaderSim    = "sim"
	ReaderHID    = "hid"
	ReaderSerial = "serial"
	ReaderReplay = "replay"

	ProtocolIDTech  = "idtech"
	ProtocolMagTek  = "magtek"
	ProtocolVivopay = "vivopay"
)

// Config is the whole configuration.
type Config struct {
	Listen         string   `toml:"listen"`
	AllowedOrigins []string `toml:"allowed_origins"`
	// LogLevel is debug, info, warn or error.
	LogLevel string   `toml:"log_level"`
	Gateway  Gateway  `toml:"gateway"`
	Readers  []Reader `toml:"readers"`
	Journal  Journal  `toml:"journal"`
}

// Gateway is the [gateway] table.
type Gateway struct {
	Kind                 string   `toml:"kind"`
	URL                  string   `toml:"url"`
	DeveloperID          string   `toml:"developer_id"`
	UserID               string   `toml:"user_id"`
	UserAPIKey           string   `toml:"user_api_key,omitempty"` // prefer the keyring / env
	LocationID           string   `toml:"location_id"`
	ProductTransactionID string   `toml:"product_transaction_id"`
	Subdomain            string   `toml:"subdomain"` // PaidYET; its key is user_api_key
	Timeout              Duration `toml:"timeout"`
}

// Reader is one [[readers]] entry.
type Reader struct {
	Kind     string `toml:"kind"`
	Path     string `toml:"path"`
	Protocol string `toml:"protocol"`
	Baud     int    `toml:"baud"`
	VID      uint16 `toml:"vid"`
	PID      uint16 `toml:"pid"`
	File     string `toml:"file"`
	// Model picks the simulated reader's model (sim only).
	Model string `toml:"model"`
}

// Journal is the [journal] table.
type Journal struct {
	Path string `toml:"path"`
}

// Duration is a time.Duration written as "30s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses "30s", "1m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"30s\" or \"1m\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as "30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default is the configuration with no file: the simulated reader and the
// embedded sandbox, the out-of-the-box demo.
func Default() *Config {
	return &Config{
		Listen:   DefaultListen,
		LogLevel: "info",
		Gateway:  Gateway{Kind: GatewaySandbox, Timeout: Duration{DefaultTimeout}},
		Readers:  []Reader{{Kind: ReaderAuto}},
	}
}

// Load reads a TOML configuration over the defaults. Unknown keys are
// errors: a misspelt key would otherwise be silently ignored. The gateway
// has no default in a file: without [gateway] kind, Validate fails.
func Load(r io.Reader) (*Config, error) {
	c := Default()
	c.Readers = nil
	md, err := toml.NewDecoder(r).Decode(c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config: line %d: %s", pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("config: unknown setting %s: check the spelling against the commented template packaging/linux/posagent.toml (Configure in README.md)", strings.Join(keys, ", "))
	}
	if len(c.Readers) == 0 {
		c.Readers = []Reader{{Kind: ReaderAuto}}
	}
	if !md.IsDefined("gateway", "kind") {
		// A file that names no gateway is not a demo: it must not quietly
		// take sales on the embedded sandbox. Validate says what to write
		// (POSAGENT_GATEWAY_KIND may still set it).
		c.Gateway.Kind = ""
	}
	c.applyDefaults()
	return c, nil
}

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Gateway.Timeout.Duration == 0 {
		c.Gateway.Timeout.Duration = DefaultTimeout
	}
	for i := range c.Readers {
		r := &c.Readers[i]
		if r.Kind == "" {
			r.Kind = ReaderAuto
		}
		if r.Kind == ReaderSerial && r.Baud == 0 {
			r.Baud = 9600
			if r.Protocol == ProtocolVivopay {
				r.Baud = 115200
			}
		}
	}
}

// Problem is one thing wrong with a configuration.
type Problem struct {
	Field   string // e.g. "gateway.url", "readers[1].path"
	Message string
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

// ValidationError lists every problem found, so a person fixes them in one go.
type ValidationError struct{ Problems []Problem }

func (e *ValidationError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return "config has " + plural(len(s), "problem") + ":\n  " + strings.Join(s, "\n  ")
}

func plural(n int, w string) string {
	if n == 1 {
		return "1 " + w
	}
	return fmt.Sprintf("%d %ss", n, w)
}

// Validate checks the configuration and returns a *ValidationError listing
// every problem, or nil.
func (c *Config) Validate() error {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{field, fmt.Sprintf(format, args...)})
	}
	if host, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		add("listen", "%q is not host:port, e.g. %q", c.Listen, DefaultListen)
	} else if !IsLoopbackHost(host) {
		add("listen", "%q is not a loopback address: the agent serves card data to this computer only; use 127.0.0.1 (or start with --insecure-listen-any if you really mean it)", c.Listen)
	}
	for i, o := range c.AllowedOrigins {
		if _, err := CanonicalOrigin(o); err != nil {
			add(fmt.Sprintf("allowed_origins[%d]", i), "%v", err)
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		add("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	c.validateGateway(add)
	for i, r := range c.Readers {
		validateReader(fmt.Sprintf("readers[%d]", i), r, add)
	}
	if len(ps) > 0 {
		return &ValidationError{ps}
	}
	return nil
}

func (c *Config) validateGateway(add func(string, string, ...any)) {
	g := c.Gateway
	if t := g.Timeout.Duration; t < time.Second || t > 2*time.Minute {
		add("gateway.timeout", "%s is out of range: use between 1s and 2m (the default is 30s)", t)
	}
	switch g.Kind {
	case GatewaySandbox:
		// url is optional: an external sandbox (`posagent sandbox`), which
		// like the embedded one must be on this computer.
		if g.URL != "" {
			if u, err := url.Parse(g.URL); err != nil || !IsLoopbackHost(u.Hostname()) {
				add("gateway.url", "%q: the sandbox gateway must run on this computer (http://127.0.0.1:PORT), or leave url empty for the embedded one", g.URL)
			}
		}
		return
	case GatewayPaya, GatewayPaidYET:
	case "":
		add("gateway.kind", "missing: the config has no [gateway] table with a kind; write one with kind = \"paya\" or \"paidyet\" and your credentials, or kind = \"sandbox\" for the embedded test gateway (see Configure in README.md and the template packaging/linux/posagent.toml); `posagent demo` needs no config")
		return
	default:
		add("gateway.kind", "%q is not one of paya, paidyet, sandbox", g.Kind)
		return
	}
	if g.Kind == GatewayPaidYET && g.URL == SandboxURL {
		// the embedded sandbox's PaidYET v3 (`posagent demo --gateway paidyet`)
	} else if g.URL == "" {
		add("gateway.url", "missing: the gateway's base URL, e.g. https://api.sandbox.payaconnect.com")
	} else if err := CheckGatewayURL(g.URL); err != nil {
		add("gateway.url", "%v", err)
	}
	need := func(field, value, what string) {
		if strings.TrimSpace(value) == "" {
			add("gateway."+field, "missing: %s", what)
		}
	}
	if g.Kind == GatewayPaya {
		need("developer_id", g.DeveloperID, "the developer-id your integration was issued")
		need("user_id", g.UserID, "the API user id from the Paya Connect portal")
		need("user_api_key", g.UserAPIKey, "the API user's key (or set POSAGENT_USER_API_KEY, or store it in the keyring with the settings window)")
		need("location_id", g.LocationID, "the location id (the settings window can discover it)")
	} else {
		need("subdomain", g.Subdomain, "your PaidYET subdomain")
		need("user_api_key", g.UserAPIKey, "your PaidYET API key (or set POSAGENT_USER_API_KEY)")
	}
}

func validateReader(field string, r Reader, add func(string, string, ...any)) {
	switch r.Kind {
	case ReaderAuto, ReaderSim:
	case ReaderHID:
		if (r.VID == 0) != (r.PID == 0) {
			add(field, "give both vid and pid (e.g. vid = 0x0801, pid = 0x0011) or neither")
		}
	case ReaderSerial:
		if r.Path == "" {
			add(field+".path", "missing: the serial port, e.g. /dev/ttyACM0 or COM3")
		}
		switch r.Protocol {
		case ProtocolIDTech, ProtocolMagTek, ProtocolVivopay:
		case "":
			add(field+".protocol", "missing: idtech (SecureMag/SREDKey frames), magtek (MagneSafe text lines) or vivopay (VP3300 family)")
		default:
			add(field+".protocol", "%q is not one of idtech, magtek, vivopay", r.Protocol)
		}
		if r.Baud <= 0 || r.Baud > 921600 {
			add(field+".baud", "%d is not a serial speed: use 9600, 38400 or 115200 as the reader's manual says", r.Baud)
		}
	case ReaderReplay:
		if r.File == "" {
			add(field+".file", "missing: the transcript to play back")
		}
	default:
		add(field+".kind", "%q is not one of auto, sim, hid, serial, replay", r.Kind)
	}
}

// CheckGatewayURL allows https anywhere and plain http only to loopback.
func CheckGatewayURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL like https://api.sandbox.payaconnect.com", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q sends card data unencrypted: use https:// (plain http is allowed to this computer only)", raw)
	}
	return fmt.Errorf("%q must start with https://", raw)
}

// IsLoopbackHost reports whether host names this computer: localhost, or a
// loopback IP (127.0.0.0/8, ::1).
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
