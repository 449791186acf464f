package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/leakscan"
	"github.com/posagent/posagent/internal/syncbuf"
)

// buildAgent builds bin/posagent (headless) into a temporary directory.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "posagent")
	cmd := exec.Command("go", "build", "-tags", "headless", "-o", bin, "../../cmd/posagent")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// servePage serves h on a fresh loopback port as http://localhost:PORT
// (an origin other than the agent's 127.0.0.1) until the test ends.
func servePage(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
}

// demoAgent is a real `posagent demo --headless` run with HOME in a
// temporary directory, so that its default state directory, the one
// `posagent pair` looks for, is the test's own.
type demoAgent struct {
	bin, home, url string
	cmd            *exec.Cmd
	stderr         syncbuf.Buffer
}

// repeatedKeys returns the keys that a JSON log line has more than once
// (slog writes every With attribute, even one a parent logger already set).
func repeatedKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %q", line)
	}
	seen := map[string]bool{}
	var dup []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		if seen[k] {
			dup = append(dup, k)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return dup, nil
}

func (d *demoAgent) env() []string {
	env := []string{"HOME=" + d.home}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "POSAGENT_") {
			env = append(env, kv)
		}
	}
	return env
}

func startDemo(t *testing.T, bin string, args ...string) *demoAgent {
	t.Helper()
	d := &demoAgent{bin: bin, home: t.TempDir()}
	d.cmd = exec.Command(bin, append([]string{"demo", "--headless", "--listen", "127.0.0.1:0"}, args...)...)
	d.cmd.Env = d.env()
	d.cmd.Stderr = &d.stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		_ = d.cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		re := regexp.MustCompile(`POS page:\s+(\S+)`)
		for sc.Scan() {
			t.Logf("demo: %s", sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case d.url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("posagent demo printed no POS page URL in 30 s")
	}
	return d
}

// typedExample compiles examples/typescript with tsc --strict against the
// client as npm would install it, and serves its page and dist/checkout.js.
// It returns nil when TypeScript is missing (make deps installs it).
func typedExample(t *testing.T) http.Handler {
	t.Helper()
	tsc, _ := filepath.Abs(filepath.Join("..", "npm", "node_modules", "typescript", "bin", "tsc"))
	if _, err := os.Stat(tsc); err != nil {
		t.Log("typescript is not installed in test/npm (make deps, or test/browser/run.sh, installs it): the typed example is not run")
		return nil
	}
	dir := t.TempDir()
	pkg := filepath.Join(dir, "node_modules", "@posagent", "client")
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("../../packaging/npm/package.json", filepath.Join(pkg, "package.json"))
	copyFile("../../assets/web/posagent.js", filepath.Join(pkg, "posagent.js"))
	copyFile("../../assets/web/posagent.d.ts", filepath.Join(pkg, "posagent.d.ts"))
	for _, f := range []string{"checkout.ts", "tsconfig.json", "index.html"} {
		copyFile(filepath.Join("..", "..", "examples", "typescript", f), filepath.Join(dir, f))
	}
	cmd := exec.Command("node", tsc, "-p", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc examples/typescript: %v\n%s", err, out)
	}
	return http.FileServer(http.Dir(dir))
}

// TestBrowserDemoPairing: POS pages on their own origins reach a real
// `posagent demo` the three ways a developer would: allowed with
// --allow-origin; approved with a plain `posagent pair --origin` (which must
// find the running demo, not the service's directory); and by following
// the not_paired message word for word while the page stays open (the
// client says hello again by itself). The two examples/ pages make an
// approved sale each. Then connect({timeout: 2000}) against
// an agent that is not there rejects with agent_unreachable, and the demo
// page shows its blocking "not running" state within 2 s of the agent
// stopping.
func TestBrowserDemoPairing(t *testing.T) {
	chromium, node := browserDeps(t)
	bin := buildAgent(t)
	var agentHost atomic.Value
	agentHost.Store("127.0.0.1:1")
	page := ForeignPage(func() string { return agentHost.Load().(string) })
	allowed, paired, unknown := servePage(t, page), servePage(t, page), servePage(t, page)

	plain := servePage(t, http.FileServer(http.Dir(filepath.Join("..", "..", "examples", "plain-html"))))
	args := []string{"--allow-origin", allowed, "--allow-origin", plain}
	typed := ""
	if h := typedExample(t); h != nil {
		typed = servePage(t, h)
		args = append(args, "--allow-origin", typed)
	}
	d := startDemo(t, bin, args...)
	agentHost.Store(strings.TrimSuffix(strings.TrimPrefix(d.url, "http://"), "/"))

	pair := exec.Command(bin, "pair", "--origin", paired)
	pair.Env = d.env()
	out, err := pair.CombinedOutput()
	if err != nil {
		t.Fatalf("posagent pair: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "agent: posagent demo") || !strings.Contains(string(out), d.url) {
		t.Fatalf("posagent pair does not say it paired the running demo at %s:\n%s", d.url, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	artifacts, _ := filepath.Abs(filepath.Join("..", "..", "artifacts", "browser"))
	frames := filepath.Join(t.TempDir(), "frames.jsonl")
	cmd := exec.CommandContext(ctx, node, "agent.mjs")
	cmd.Env = append(d.env(), "CHROMIUM="+chromium, "ARTIFACTS="+artifacts, "AGENT_URL="+d.url,
		"ALLOWED_URL="+allowed+"/", "PAIRED_URL="+paired+"/", "UNKNOWN_URL="+unknown+"/",
		"EXAMPLE_PLAIN_URL="+plain+"/", "EXAMPLE_TYPED_URL="+typed,
		"POSAGENT_BIN="+bin, "FRAMES="+frames, fmt.Sprintf("AGENT_PID=%d", d.cmd.Process.Pid))
	res, err := cmd.CombinedOutput()
	t.Logf("agent.mjs:\n%s", res)
	if err != nil {
		t.Logf("posagent demo's log:\n%s", d.stderr.String())
		t.Fatalf("browser pairing test failed: %v", err)
	}
	checkProtocolDoc(t, frames)
	// The scenarios put clear track data and damaged reads on the reader's
	// wire: none of it may reach a page or the log.
	for name, open := range map[string]func() (io.Reader, error){
		"websocket frames": func() (io.Reader, error) { return os.Open(frames) },
		"demo log":         func() (io.Reader, error) { return strings.NewReader(d.stderr.String()), nil },
	} {
		r, err := open()
		if err != nil {
			t.Fatal(err)
		}
		found, err := leakscan.Scan(name, r, leakscan.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			t.Errorf("card data leaked: %s", f)
		}
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
	}
	// The gateway_timeout scenario really lost the sandbox's answer: the
	// engine resolved the sale by lookup instead of sending it again.
	for _, want := range []string{"gateway outcome unknown: resolving by lookup", "outcome resolved by lookup"} {
		if !strings.Contains(d.stderr.String(), want) {
			t.Errorf("the demo's log has no %q: the gateway_timeout scenario did not stage a lost answer", want)
		}
	}
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(d.stderr.String()), "\n") {
		lines++
		dup, err := repeatedKeys(line)
		if err != nil {
			t.Errorf("demo log: %v", err)
		} else if len(dup) > 0 {
			t.Errorf("demo log line repeats %v: %s", dup, line)
		}
	}
	if lines < 3 {
		t.Errorf("the demo logged %d lines: the repeated-attribute check saw too little", lines)
	}
}

// checkProtocolDoc compares every agent-to-client example in
// docs/protocol.md with the messages the real demo sent the pages of this
// test, kind by kind (a result's outcome, an error's code): the same
// fields, masked numbers masked alike, the sandbox's verbiage. Kinds this
// run cannot produce (hardware readers, replays) are listed, not failed;
// the ones a demo sale produces must be covered.
func checkProtocolDoc(t *testing.T, framesPath string) {
	t.Helper()
	docs, err := DocExamples(filepath.Join("..", "..", "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	frames, err := ReadFrames(framesPath)
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string][]map[string]any{}
	for _, f := range frames {
		byKind[Kind(f)] = append(byKind[Kind(f)], f)
	}
	requests := map[string]bool{"hello": true, "sale": true, "cancel": true, "refund": true, "void": true,
		"complete": true, "status": false, "ack": true, "simulate": true}
	covered := map[string]bool{}
	var unseen []string
	for _, d := range docs {
		k := Kind(d)
		if typ, _ := d["type"].(string); typ == "" || requests[typ] || (typ == "status" && d["agent"] == nil) {
			continue
		}
		real := byKind[k]
		if len(real) == 0 {
			unseen = append(unseen, k)
			continue
		}
		covered[k] = true
		for _, p := range CompareExample(d, real) {
			t.Errorf("docs/protocol.md %s example: %s", k, p)
		}
	}
	t.Logf("protocol.md examples checked against the agent: %v; not produced by this run: %v", keys(covered), unseen)
	for _, must := range []string{"welcome", "paired", "accepted", "prompt", "card", "result/approved", "result/declined",
		"result/cancelled", "status", "simulated", "acked", "error/busy", "error/not_paired"} {
		if !covered[must] {
			t.Errorf("no %s example in docs/protocol.md was compared with a real message (got %v)", must, keys(covered))
		}
	}
}
