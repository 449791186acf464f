package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/reader/serial/serialtest"
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

// testKeyHosts are the gateway hosts a test-key read is tried on: Paya's
// sandbox host takes it, the production host refuses it and names itself.
var testKeyHosts = []struct {
	url  string
	live bool
}{
	{"https://api.sandbox.payaconnect.com", false},
	{"https://api.payaconnect.com", true},
}

// A reader keyed with the public test key (the simulator's, like an ID
// TECH or MagTek demo reader) is refused only on a live gateway host, and
// the refusal names it; on Paya's sandbox host its read reaches the gateway.
func TestTestKeyReadsByGatewayHost(t *testing.T) {
	for _, tc := range testKeyHosts {
		t.Run(tc.url, func(t *testing.T) {
			testKeySale(t, tc.url, tc.live, config.Reader{Kind: config.ReaderSim}, func(a *App) error {
				return a.Sim().Simulate(context.Background(), sim.SimCard{PAN: "5454545454545454", EntryMode: card.EntrySwiped})
			})
		})
	}
}

// The same with real parts on the reader side: an ID TECH SecureMag
// keyed with the public test key, on a pseudo-terminal behind a stable
// path, read by the agent's serial driver as [[readers]] kind = "serial",
// protocol = "idtech". Its encrypted frame goes to Paya's sandbox host and
// is refused, before any request, on the production host.
func TestTestKeySerialReaderByGatewayHost(t *testing.T) {
	for _, tc := range testKeyHosts {
		t.Run(tc.url, func(t *testing.T) {
			link := filepath.Join(t.TempDir(), "ttyREADER")
			port, err := serialtest.Plug(link)
			if err != nil {
				t.Skipf("no pseudo-terminals here: %v", err)
			}
			t.Cleanup(port.Close)
			cards, err := serialtest.NewIDTechCard(serialtest.DemoKSN, "DEMO0001")
			if err != nil {
				t.Fatal(err)
			}
			rd := config.Reader{Kind: config.ReaderSerial, Path: link, Protocol: config.ProtocolIDTech, Baud: 9600}
			testKeySale(t, tc.url, tc.live, rd, func(*App) error {
				frame, err := cards.Next()
				if err != nil {
					return err
				}
				defer clear(frame)
				_, err = port.Write(frame)
				return err
			})
		})
	}
}

// testKeySale runs one sale on a Paya config for gatewayURL with reader rd,
// its requests redirected to a local sandbox that counts the sales posted
// to it. swipe presents a test-key card once the reader asks for one. On a
// live host the read must be refused with the host named and nothing
// posted; elsewhere exactly one sale is posted and approved.
func testKeySale(t *testing.T, gatewayURL string, live bool, rd config.Reader, swipe func(*App) error) {
	t.Helper()
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
	cfg.Gateway = config.Gateway{Kind: config.GatewayPaya, URL: gatewayURL, DeveloperID: sandbox.DeveloperID,
		UserID: sandbox.UserID, UserAPIKey: sandbox.UserAPIKey, LocationID: sandbox.LocationID,
		ProductTransactionID: sandbox.ProductCCID, Timeout: config.Duration{Duration: 10 * time.Second}}
	cfg.Readers = []config.Reader{rd}
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
	swiped := false
	for u := range upd {
		if u.TransactionAPIID != rec.TransactionAPIID {
			continue
		}
		if u.Kind == sale.UpdatePrompt && u.Prompt == sale.PromptPresentCard && !swiped {
			swiped = true
			if err := swipe(a); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if u.Kind == sale.UpdateWarning && u.Code == "test_key" {
			if !live {
				t.Fatalf("test-key read refused on %s: %s", gatewayURL, u.Warning)
			}
			if !strings.Contains(u.Warning, "api.payaconnect.com") {
				t.Errorf("the refusal does not name the host: %s", u.Warning)
			}
			break
		}
		if u.Kind == sale.UpdateResult {
			if live {
				t.Fatalf("a test-key read went to the live host: %+v", u.Result)
			}
			if u.Result.Outcome != sale.OutcomeApproved {
				t.Fatalf("result %+v", u.Result)
			}
			// The configured reader read the card, not some other one.
			if !strings.HasPrefix(u.Result.ReaderID, rd.Kind+":") {
				t.Errorf("read by %q, want a %s reader", u.Result.ReaderID, rd.Kind)
			}
			break
		}
	}
	if !swiped {
		t.Fatal("the reader never asked for the card")
	}
	want := int32(1)
	if live {
		want = 0
	}
	if n := sales.Load(); n != want {
		t.Errorf("%d sales reached the gateway, want %d", n, want)
	}
}
