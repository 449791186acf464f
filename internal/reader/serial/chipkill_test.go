package serial

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// A chip sale's agent killed between the gateway's answer and the card's
// completion, on the pty fake VP3300: the agent runs in a child process
// (this test binary again) that opens the pty and the journal, runs one
// contact chip sale against the sandbox over HTTP, and is SIGKILLed at a
// step; a fresh engine in the test process then opens the same pty and
// journal.

const chipKillEnv = "POSAGENT_CHIPKILL_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(chipKillEnv) != "" {
		os.Exit(chipKillChild())
	}
	os.Exit(m.Run())
}

// Where the child stops and waits for SIGKILL.
const (
	killBeforeCard = engine.StepCompleting // approval journaled, the card not told
	killAfterCard  = "result"              // the card's answer journaled, the result published
)

// chipKillChild runs one contact chip sale, printing "STEP name id" at
// each engine step and "RESULT outcome completion" at the result; at the
// point named by POSAGENT_KILL_AT it waits to be killed.
func chipKillChild() int {
	killAt := os.Getenv("POSAGENT_KILL_AT")
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		fmt.Printf(format+"\n", a...)
		mu.Unlock()
	}
	fail := func(err error) int { say("ERR %v", err); return 1 }
	path := os.Getenv("POSAGENT_PORT")
	d := &Driver{Ports: []Port{{Path: path, Protocol: "vivopay"}}, Log: quiet, HostResponseTimeout: time.Hour}
	ctx := context.Background()
	r, err := d.Open(ctx, reader.Device{ID: ID(path)})
	if err != nil {
		return fail(err)
	}
	events := make(chan reader.Event, 100)
	go func() { _ = r.Run(ctx, func(ev reader.Event) { events <- ev }) }()
	gw, err := sandboxClient(os.Getenv("POSAGENT_GATEWAY"))
	if err != nil {
		return fail(err)
	}
	j, err := journal.Open(os.Getenv("POSAGENT_JOURNAL"), nil)
	if err != nil {
		return fail(err)
	}
	e, err := chipEngine(gw, r, j, func(step, id string) {
		say("STEP %s %s", step, id)
		if step == killAt {
			select {} // wait for SIGKILL
		}
	})
	if err != nil {
		return fail(err)
	}
	upd, _ := e.Subscribe()
	go func() {
		for ev := range events {
			e.HandleReaderEvent(ev)
		}
	}()
	rec, err := e.StartSale(ctx, engine.SaleRequest{ClientID: "s1", Origin: "test", Amount: "12.50"})
	if err != nil {
		return fail(err)
	}
	for u := range upd {
		if u.Kind == sale.UpdateResult && u.TransactionAPIID == rec.TransactionAPIID && u.Result.Outcome != sale.OutcomeUnknown {
			say("RESULT %s %s", u.Result.Outcome, u.Result.CardCompletion)
			if killAt == killAfterCard {
				select {} // wait for SIGKILL
			}
			return 0
		}
	}
	return 1
}

// TestChipSaleKilledBeforeCompletionOverPTY: the agent is killed after the
// gateway approved a contact chip sale and the approval was journaled,
// before the card was told (the fake VP3300 still waits for its host
// response). After a restart on the same journal, pty reader and sandbox
// the sale is resolved by the documented policy (docs/readers.md, "An
// approval the card does not accept"): the approval is voided, exactly
// once, and the sale's result is declined, card_declined_after_approval.
// The control: killed after the card accepted (completion journaled
// accepted): no void, the approval stands. Either way the fake reader,
// once its own host-response timeout has passed, takes the next sale.
func TestChipSaleKilledBeforeCompletionOverPTY(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess kill test")
	}
	tests := []struct {
		name       string
		killAt     string
		told       []string // what the card heard before the kill
		outcome    sale.Outcome
		code       string
		completion string
		voids      int
	}{
		{"killed before the card was told: voided", killBeforeCard, nil, sale.OutcomeDeclined, engine.CodeCardDeclinedAfterApproval, sale.CardDeclined, 1},
		{"killed after the card accepted: approval stands", killAfterCard, []string{"00"}, sale.OutcomeApproved, "", sale.CardAccepted, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			master, path := newPTY(t)
			f := &fakeVP3300{master: master, scenarios: []string{"chip", "swipe"}, secondAC: 0x40,
				swipe: readHex(t, "idtech_vp3350_0240_swipe_frame.hex"), contact: readHex(t, "idtech_vp3300_contact_emv_tlv.hex")}
			go f.run()
			gwSrv := newCountingSandbox(t)
			journalPath := filepath.Join(t.TempDir(), "journal.db")

			apiID := runChipKillChild(t, tc.killAt, path, journalPath, gwSrv.url)
			f.mu.Lock()
			told, waiting := slices.Clone(f.arcs), f.state == "host"
			// Time passes: the reader's own host-response timeout for a
			// card nobody answers (the guide's), after which it is idle.
			f.hostTimeout = time.Nanosecond
			f.mu.Unlock()
			if !slices.Equal(told, tc.told) || waiting != (tc.told == nil) {
				t.Fatalf("at the kill the card had been told %v (still waiting: %v), want %v", told, waiting, tc.told)
			}
			if got := gwSrv.puts.Load(); got != 0 {
				t.Fatalf("%d voids before the restart", got)
			}

			// Restart: a fresh driver on the same pty, a fresh engine on
			// the same journal and sandbox.
			c := &contactRig{f: f, s: open(t, &Driver{Ports: []Port{{Path: path, Protocol: "vivopay"}}, Log: quiet, HostResponseTimeout: time.Hour}, path)}
			gw, err := sandboxClient(gwSrv.url)
			if err != nil {
				t.Fatal(err)
			}
			j, err := journal.Open(journalPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			e, err := chipEngine(gw, c.s.r, j, nil)
			if err != nil {
				t.Fatal(err)
			}
			upd, stop := e.Subscribe()
			t.Cleanup(func() { e.Close(5 * time.Second); stop(); j.Close() })
			go func() {
				for ev := range c.s.events {
					e.HandleReaderEvent(ev)
				}
			}()
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			var rec sale.Result
			deadline := time.Now().Add(15 * time.Second)
			for {
				r, ok, err := e.Get(apiID)
				if err != nil {
					t.Fatal(err)
				}
				// An approval whose card never answered is done for a
				// moment before its void starts: wait for the card's part.
				if ok && r.State == sale.StateDone && r.CardCompletion != sale.CardPending && !(r.Outcome == sale.OutcomeApproved && r.VoidAPIID == "" && r.CardCompletion == sale.CardDeclined) {
					rec = r
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("sale %s still %q (card %q, void %q) after the restart", apiID, r.State, r.CardCompletion, r.VoidAPIID)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if rec.Outcome != tc.outcome || rec.Code != tc.code || rec.CardCompletion != tc.completion {
				t.Errorf("after the restart: outcome %s code %q card %s, want %s %q %s", rec.Outcome, rec.Code, rec.CardCompletion, tc.outcome, tc.code, tc.completion)
			}
			if (rec.VoidAPIID != "") != (tc.voids == 1) {
				t.Errorf("void %q", rec.VoidAPIID)
			}
			if rec.VoidAPIID != "" {
				if v, ok, err := e.Get(rec.VoidAPIID); err != nil || !ok || v.State != sale.StateDone || v.Outcome != sale.OutcomeApproved || v.ReversalOf != apiID {
					t.Errorf("the void's record %+v (%v, %v)", v, ok, err)
				}
			}
			wantStanding := map[bool]int{true: 1}[tc.outcome == sale.OutcomeApproved]
			if got, standing := int(gwSrv.puts.Load()), gwSrv.standing(); got != tc.voids || standing != wantStanding {
				t.Errorf("voids at the sandbox %d, approved charges standing %d; want %d %d", got, standing, tc.voids, wantStanding)
			}
			if got := c.arcs(); !slices.Equal(got, tc.told) {
				t.Errorf("after the restart the card had been told %v, want %v", got, tc.told)
			}

			// The reader is idle again: the next sale (a swipe) goes through.
			next, err := e.StartSale(context.Background(), engine.SaleRequest{ClientID: "s2", Origin: "test", Amount: "12.50"})
			if err != nil {
				t.Fatal(err)
			}
			timeout := time.After(20 * time.Second)
			for {
				var u sale.Update
				select {
				case u = <-upd:
				case <-timeout:
					t.Fatalf("no result for the next sale; the reader saw %s", c.commands())
				}
				if u.Kind != sale.UpdateResult || u.TransactionAPIID != next.TransactionAPIID || u.Result.Outcome == sale.OutcomeUnknown {
					continue
				}
				if u.Result.Outcome != sale.OutcomeApproved || u.Result.EntryMode != "S" {
					t.Errorf("next sale %s entry %s (%s), want approved S; the reader saw %s", u.Result.Outcome, u.Result.EntryMode, u.Result.Error, c.commands())
				}
				break
			}
			if got := gwSrv.puts.Load(); int(got) != tc.voids {
				t.Errorf("voids at the sandbox after the next sale %d, want %d", got, tc.voids)
			}
		})
	}
}

// runChipKillChild runs the child's sale and kills it at killAt; it
// returns the sale's transaction_api_id.
func runChipKillChild(t *testing.T, killAt, port, journalPath, gwURL string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), chipKillEnv+"=1", "POSAGENT_KILL_AT="+killAt, "POSAGENT_PORT="+port,
		"POSAGENT_JOURNAL="+journalPath, "POSAGENT_GATEWAY="+gwURL)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
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
	for !killed {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("the child ended before %s\n%s", killAt, stderr.String())
			}
			f := strings.Fields(l)
			switch {
			case len(f) > 0 && f[0] == "ERR":
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("child: %s\n%s", l, stderr.String())
			case len(f) == 3 && f[0] == "STEP":
				apiID = f[2]
				killed = f[1] == killAt
			case len(f) == 3 && f[0] == "RESULT":
				if f[1] != string(sale.OutcomeApproved) || f[2] != sale.CardAccepted {
					t.Errorf("the child's result before the kill: %s", l)
				}
				killed = killAt == killAfterCard
			}
		case <-timeout:
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the child did not reach %s\n%s", killAt, stderr.String())
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if apiID == "" {
		t.Fatal("no transaction_api_id seen")
	}
	return apiID
}
