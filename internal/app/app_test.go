package app

import (
	"context"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/reader/sim"
	"github.com/posagent/posagent/internal/sale"
)

func startDemo(t *testing.T) *App {
	t.Helper()
	a, err := New(Options{Config: testConfig(), StateDir: t.TempDir(), Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	// Wait for the sim reader to attach.
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, in := range a.Manager().Devices() {
			if in.Status == sale.ReaderOK {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the simulated reader never attached")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitResult(t *testing.T, upd <-chan sale.Update, apiID string) sale.Update {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case u := <-upd:
			if u.Kind == sale.UpdateResult && u.TransactionAPIID == apiID {
				return u
			}
		case <-deadline:
			t.Fatalf("no result for %s", apiID)
		}
	}
}

// Sim reader -> engine -> Paya Connect client -> embedded sandbox over real
// HTTP, for every entry mode, approvals and declines by amount.
func TestDemoEndToEnd(t *testing.T) {
	a := startDemo(t)
	upd, stop := a.Engine().Subscribe()
	defer stop()
	tests := []struct {
		amount  string
		pan     string
		mode    card.EntryMode
		outcome sale.Outcome
		reason  int
	}{
		{"12.34", "4111111111111111", card.EntrySwiped, sale.OutcomeApproved, 1000},
		{"7.00", "5454545454545454", card.EntryChip, sale.OutcomeApproved, 1000},
		{"3.50", "371449635398431", card.EntryProximity, sale.OutcomeApproved, 1000},
		{"3.75", "4111111111111111", card.EntryProximity, sale.OutcomeApproved, 1000},
		{"3.80", "371449635398431", card.EntryChip, sale.OutcomeApproved, 1000},
		{"2.25", "6011000995500000", card.EntryFallback, sale.OutcomeApproved, 1000},
		{"6.16", "4111111111111111", card.EntrySwiped, sale.OutcomeDeclined, 1616},
		{"5.00", "5454545454545454", card.EntryChip, sale.OutcomeDeclined, 1500},
	}
	for _, tc := range tests {
		rec, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "t", Origin: "test", Amount: tc.amount})
		if err != nil {
			t.Fatalf("%s: %v", tc.amount, err)
		}
		if err := a.Sim().Simulate(context.Background(), sim.SimCard{PAN: tc.pan, EntryMode: tc.mode}); err != nil {
			t.Fatalf("simulate %s: %v", tc.mode, err)
		}
		res := waitResult(t, upd, rec.TransactionAPIID).Result
		if res.Outcome != tc.outcome || res.ReasonCodeID != tc.reason || res.EntryMode != string(tc.mode) {
			t.Errorf("%s %s: outcome %s reason %d entry %s (%s), want %s %d", tc.amount, tc.mode, res.Outcome, res.ReasonCodeID, res.EntryMode, res.Error, tc.outcome, tc.reason)
		}
		if res.LastFour != tc.pan[len(tc.pan)-4:] || res.TransactionID == "" {
			t.Errorf("%s: last four %q id %q", tc.amount, res.LastFour, res.TransactionID)
		}
	}
}

// testConfig is the demo config on a free port, so tests run side by side.
func testConfig() *config.Config {
	c := config.Default()
	c.Listen = "127.0.0.1:0"
	return c
}
