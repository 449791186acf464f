package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/reader/sim"
	"github.com/posagent/posagent/internal/sale"
)

// redirect sends every request, whatever its URL, to target: the agent
// believes it talks to the configured host and reaches a local sandbox.
type redirect struct{ target *url.URL }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host = r.target.Scheme, r.target.Host
	return http.DefaultTransport.RoundTrip(out)
}

// A reader keyed with the public test key (the simulator's, like an ID
// TECH or MagTek demo reader) is refused only on a live gateway host, and
// the refusal names it; on Paya's sandbox host its read reaches the gateway.
func TestTestKeyReadsByGatewayHost(t *testing.T) {
	for _, tc := range []struct {
		url  string
		live bool
	}{
		{"https://api.sandbox.payaconnect.com", false},
		{"https://api.payaconnect.com", true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			var sales atomic.Int32
			sb := sandbox.New(sandbox.Options{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == "/v2/transactions" {
					sales.Add(1)
				}
				sb.ServeHTTP(w, r)
			}))
			defer srv.Close()
			target, _ := url.Parse(srv.URL)
			cfg := testConfig()
			cfg.Gateway = config.Gateway{Kind: config.GatewayPaya, URL: tc.url, DeveloperID: sandbox.DeveloperID,
				UserID: sandbox.UserID, UserAPIKey: sandbox.UserAPIKey, LocationID: sandbox.LocationID,
				ProductTransactionID: sandbox.ProductCCID, Timeout: config.Duration{Duration: 10 * time.Second}}
			cfg.Readers = []config.Reader{{Kind: config.ReaderSim}}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			a, err := New(Options{Config: cfg, StateDir: t.TempDir(), GatewayTransport: redirect{target}})
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
			rec, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "k", Origin: "test", Amount: "4.00"})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Sim().Simulate(context.Background(), sim.SimCard{PAN: "5454545454545454", EntryMode: card.EntrySwiped}); err != nil {
				t.Fatal(err)
			}
			for u := range upd {
				if u.TransactionAPIID != rec.TransactionAPIID {
					continue
				}
				if u.Kind == sale.UpdateWarning && u.Code == "test_key" {
					if !tc.live {
						t.Fatalf("test-key read refused on %s: %s", tc.url, u.Warning)
					}
					if !strings.Contains(u.Warning, "api.payaconnect.com") {
						t.Errorf("the refusal does not name the host: %s", u.Warning)
					}
					break
				}
				if u.Kind == sale.UpdateResult {
					if tc.live {
						t.Fatalf("a test-key read went to the live host: %+v", u.Result)
					}
					if u.Result.Outcome != sale.OutcomeApproved {
						t.Fatalf("result %+v", u.Result)
					}
					break
				}
			}
			want := int32(1)
			if tc.live {
				want = 0
			}
			if n := sales.Load(); n != want {
				t.Errorf("%d sales reached the gateway, want %d", n, want)
			}
		})
	}
}
