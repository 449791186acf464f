package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// e2eTimeout bounds the whole browser run (it takes a few seconds).
const e2eTimeout = 2 * time.Minute

// TestBrowser runs e2e.mjs in headless Chromium against the bridge over
// the fake engine, or against BASE_URL when it is set (e.g. posagent demo
// --headless). Missing Chromium, node or playwright-core skip it: run.sh
// installs them.
func TestBrowser(t *testing.T) {
	chromium, node := browserDeps(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()

	env := os.Environ()
	if os.Getenv("BASE_URL") == "" {
		sctx, stop := context.WithCancel(ctx)
		s, err := Start(sctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Wait()
		defer stop()
		env = append(env, "BASE_URL="+s.AgentURL, "FOREIGN_URL="+s.ForeignURL)
		t.Logf("agent %s, foreign page %s", s.AgentURL, s.ForeignURL)
	}
	artifacts := os.Getenv("ARTIFACTS")
	if artifacts == "" {
		artifacts, _ = filepath.Abs(filepath.Join("..", "..", "artifacts", "browser"))
	}
	cmd := exec.CommandContext(ctx, node, "e2e.mjs")
	cmd.Env = append(env, "ARTIFACTS="+artifacts, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("e2e.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("browser end-to-end test failed: %v", err)
	}
}

// browserDeps finds Chromium and node and checks playwright-core is
// installed; it skips the test when one is missing (run.sh installs them).
func browserDeps(t *testing.T) (chromium, node string) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no Chromium at %s: install it (apt-get install chromium) or run test/browser/run.sh", chromium)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node on PATH: run test/browser/run.sh")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core")); err != nil {
		t.Skip("playwright-core is not installed: run test/browser/run.sh (npm ci in test/browser)")
	}
	return chromium, node
}
