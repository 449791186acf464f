package app

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/reader/sim"
	"github.com/posagent/posagent/internal/sale"
)

// The crash tests run an agent in a child process (this test binary, in
// child mode) and kill it with SIGKILL at each step of a sale. The gateway
// (sandbox behind a proxy) lives in the parent, so it outlives the agent.
// A second agent on the same journal must then leave exactly the right
// number of charges and a deliverable outcome.

const childEnv = "POSAGENT_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashChild runs one sale, printing "STEP name id" lines; at the step
// named by POSAGENT_KILL_AT it stops and waits to be killed.
func crashChild() int {
	killAt := os.Getenv("POSAGENT_KILL_AT")
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	hook := func(step, id string) {
		mu.Lock()
		fmt.Fprintf(out, "STEP %s %s\n", step, id)
		out.Flush()
		mu.Unlock()
		if step == killAt {
			select {} // wait for SIGKILL
		}
	}
	a, err := New(Options{Config: testConfig(), StateDir: os.Getenv("POSAGENT_STATE"), Demo: true,
		SandboxURLOverride: os.Getenv("POSAGENT_GATEWAY"), StepHook: hook})
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	if err := a.Start(context.Background()); err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	for !readerReady(a) {
		time.Sleep(10 * time.Millisecond)
	}
	upd, _ := a.Engine().Subscribe()
	rec, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "s1", Origin: "test", Amount: "9.99"})
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	mode := card.EntryMode(os.Getenv("POSAGENT_ENTRY"))
	if mode == "" {
		mode = card.EntrySwiped
	}
	if err := a.Sim().Simulate(context.Background(), sim.SimCard{PAN: os.Getenv("POSAGENT_PAN"), EntryMode: mode}); err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	for u := range upd {
		if u.Kind == sale.UpdateResult && u.TransactionAPIID == rec.TransactionAPIID {
			fmt.Fprintf(out, "RESULT %s\n", u.Result.Outcome)
			out.Flush()
			return 0
		}
	}
	return 1
}

func readerReady(a *App) bool {
	for _, in := range a.Manager().Devices() {
		if in.Status == sale.ReaderOK {
			return true
		}
	}
	return false
}

// commitProxy forwards to the sandbox; with hold set, it forwards a POST
// (so the gateway commits it), reports it, and never answers. It counts
// the PUTs (voids and other changes of a transaction).
type commitProxy struct {
	target    http.Handler
	hold      bool
	committed chan struct{}
	once      sync.Once
	puts      atomic.Int32
}

func (p *commitProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		p.puts.Add(1)
	}
	if !p.hold || r.Method != http.MethodPost {
		p.target.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.target.ServeHTTP(rec, r)
	p.once.Do(func() { close(p.committed) })
	<-r.Context().Done() // the client dies waiting
}

func TestCrashAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crash test")
	}
	tests := []struct {
		killAt  string
		entry   card.EntryMode
		charges int
		outcome string
		voids   int // voids sent after the restart
	}{
		{engine.StepPending, card.EntrySwiped, 0, string(sale.OutcomeCancelled), 0}, // no card read yet: nothing to charge
		// About to send; a sale being sent is not journaled again before
		// its outcome, so the journal says pending: never sent, the lookup
		// proves absence, nothing charged.
		{engine.StepSending, card.EntrySwiped, 0, string(sale.OutcomeCancelled) + "|" + string(sale.OutcomeError), 0},
		{"committed", card.EntrySwiped, 1, string(sale.OutcomeApproved), 0},         // gateway has it, agent never heard: lookup finds it
		{engine.StepAnswered, card.EntrySwiped, 1, string(sale.OutcomeApproved), 0}, // answer received, not journaled: lookup finds it
		{"none", card.EntrySwiped, 1, string(sale.OutcomeApproved), 0},              // control: no crash
		// A chip card waits for the gateway's answer (docs/readers.md):
		// killed before it was told, it never accepted the approval, so
		// after the restart the approval is voided, once, and the sale
		// says declined (card_declined_after_approval).
		{"committed", card.EntryChip, 1, string(sale.OutcomeDeclined), 1},           // the gateway has it, the agent never heard, card not told
		{engine.StepAnswered, card.EntryChip, 1, string(sale.OutcomeDeclined), 1},   // approved, not journaled, card not told
		{engine.StepCompleting, card.EntryChip, 1, string(sale.OutcomeDeclined), 1}, // approval journaled, card not told
		{"none", card.EntryChip, 1, string(sale.OutcomeApproved), 0},                // control: the card accepts
	}
	for _, tc := range tests {
		t.Run(tc.killAt+"/"+string(tc.entry), func(t *testing.T) {
			sb := sandbox.New(sandbox.Options{})
			proxy := &commitProxy{target: sb, hold: tc.killAt == "committed", committed: make(chan struct{})}
			srv := httptest.NewServer(proxy)
			defer srv.Close()
			state := t.TempDir()

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1", "POSAGENT_KILL_AT="+tc.killAt, "POSAGENT_STATE="+state,
				"POSAGENT_GATEWAY="+srv.URL, "POSAGENT_PAN=4111111111111111", "POSAGENT_ENTRY="+string(tc.entry))
			stdout, _ := cmd.StdoutPipe()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string, 16)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			apiID, killed := "", false
			timeout := time.After(20 * time.Second)
		wait:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						break wait
					}
					f := strings.Fields(l)
					if len(f) == 3 && f[0] == "STEP" {
						apiID = f[2]
						if f[1] == tc.killAt {
							_ = cmd.Process.Kill()
							killed = true
						}
					}
					if f[0] == "ERR" {
						t.Fatalf("child: %s\n%s", l, stderr.String())
					}
				case <-proxy.committed:
					_ = cmd.Process.Kill()
					killed = true
					proxy.committed = nil
				case <-timeout:
					_ = cmd.Process.Kill()
					t.Fatalf("child did not reach %s\n%s", tc.killAt, stderr.String())
				}
			}
			_ = cmd.Wait()
			if tc.killAt != "none" && !killed {
				t.Fatalf("child was never killed at %s", tc.killAt)
			}
			if apiID == "" {
				t.Fatal("no transaction_api_id seen")
			}
			proxy.hold = false

			// Restart on the same journal: recovery must settle the sale.
			a, err := New(Options{Config: testConfig(), StateDir: state, Demo: true, SandboxURLOverride: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer a.Stop()
			var rec sale.Result
			deadline := time.Now().Add(15 * time.Second)
			for {
				r, ok, err := a.Engine().Get(apiID)
				if err != nil {
					t.Fatal(err)
				}
				// An approval whose chip card never answered is done for
				// a moment before its void starts: wait for the card's part.
				if ok && r.State == sale.StateDone && r.CardCompletion != sale.CardPending {
					rec = r
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("sale %s still %q after restart", apiID, r.State)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := sb.Count(); got != tc.charges {
				t.Errorf("gateway holds %d transactions, want %d", got, tc.charges)
			}
			standing := 0
			for _, s := range sb.Summaries() {
				if s.StatusID == 101 {
					standing++
				}
			}
			if wantStanding := map[bool]int{true: 1}[rec.Outcome == sale.OutcomeApproved]; standing != wantStanding {
				t.Errorf("approved charges standing at the gateway %d, want %d (outcome %s)", standing, wantStanding, rec.Outcome)
			}
			if got := int(proxy.puts.Load()); got != tc.voids {
				t.Errorf("voids sent %d, want %d", got, tc.voids)
			}
			if tc.voids > 0 && (rec.Code != engine.CodeCardDeclinedAfterApproval || rec.VoidAPIID == "") {
				t.Errorf("sale %+v", rec)
			}
			if !slices.Contains(strings.Split(tc.outcome, "|"), string(rec.Outcome)) {
				t.Errorf("outcome %q (%s), want %q", rec.Outcome, rec.Error, tc.outcome)
			}
			if tc.charges == 0 && !strings.Contains(rec.Error, "nothing was charged") {
				t.Errorf("a sale the gateway never got says %q", rec.Error)
			}
			un, _, _ := a.Engine().Unacked("", 0)
			found := false
			for _, u := range un {
				found = found || u.TransactionAPIID == apiID
			}
			if !found {
				t.Error("the outcome is not waiting for a client to acknowledge it")
			}
		})
	}
}
