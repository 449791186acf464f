package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/ui"
)

// The cashier window's backend on a real demo agent: a sale through it
// reaches the sandbox and comes back approved with a masked card only.
func TestUIBackendSale(t *testing.T) {
	a := startDemo(t)
	b := a.UIBackend()
	if st := b.Status(); len(st.Readers) != 1 || st.Readers[0].Status != sale.ReaderOK || st.Gateway.Kind != "sandbox" || st.AgentURL == "" {
		t.Fatalf("status %+v", st)
	}
	ev, stop := b.Updates()
	defer stop()
	id, err := b.Sale(context.Background(), "sale", "12.00", ui.SaleFields{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Simulator().Simulate(context.Background(), "4111111111111111", "S"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.Kind != ui.EventResult || e.SaleID != id {
				continue
			}
			r := e.Result
			if r.Outcome != sale.OutcomeApproved || r.MaskedPAN != "4111********1111" || r.StatusID != 101 || r.AuthCode == "" {
				t.Fatalf("result %+v", r)
			}
			h := b.History("1111")
			if len(h) != 1 || h[0].SaleID != id {
				t.Fatalf("history %+v", h)
			}
			// Searchable through the indexes: amount, gateway id, date.
			for _, q := range []string{"12.00", "$12", r.TransactionID, time.Now().Format("2006-01-02")} {
				if h := b.History(q); len(h) == 0 || h[0].SaleID != id {
					t.Errorf("history %q: %+v", q, h)
				}
			}
			if h := b.History("9999"); len(h) != 0 {
				t.Errorf("history 9999: %+v", h)
			}
			// The window has shown the result: it is acknowledged, so it
			// does not wait for a client forever and retention can move it.
			if un, err := a.Engine().Unacked(""); err != nil || len(un) != 0 {
				t.Errorf("a window sale the window has shown is unacknowledged: %d %v", len(un), err)
			}
			var ve *ui.ValidationError
			if err := b.SaveSettings(b.Settings()); !errors.As(err, &ve) {
				t.Fatalf("the demo must refuse to save settings: %v", err)
			}
			if err := b.SetPaused(true); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Sale(context.Background(), "sale", "1.00", ui.SaleFields{}); err == nil {
				t.Fatal("a paused agent took a sale")
			}
			return
		case <-deadline:
			t.Fatal("no result")
		}
	}
}
