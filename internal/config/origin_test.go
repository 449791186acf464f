package config

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalOrigin(t *testing.T) {
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"https://pos.example.com", "https://pos.example.com"},
		{"HTTPS://POS.Example.COM:443", "https://pos.example.com"},
		{"http://127.0.0.1:80/", "http://127.0.0.1"},
		{"http://127.0.0.1:7380", "http://127.0.0.1:7380"},
		{"http://[::1]:7380", "http://[::1]:7380"},
		{"http://[::1]:7380/", "http://[::1]:7380"},
		{"https://pos.example.com.", "https://pos.example.com."}, // another origin to a browser
		{"http://127.0.0.1:017380", ""},                          // leading zero: never sent by a browser
		{"http://127.0.0.1:07380", ""},
		{"http://127.0.0.1:+7380", ""},
		{"http://127.0.0.1:", ""},
		{"http://127.0.0.1:0", ""},
		{"http://127.0.0.1:65536", ""},
		{"http://127.1:7380", ""},
		{"http://0x7f.0.0.1:7380", ""},
		{"http://127.000.000.001:7380", ""},
		{"http://[0:0:0:0:0:0:0:1]:7380", ""},
		{"http://[::ffff:127.0.0.1]:7380", ""},
		{"http://[fe80::1%25eth0]:7380", ""},
		{"https://*.example.com", ""},
		{"https://*", ""},
		{"https://pos..example.com", ""},
		{"https://pös.example.com", ""},
		{"https://pos.example.com/app", ""},
		{"https://user@pos.example.com", ""},
		{"ftp://pos.example.com", ""},
		{"null", ""},
		{"pos.example.com", ""},
	}
	for _, tt := range tests {
		got, err := CanonicalOrigin(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("CanonicalOrigin(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CanonicalOrigin(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

// A wildcard used to pass the config check and then match nothing: the
// check refuses it now and says why.
func TestValidateRefusesWildcardOrigin(t *testing.T) {
	c := Default()
	c.AllowedOrigins = []string{"https://pos.example.com", "https://*.example.com"}
	err := c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate = %v, want a ValidationError", err)
	}
	found := false
	for _, p := range ve.Problems {
		if p.Field == "allowed_origins[1]" && strings.Contains(p.Message, "wildcards are not supported") {
			found = true
		}
		if p.Field == "allowed_origins[0]" {
			t.Errorf("a plain origin refused: %v", p)
		}
	}
	if !found {
		t.Fatalf("Validate = %v, want allowed_origins[1] refused as a wildcard", err)
	}
}

func TestValidateRefusesNonCanonicalPort(t *testing.T) {
	c := Default()
	c.AllowedOrigins = []string{"http://127.0.0.1:017380"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "leading zeros") {
		t.Fatalf("Validate = %v, want the port refused", err)
	}
}

func FuzzCanonicalOrigin(f *testing.F) {
	for _, s := range []string{"https://pos.example.com", "http://[::1]:7380", "http://127.0.0.1:017380", "https://*.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CanonicalOrigin(s)
		if err != nil {
			return
		}
		// Canonical is a fixed point.
		again, err := CanonicalOrigin(got)
		if err != nil || again != got {
			t.Fatalf("CanonicalOrigin(%q) = %q, then %q, %v", s, got, again, err)
		}
	})
}
