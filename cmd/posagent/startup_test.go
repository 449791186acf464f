//go:build !windows

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	bolt "go.etcd.io/bbolt"

	"github.com/posagent/posagent/internal/app"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
)

// The startup tests run the real binary: what a service manager starts.

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// agentBinary builds the headless binary once for the startup tests.
func agentBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "posagent-startup-"); binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-tags", "headless", "-o", filepath.Join(binDir, "posagent"), ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "posagent")
}

// noKeyring skips where the test could not keep the OS keyring out (only
// Linux's Secret Service goes through the session bus address it unsets):
// a test must not write to a developer's keychain.
func noKeyring(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the OS keyring cannot be kept out of this test here")
	}
}

// agentEnv is the environment without POSAGENT_* settings and without a
// session keyring, so the secret store is the state directory's file.
func agentEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POSAGENT_") && !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			env = append(env, kv)
		}
	}
	return append(env, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent")
}

type agent struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	done   chan struct{}
	code   int
}

// startAgent runs posagent with args until it prints its POS page URL; it
// fails the test when the agent exits first.
func startAgent(t *testing.T, args ...string) *agent {
	t.Helper()
	a := &agent{cmd: exec.Command(agentBinary(t), args...), stderr: &bytes.Buffer{}, done: make(chan struct{})}
	a.cmd.Env = agentEnv()
	a.cmd.Stderr = a.stderr
	out, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "POS" && f[1] == "page:" {
				urls <- f[2]
			}
		}
		_ = a.cmd.Wait()
		a.code = a.cmd.ProcessState.ExitCode()
		close(a.done)
	}()
	t.Cleanup(func() { a.stop(t) })
	select {
	case a.url = <-urls:
		return a
	case <-a.done:
		t.Fatalf("posagent %s exited %d before serving:\n%s", strings.Join(args, " "), a.code, a.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("posagent %s did not start:\n%s", strings.Join(args, " "), a.stderr)
	}
	return nil
}

// stop sends SIGTERM and returns the exit code.
func (a *agent) stop(t *testing.T) int {
	select {
	case <-a.done:
		return a.code
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
		t.Errorf("posagent did not stop on SIGTERM")
	}
	return a.code
}

// runAgent runs posagent to completion: exit code and output. One that
// is still running after 30 s (an agent that should have refused to
// start) is killed: exit -1.
func runAgent(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBinary(t), args...)
	cmd.Env = agentEnv()
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// pairNative pairs the origin "native" in dir and returns its token.
func pairNative(t *testing.T, dir string) string {
	t.Helper()
	code, out := runAgent(t, "pair", "--origin", "native", "--state-dir", dir)
	for _, l := range strings.Split(out, "\n") {
		if tok, ok := strings.CutPrefix(l, "token: "); ok && code == 0 {
			return tok
		}
	}
	t.Fatalf("pair: exit %d\n%s", code, out)
	return ""
}

// wsStatus says hello with the token and asks for status; it returns the
// status message and the results replayed after it.
func wsStatus(t *testing.T, url, token string) (map[string]any, []map[string]any) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	read := func(want string) map[string]any {
		for {
			var m map[string]any
			if err := c.ReadJSON(&m); err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			if m["type"] == "error" {
				t.Fatalf("waiting for %s: %v", want, m)
			}
			if m["type"] == want {
				return m
			}
		}
	}
	if err := c.WriteJSON(map[string]string{"type": "hello", "id": "1", "token": token}); err != nil {
		t.Fatal(err)
	}
	read("welcome")
	if err := c.WriteJSON(map[string]string{"type": "status", "id": "q"}); err != nil {
		t.Fatal(err)
	}
	st := read("status")
	n, _ := st["unacked"].(float64)
	var results []map[string]any
	for len(results) < int(n) {
		// Only the replayed ones: status adopts this connection as the
		// client of a sale being resolved, whose result can come live
		// between the status and its replays (it made the test miss a
		// replayed result now and then).
		if m := read("result"); m["replay"] == true {
			results = append(results, m)
		}
	}
	return st, results
}

// damagedJournal writes a journal like a lane's after a day — many
// finished, acknowledged sales of another origin; one approved result the
// POS page (origin "native") has not acknowledged; one sale in flight —
// compacted (every page live, so any page damaged is one bbolt reads), and
// returns the file's bytes and the page size.
func damagedJournal(t *testing.T, path string) ([]byte, int) {
	t.Helper()
	raw := path + ".raw"
	j, err := journal.Open(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if err := j.Put(journal.Record{TransactionAPIID: fmt.Sprintf("old-%04d", i), Origin: "https://other.example", Action: "sale",
			Amount: "1.00", State: sale.StateDone, Outcome: "approved", Acked: true, Description: strings.Repeat("o", 150)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []journal.Record{
		{TransactionAPIID: "unacked-approved", ClientID: "s1", Origin: "native", Action: "sale", Amount: "12.34", State: sale.StateDone,
			Outcome: "approved", TransactionID: "11ee0000000000aa", StatusID: 101, ReasonCodeID: 1000, AuthCode: "A1B2C3", LastFour: "1111", MaskedPAN: "4111********1111"},
		{TransactionAPIID: "in-flight", ClientID: "s2", Origin: "native", Action: "sale", Amount: "3.00", State: sale.StateSending},
	} {
		if err := j.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	src, err := bolt.Open(raw, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bolt.Compact(dst, src, 0); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dst.Close()
	os.Remove(raw)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, os.Getpagesize()
}

// TestDamagedJournalStart: a journal damaged past its meta pages made
// every start panic (exit 2, restarted every 2 s by systemd). The agent
// now starts and serves on it, keeps the damaged file aside, and the page
// still gets its unacknowledged result from the salvaged records.
func TestDamagedJournalStart(t *testing.T) {
	cases := []struct {
		name   string
		damage func(b []byte, ps int) []byte
	}{
		{"zeroed freelist and pages past the metas", func(b []byte, ps int) []byte {
			// bbolt's freelist and the tree's root: every page the meta names.
			for _, pg := range []int{int(binaryUint64(b, 16+32)), int(binaryUint64(b, 16+16))} {
				if pg > 1 && (pg+1)*ps <= len(b) {
					clear(b[pg*ps : (pg+1)*ps])
				}
			}
			clear(b[ps+16 : 2*ps]) // and the older meta
			return b
		}},
		{"truncated", func(b []byte, ps int) []byte {
			return b[:(pages(b, ps)-3)*ps+100]
		}},
		{"random bytes in data pages", func(b []byte, ps int) []byte {
			keep1 := bytes.Index(b, []byte(`"transaction_api_id":"unacked-approved"`)) / ps
			keep2 := bytes.Index(b, []byte(`"transaction_api_id":"in-flight"`)) / ps
			rng := rand.New(rand.NewPCG(3, 4))
			for n := 0; n < 4; {
				pg := 2 + rng.IntN(pages(b, ps)-2)
				if pg == keep1 || pg == keep2 {
					continue
				}
				for i := pg * ps; i < (pg+1)*ps; i++ {
					b[i] = byte(rng.UintN(256))
				}
				n++
			}
			return b
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "journal.db")
			b, ps := damagedJournal(t, path)
			if err := os.WriteFile(path, tc.damage(b, ps), 0o600); err != nil {
				t.Fatal(err)
			}
			token := pairNative(t, dir)
			a := startAgent(t, "demo", "--headless", "--state-dir", dir, "--listen", "127.0.0.1:0")
			got := replayed(t, a.url, token)
			if !got["unacked-approved"] {
				t.Errorf("status replayed %v: the unacknowledged approval was not salvaged", got)
			}
			if !got["in-flight"] {
				t.Errorf("status replayed %v: the salvaged sale in flight was not resolved by lookup", got)
			}
			aside, _ := filepath.Glob(path + ".damaged-*")
			if len(aside) != 1 {
				t.Errorf("damaged file kept as %v, want one journal.db.damaged-*", aside)
			}
			if code := a.stop(t); code != app.ExitOK {
				t.Errorf("exit %d", code)
			}
			if !strings.Contains(a.stderr.String(), "journal file was damaged") {
				t.Errorf("the damage was not logged:\n%s", a.stderr)
			}
		})
	}
}

// TestCrashMidSalvageStart: the agent died between salvage's two renames
// (the damaged file already aside, the salvaged journal still at
// journal.db.salvaging). The next start began an empty journal: the
// unacknowledged approval was gone and the sale in flight never looked up.
func TestCrashMidSalvageStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	damagedJournal(t, path+".salvaging")
	if err := os.WriteFile(path+".damaged-20261207T004720.189Z", []byte("the damaged journal"), 0o600); err != nil {
		t.Fatal(err)
	}
	token := pairNative(t, dir)
	a := startAgent(t, "demo", "--headless", "--state-dir", dir, "--listen", "127.0.0.1:0")
	got := replayed(t, a.url, token)
	if !got["unacked-approved"] || !got["in-flight"] {
		t.Errorf("status replayed %v: want the salvaged approval and the sale in flight, resolved by lookup", got)
	}
	a.stop(t)
}

// pages is the number of pages the journal uses (the current meta's high
// water mark): past it, a file has only room to grow into.
func pages(b []byte, ps int) int {
	m0, m1 := 16, ps+16
	if binaryUint64(b, m1+48) > binaryUint64(b, m0+48) {
		m0 = m1
	}
	return int(binaryUint64(b, m0+40))
}

func binaryUint64(b []byte, off int) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[off+i])
	}
	return v
}

// TestUndecodableRecordStart: one value in the journal that does not
// decode made every status an internal_error and stopped crash recovery.
// Now status answers with the good records and recovery resolves the sale
// that was in flight; the bad record is logged.
func TestUndecodableRecordStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	damagedJournal(t, path)
	// A finished, unacknowledged result written whole, with its index
	// entries; its value is then damaged, as a bad sector would.
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Put(journal.Record{TransactionAPIID: "garbage", Origin: "native", Action: "sale", Amount: "2.00",
		State: sale.StateDone, Outcome: "approved"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Its index entry (an unacknowledged result of the page's origin)
	// stands, so status and the count at start meet it: the journal does
	// not scan every record at start.
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("transactions")).Put([]byte("garbage"), []byte(`{"transaction_api_id":`))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	token := pairNative(t, dir)
	a := startAgent(t, "demo", "--headless", "--state-dir", dir, "--listen", "127.0.0.1:0")
	got := replayed(t, a.url, token)
	if !got["unacked-approved"] || !got["in-flight"] {
		t.Errorf("status replayed %v: want the unacknowledged approval and the sale in flight, resolved by recovery", got)
	}
	a.stop(t)
	if !strings.Contains(a.stderr.String(), "journal record does not decode") {
		t.Errorf("the bad record was not logged:\n%s", a.stderr)
	}
}

// replayed asks status until the sale in flight has been resolved (its
// result is replayed) or a minute has passed, and returns the ids of the
// results replayed.
func replayed(t *testing.T, url, token string) map[string]bool {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, results := wsStatus(t, url, token)
		got := map[string]bool{}
		for _, r := range results {
			got[fmt.Sprint(r["transaction_api_id"])] = true
		}
		if got["in-flight"] || time.Now().After(deadline) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// payaConfig is a Paya Connect config without the API key; its gateway
// is never reached (no sale is made).
const payaConfig = `[gateway]
kind = "paya"
url = "http://127.0.0.1:9"
developer_id = "dev"
user_id = "user"
location_id = "loc"
[[readers]]
kind = "sim"
`

// TestRunReadsStoredKeyBeforeValidating: with the key in the secret file
// (where the settings window stores it without a keyring), run and
// --check-config used to stop at "user_api_key: missing" (exit 78).
func TestRunReadsStoredKeyBeforeValidating(t *testing.T) {
	noKeyring(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "posagent.toml")
	if err := os.WriteFile(cfg, []byte(payaConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	// Without a stored key: the config error, naming the key.
	if code, out := runAgent(t, "run", "--check-config", "--config", cfg, "--state-dir", dir); code != app.ExitConfig || !strings.Contains(out, "user_api_key") {
		t.Fatalf("no key stored: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret-user_api_key"), []byte("stored-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := runAgent(t, "run", "--check-config", "--config", cfg, "--state-dir", dir); code != app.ExitOK {
		t.Fatalf("--check-config with the key stored: exit %d\n%s", code, out)
	}
	a := startAgent(t, "run", "--headless", "--config", cfg, "--state-dir", dir, "--listen", "127.0.0.1:0")
	if code := a.stop(t); code != app.ExitOK {
		t.Errorf("exit %d:\n%s", code, a.stderr)
	}
	// A stored key others can read is refused with what to do.
	if err := os.Chmod(filepath.Join(dir, "secret-user_api_key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runAgent(t, "run", "--check-config", "--config", cfg, "--state-dir", dir); code != app.ExitConfig || !strings.Contains(out, "chmod 600") {
		t.Errorf("world-readable key: exit %d\n%s", code, out)
	}
}

// TestSettingsSaveThenRun drives the settings window's save (its backend,
// headless) and starts run with the file it wrote: the saved config used
// to lack the key and the next start exited 78.
func TestSettingsSaveThenRun(t *testing.T) {
	noKeyring(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent") // no keyring: the secret file
	for _, tc := range []struct{ name, fileKey, typedKey string }{
		{"key typed in the window", "", "typed-key"},
		{"key from the old file, location changed", "file-key", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "posagent.toml")
			cfg, err := config.Load(strings.NewReader(payaConfig))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Gateway.UserAPIKey = tc.fileKey
			a, err := app.New(app.Options{Config: cfg, StateDir: dir, ConfigPath: path})
			if err != nil {
				t.Fatal(err)
			}
			b := a.UIBackend()
			m := b.Settings()
			m.APIKey, m.LocationID = tc.typedKey, "loc-2"
			if err := b.SaveSettings(m); err != nil {
				t.Fatalf("save: %v", err)
			}
			saved, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(saved), "user_api_key") || !strings.Contains(string(saved), "loc-2") {
				t.Fatalf("saved config:\n%s", saved)
			}
			if code, out := runAgent(t, "run", "--check-config", "--config", path, "--state-dir", dir); code != app.ExitOK {
				t.Fatalf("--check-config on the saved config: exit %d\n%s", code, out)
			}
			ag := startAgent(t, "run", "--headless", "--config", path, "--state-dir", dir, "--listen", "127.0.0.1:0")
			if code := ag.stop(t); code != app.ExitOK {
				t.Errorf("exit %d:\n%s", code, ag.stderr)
			}
		})
	}
}

// TestRunWithoutGateway: a config without [gateway] used to run the
// embedded sandbox; it is a config error now, in run and --check-config
// alike. The demo needs no config.
func TestRunWithoutGateway(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "posagent.toml")
	if err := os.WriteFile(cfg, []byte("[[readers]]\nkind = \"sim\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"run", "--check-config", "--config", cfg, "--state-dir", dir},
		{"run", "--headless", "--config", cfg, "--state-dir", dir, "--listen", "127.0.0.1:0"},
	} {
		code, out := runAgent(t, args...)
		if code != app.ExitConfig || !strings.Contains(out, "gateway.kind: missing") || !strings.Contains(out, "README.md") {
			t.Errorf("%s: exit %d\n%s", strings.Join(args[:2], " "), code, out)
		}
	}
	a := startAgent(t, "demo", "--headless", "--state-dir", dir, "--listen", "127.0.0.1:0")
	if code := a.stop(t); code != app.ExitOK {
		t.Errorf("demo: exit %d", code)
	}
}
