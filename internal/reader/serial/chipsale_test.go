package serial

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway/payaconnect"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// oneReader is engine.Readers over one opened reader.
type oneReader struct {
	r reader.Reader
}

func (o oneReader) Arm(ctx context.Context, _ string, t reader.Transaction) error {
	return o.r.Arm(ctx, t)
}
func (o oneReader) Cancel(ctx context.Context, _ string) error { return o.r.Cancel(ctx) }
func (o oneReader) Devices() []sale.Reader {
	in := o.r.Info()
	in.Status = sale.ReaderOK
	return []sale.Reader{in}
}

// sandboxClient is the Paya Connect client on the sandbox at url, with a
// short timeout (the sandbox's 8.03 answers after it).
func sandboxClient(url string) (*payaconnect.Client, error) {
	return payaconnect.New(payaconnect.Options{BaseURL: url, DeveloperID: sandbox.DeveloperID, UserID: sandbox.UserID,
		UserAPIKey: sandbox.UserAPIKey, LocationID: sandbox.LocationID, ProductTransactionID: sandbox.ProductCCID,
		Timeout: 500 * time.Millisecond})
}

// chipEngine is an engine on one reader with short lookups.
func chipEngine(gw *payaconnect.Client, r reader.Reader, j *journal.Journal, hook func(step, id string)) (*engine.Engine, error) {
	return engine.New(engine.Config{Gateway: gw, Readers: oneReader{r}, Journal: j, CardTimeout: time.Minute, StepHook: hook,
		ResolveBackoff: []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}})
}

// countingSandbox is the sandbox over HTTP, counting PUT
// /v2/transactions/{id} (voids and other changes).
type countingSandbox struct {
	sb   *sandbox.Sandbox
	url  string
	puts *atomic.Int32
}

func newCountingSandbox(t *testing.T) countingSandbox {
	t.Helper()
	c := countingSandbox{sb: sandbox.New(sandbox.Options{}), puts: new(atomic.Int32)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			c.puts.Add(1)
		}
		c.sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// standing counts the approved charges at the sandbox.
func (c countingSandbox) standing() int {
	n := 0
	for _, s := range c.sb.Summaries() {
		if s.StatusID == 101 {
			n++
		}
	}
	return n
}

// TestChipSaleOverPTY: chip sales end to end on the fake VP3300 over a real
// pty, through the vivopay handler, the engine, the Paya Connect client and
// the sandbox over HTTP (which decrypts the VP3300 capture with the test
// BDK). The card is told the gateway's answer (8A) before the sale is
// reported: 00 for an approval, 05 for a decline, Z3 (unable to go online)
// when the gateway's answer is lost, after which the lookup decides. A card
// that declines an approval at the second GENERATE AC has the sale voided
// at the sandbox — one void request, the sale's result declined with
// card_declined_after_approval — and a gateway decline is never voided. A
// fallback swipe (9F39 80) goes out as entry mode F, with no completion.
func TestChipSaleOverPTY(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		secondAC byte
		amount   string
		outcome  sale.Outcome
		told     []string
		voided   bool
		entry    string
	}{
		{"approved, completed by the card", "chip", 0x40, "12.50", sale.OutcomeApproved, []string{"00"}, false, "C"},
		{"approved, card declines at completion: voided", "chip", 0x00, "12.50", sale.OutcomeDeclined, []string{"00"}, true, "C"},
		{"gateway declines: card told 05", "chip", 0x40, "5.00", sale.OutcomeDeclined, []string{"05"}, false, "C"},
		// 8.03: the sandbox answers after 3 s, past the client's timeout:
		// the answer is lost, the card hears Z3, the lookup finds the
		// decline the sandbox committed first.
		{"gateway timeout: unable to go online, then lookup", "chip", 0x40, "8.03", sale.OutcomeDeclined, []string{"Z3"}, false, "C"},
		{"no auto-authenticate", "chip-auth", 0x40, "12.50", sale.OutcomeApproved, []string{"00"}, false, "C"},
		{"fallback swipe", "fallback", 0x40, "12.50", sale.OutcomeApproved, nil, false, "F"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newContactRig(t, time.Hour, &fakeVP3300{scenarios: []string{tc.scenario}, secondAC: tc.secondAC})
			gwSrv := newCountingSandbox(t)
			gw, err := sandboxClient(gwSrv.url)
			if err != nil {
				t.Fatal(err)
			}
			j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), nil)
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
			rec, err := e.StartSale(context.Background(), engine.SaleRequest{ClientID: "s1", Origin: "test", Amount: tc.amount})
			if err != nil {
				t.Fatal(err)
			}
			var prompts []sale.Prompt
			var res *sale.Result
			deadline := time.After(20 * time.Second)
			for {
				var u sale.Update
				select {
				case u = <-upd:
				case <-deadline:
					t.Fatalf("no result; prompts %v, reader saw %s", prompts, c.commands())
				}
				if u.TransactionAPIID != rec.TransactionAPIID {
					continue
				}
				switch u.Kind {
				case sale.UpdatePrompt:
					prompts = append(prompts, u.Prompt)
				case sale.UpdateWarning:
					t.Errorf("warning %s: %s", u.Code, u.Warning)
				}
				if u.Kind != sale.UpdateResult || u.Result.Outcome == sale.OutcomeUnknown {
					continue
				}
				// The card was told before the sale was reported.
				if got := c.arcs(); !slices.Equal(got, tc.told) {
					t.Errorf("when the result came the card had been told %v, want %v", got, tc.told)
				}
				if u.Result.Outcome != tc.outcome || u.Result.EntryMode != tc.entry {
					t.Errorf("result %s entry %s, want %s %s", u.Result.Outcome, u.Result.EntryMode, tc.outcome, tc.entry)
				}
				res = u.Result
				break
			}
			e.Close(5 * time.Second)
			standing := gwSrv.standing()
			wantVoids, wantStanding := 0, 0
			if tc.outcome == sale.OutcomeApproved {
				wantStanding = 1
			}
			if tc.voided {
				wantVoids = 1
				if res.Code != engine.CodeCardDeclinedAfterApproval || res.VoidAPIID == "" {
					t.Errorf("result code %q void %q", res.Code, res.VoidAPIID)
				}
			}
			if int(gwSrv.puts.Load()) != wantVoids || standing != wantStanding {
				t.Errorf("voids at the sandbox %d, approved charges standing %d; want %d %d", gwSrv.puts.Load(), standing, wantVoids, wantStanding)
			}
			wantRemove := tc.told != nil
			if slices.Contains(prompts, sale.PromptRemoveCard) != wantRemove || !slices.Contains(prompts, sale.PromptProcessing) {
				t.Errorf("prompts %v", prompts)
			}
		})
	}
}
