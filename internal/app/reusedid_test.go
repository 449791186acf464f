package app

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/sale"
)

// buildPosagent builds the headless binary once per test binary run.
func buildPosagent(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build posagent")
	}
	bin := filepath.Join(t.TempDir(), "posagent")
	build := exec.Command(goTool, "build", "-tags", "headless", "-o", bin, "../../cmd/posagent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lane is one install of the real binary (`posagent run --headless`) with
// its own state directory, a simulated reader and the shared gateway.
type lane struct {
	base, state string
	cmd         *exec.Cmd
}

func startLane(t *testing.T, bin, gatewayURL string, origins ...string) *lane {
	t.Helper()
	return startLaneWith(t, bin, gatewayURL, "", origins...)
}

// startLaneWith is startLane with more lines for the [gateway] table
// (e.g. a product_transaction_id).
func startLaneWith(t *testing.T, bin, gatewayURL, gatewayExtra string, origins ...string) *lane {
	t.Helper()
	dir := t.TempDir()
	port := freeLoopbackPort(t)
	quoted := make([]string, len(origins))
	for i, o := range origins {
		quoted[i] = fmt.Sprintf("%q", o)
	}
	cfg := fmt.Sprintf("listen = \"127.0.0.1:%d\"\nallowed_origins = [%s]\n[gateway]\nkind = \"sandbox\"\nurl = %q\n%s[[readers]]\nkind = \"sim\"\n",
		port, strings.Join(quoted, ", "), gatewayURL, gatewayExtra)
	cfgPath := filepath.Join(dir, "posagent.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l := &lane{base: fmt.Sprintf("http://127.0.0.1:%d", port), state: filepath.Join(dir, "state")}
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	l.cmd = exec.Command(bin, "run", "--headless", "--config", cfgPath, "--state-dir", l.state)
	l.cmd.Stdout, l.cmd.Stderr = logf, logf
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.stop()
		if t.Failed() {
			out, _ := os.ReadFile(logf.Name())
			t.Logf("agent log %s:\n%s", l.base, out)
		}
	})
	return l
}

func (l *lane) stop() {
	if l.cmd.ProcessState != nil {
		return
	}
	_ = l.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = l.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = l.cmd.Process.Kill()
		<-done
	}
}

// TestReusedTransactionAPIIDNeverApproved is the false approval of issue
// 16 against the real binary: one install charges 5.55 on a Visa with a
// page-supplied transaction_api_id; another install's page reuses that id
// for a 77.00 Mastercard sale. The gateway refuses the second sale ("already
// used"), and the agent must not report it approved with the first sale's
// auth code: the page gets an error with duplicate_id and nothing of the
// other transaction, and the journal says error.
func TestReusedTransactionAPIIDNeverApproved(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPosagent(t)
	sb := sandbox.New(sandbox.Options{})
	gw := httptest.NewServer(sb)
	defer gw.Close()
	const reused = "shared-id-0001"

	first := startLane(t, bin, gw.URL, "https://lane1.example")
	p1 := openPage(t, first.base, "https://lane1.example")
	visa := p1.sale("s1", map[string]any{"amount": "5.55", "transaction_api_id": reused}, "visa")
	if visa["outcome"] != "approved" {
		t.Fatalf("the first install's sale: %s", visa["_raw"])
	}
	first.stop()

	second := startLane(t, bin, gw.URL, "https://lane2.example")
	p2 := openPage(t, second.base, "https://lane2.example")
	res := p2.sale("s1", map[string]any{"amount": "77.00", "transaction_api_id": reused}, "mc")
	if res["outcome"] == "approved" {
		t.Fatalf("FALSE APPROVAL: a 77.00 sale nobody charged came back approved: %s", res["_raw"])
	}
	if res["outcome"] != string(sale.OutcomeError) || res["code"] != engine.CodeDuplicateID || !strings.Contains(str(res["message"]), "already exists at the gateway") {
		t.Errorf("result %s, want outcome error with code duplicate_id saying the id exists at the gateway", res["_raw"])
	}
	other := obj(visa, "transaction")
	for _, leak := range []string{str(other["id"]), str(other["auth_code"]), str(obj(visa, "card")["masked_pan"]), "5.55"} {
		if leak != "" && strings.Contains(str(res["_raw"]), leak) {
			t.Errorf("the result carries %q of the other install's transaction: %s", leak, res["_raw"])
		}
	}
	if last := str(obj(res, "card")["last_four"]); last != "" && last == str(obj(visa, "card")["last_four"]) {
		t.Errorf("the result shows the other card's last four %s", last)
	}
	second.stop()

	// The gateway holds the one 5.55 charge under that id and no 77.00.
	n := 0
	for _, s := range sb.Summaries() {
		if s.TransactionAPIID == reused {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the gateway holds %d transactions under %s, want 1", n, reused)
	}
	// The second install's journal records the sale as an error.
	j, err := journal.Open(filepath.Join(second.state, "journal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rec, found, err := j.Get(reused)
	if err != nil || !found {
		t.Fatalf("journal of the second install has no %s: %v", reused, err)
	}
	if rec.Outcome != sale.OutcomeError || rec.State != sale.StateDone || rec.Code != engine.CodeDuplicateID || rec.AuthCode != "" || rec.TransactionID != "" {
		t.Errorf("journal record %+v, want done/error/duplicate_id with no gateway id or auth code", rec)
	}
}

// TestReusedIDAfterTimeoutNeverApproved is the adversary's variation of
// the false approval: the same customer pays the same amount with the
// same card at a lane that reuses its ids (reinstalled, or sharing a
// prefix with another lane), and the gateway's answer is lost. The lookup
// found the earlier lane's transaction under the id — same amount, same
// last four — and the agent reported it approved: nothing was charged.
// With a chip read it was worse: the card, completed "unable to go
// online", declined, and the agent voided the earlier lane's approval —
// another customer's paid sale. The gateway created that transaction an
// hour before this sale began, so it is not this sale.
func TestReusedIDAfterTimeoutNeverApproved(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPosagent(t)
	for _, mode := range []string{"S", "C"} {
		t.Run("entry mode "+mode, func(t *testing.T) {
			var offset atomic.Int64 // how far the sandbox's clock runs behind
			offset.Store(int64(time.Hour))
			sb := sandbox.New(sandbox.Options{Now: func() time.Time { return time.Now().Add(-time.Duration(offset.Load())) }})
			gw := httptest.NewServer(sb)
			defer gw.Close()
			const reused, pan = "lane-0001", "4111111111111111"

			first := startLane(t, bin, gw.URL, "https://lane.example")
			p1 := openPage(t, first.base, "https://lane.example")
			earlier := p1.sale("s1", map[string]any{"amount": "3.50", "transaction_api_id": reused}, pan)
			if earlier["outcome"] != "approved" {
				t.Fatalf("the earlier lane's sale: %s", earlier["_raw"])
			}
			first.stop()
			offset.Store(0) // an hour later

			second := startLane(t, bin, gw.URL, "https://lane.example")
			p2 := openPage(t, second.base, "https://lane.example")
			p2.send(map[string]any{"type": "sale", "id": "s1", "amount": "3.50", "transaction_api_id": reused})
			if r := p2.wait(func(m map[string]any) bool { return m["id"] == "s1" && (m["type"] == "prompt" || m["type"] == "error") }, "prompt"); r["type"] == "error" {
				t.Fatalf("sale refused: %s", r["_raw"])
			}
			p2.send(map[string]any{"type": "simulate", "id": "x1", "card": pan, "entry_mode": mode, "scenario": "gateway_timeout"})
			res := p2.result("s1")
			if res["outcome"] == "approved" {
				t.Fatalf("FALSE APPROVAL: the earlier lane's transaction reported as this sale: %s", res["_raw"])
			}
			if res["outcome"] != string(sale.OutcomeError) || res["code"] != engine.CodeDuplicateID {
				t.Errorf("result %s, want outcome error with code duplicate_id", res["_raw"])
			}
			earlierID := str(obj(earlier, "transaction")["id"])
			if strings.Contains(str(res["_raw"]), earlierID) {
				t.Errorf("the result carries the earlier transaction's id %s: %s", earlierID, res["_raw"])
			}
			second.stop()
			for _, s := range sb.Summaries() {
				if s.ID == earlierID && s.StatusID != 101 {
					t.Errorf("the earlier lane's approved transaction is now status %d: this lane changed another customer's sale", s.StatusID)
				}
			}
		})
	}
}
