package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/bridge"
	"github.com/posagent/posagent/internal/config"
)

func runPairCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), append([]string{"pair"}, args...), nil, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPairCommand(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runPairCmd(t, "--state-dir", dir, "--origin", "HTTPS://POS.example.com:443/")
	if code != 0 {
		t.Fatalf("pair: %d %s", code, errs)
	}
	m := regexp.MustCompile(`token: (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "paired https://pos.example.com") {
		t.Fatalf("output %q", out)
	}
	token := m[1]
	// The store keeps a hash only, in a private file, and the token works.
	path := filepath.Join(dir, bridge.PairingsFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), token) {
		t.Fatal("the store holds the clear token")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("store mode %v, want 0600", st.Mode().Perm())
	}
	store, err := bridge.OpenPairings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !store.Valid("https://pos.example.com", token) {
		t.Fatal("the printed token is not valid")
	}

	code, out, _ = runPairCmd(t, "--state-dir", dir, "--list")
	if code != 0 || !strings.Contains(out, "https://pos.example.com") || !strings.Contains(out, "next hello") {
		t.Fatalf("list: %d %q", code, out)
	}
	code, out, _ = runPairCmd(t, "--state-dir", dir, "--revoke", "--origin", "https://pos.example.com")
	if code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %q", code, out)
	}
	if store.Valid("https://pos.example.com", token) {
		t.Fatal("the token still works after --revoke")
	}
	code, _, errs = runPairCmd(t, "--state-dir", dir, "--revoke", "--origin", "https://pos.example.com")
	if code != 1 || !strings.Contains(errs, "was not paired") {
		t.Fatalf("second revoke: %d %q", code, errs)
	}
	code, out, _ = runPairCmd(t, "--state-dir", dir, "--list")
	if code != 0 || !strings.Contains(out, "no paired origins") {
		t.Fatalf("empty list: %d %q", code, out)
	}
}

func TestPairCommandRefuses(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage"},
		{[]string{"--list", "--origin", "https://a.example"}, 2, "usage"},
		{[]string{"--revoke", "--list"}, 2, "usage"},
		{[]string{"--origin", "null"}, 2, "cannot be admitted"},
		{[]string{"--origin", "ftp://files.example"}, 2, "http and https"},
		{[]string{"--origin", "https://pos.example.com/checkout"}, 2, "without a path"},
		{[]string{"--origin", "https://a.example", "extra"}, 2, "usage"},
	}
	for _, tt := range tests {
		code, _, errs := runPairCmd(t, append([]string{"--state-dir", dir}, tt.args...)...)
		if code != tt.code || !strings.Contains(errs, tt.want) {
			t.Errorf("pair %v: exit %d, stderr %q; want %d and %q", tt.args, code, errs, tt.code, tt.want)
		}
	}
}

// TestDemoAllowedOrigins: the demo admits the origins of
// POSAGENT_ALLOWED_ORIGINS, as run does, plus its --allow-origin flags,
// normalized; a bad flag value is refused before anything starts.
func TestDemoAllowedOrigins(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "POSAGENT_ALLOWED_ORIGINS" {
			return " http://localhost:8000 , https://pos.example.com", true
		}
		return "", false
	}
	var allow originList
	for _, v := range []string{"HTTP://LOCALHOST:5173/", "http://127.0.0.1:3000"} {
		if err := allow.Set(v); err != nil {
			t.Fatalf("--allow-origin %s: %v", v, err)
		}
	}
	cfg, err := demoConfig(config.Default(), env, allow)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(cfg.AllowedOrigins, " ")
	want := "http://localhost:8000 https://pos.example.com http://localhost:5173 http://127.0.0.1:3000"
	if got != want {
		t.Errorf("allowed origins %q, want %q", got, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the demo's config does not validate: %v", err)
	}
	if err := allow.Set("file:///tmp/pos.html"); err == nil {
		t.Error("--allow-origin file:///… was accepted")
	}
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), []string{"demo", "--allow-origin", "not an origin"}, nil, &out, &errb); code != 2 {
		t.Errorf("demo --allow-origin 'not an origin': exit %d, want 2 (%s)", code, errb.String())
	}
}

// TestDemoConfigFileOrigins: the demo admits the allowed_origins of the
// config file `posagent run` would read, and nothing else of it; a missing
// file has none, a broken one is an error the demo reports.
func TestDemoConfigFileOrigins(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(good, []byte("allowed_origins = [\"https://pos.example.com\"]\n[gateway]\nkind = \"payaconnect\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := configOrigins(good)
	if err != nil || strings.Join(got, ",") != "https://pos.example.com" {
		t.Fatalf("configOrigins: %v, %v", got, err)
	}
	cfg, err := demoConfig(config.Default(), func(string) (string, bool) { return "", false }, got)
	if err != nil || cfg.Gateway.Kind != "sandbox" {
		t.Fatalf("the demo took more than allowed_origins from the file: %+v, %v", cfg, err)
	}
	if got, err := configOrigins(filepath.Join(dir, "missing.toml")); err != nil || got != nil {
		t.Errorf("missing file: %v, %v", got, err)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("allowed_origns = []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := configOrigins(bad); err == nil || !strings.Contains(err.Error(), "allowed_origns") {
		t.Errorf("a misspelt key: %v", err)
	}
}
