package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/gateway/gatewaytest"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/reader/sim"
	"github.com/posagent/posagent/internal/sale"
)

// Every gateway fault, injected between the agent and the sandbox: the sale
// ends approved, the gateway holds exactly one charge for it, and the
// journal has the outcome for the page.
func TestGatewayFaults(t *testing.T) {
	faults := []gatewaytest.Fault{
		gatewaytest.FaultDelayAfterCommit,
		gatewaytest.Fault500AfterCommit,
		gatewaytest.FaultResetAfterCommit,
		gatewaytest.FaultResetBeforeCommit,
		gatewaytest.Fault429,
	}
	for _, f := range faults {
		t.Run(f.String(), func(t *testing.T) {
			sb := sandbox.New(sandbox.Options{})
			proxy := gatewaytest.NewProxy(sb)
			srv := httptest.NewServer(proxy)
			defer srv.Close()
			cfg := testConfig()
			cfg.Gateway.Timeout.Duration = time.Second
			a, err := New(Options{Config: cfg, StateDir: t.TempDir(), Demo: true, SandboxURLOverride: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer a.Stop()
			for !readerReady(a) {
				time.Sleep(10 * time.Millisecond)
			}
			upd, stop := a.Engine().Subscribe()
			defer stop()
			proxy.Arm(f, func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Path == "/v2/transactions" })
			rec, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "f", Origin: "test", Amount: "4.44"})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Sim().Simulate(context.Background(), sim.SimCard{PAN: "5454545454545454", EntryMode: card.EntrySwiped}); err != nil {
				t.Fatal(err)
			}
			res := waitResult(t, upd, rec.TransactionAPIID).Result
			if res.Outcome != sale.OutcomeApproved || res.TransactionID == "" {
				t.Fatalf("outcome %s (%s)", res.Outcome, res.Error)
			}
			if n := sb.Count(); n != 1 {
				t.Fatalf("the gateway holds %d transactions after %s, want exactly 1", n, f)
			}
			got, ok, _ := a.Engine().Get(rec.TransactionAPIID)
			if !ok || got.Outcome != sale.OutcomeApproved || got.AuthCode == "" {
				t.Fatalf("journal %+v", got)
			}
			if fired := proxy.Count(func(r gatewaytest.Record) bool { return r.Fault == f }); fired != 1 {
				t.Fatalf("fault fired %d times", fired)
			}
		})
	}
}
