package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/gateway/gatewaytest"
	"github.com/posagent/posagent/internal/gateway/paidyet"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/sale"
)

// pyEnv is an agent configured with [gateway] kind = "paidyet" whose url is
// a fault proxy in front of the sandbox's PaidYET v3, plus a client that
// talks to the sandbox directly to count what the gateway holds.
type pyEnv struct {
	a      *App
	upd    <-chan sale.Update
	proxy  *gatewaytest.Proxy
	direct *paidyet.Client
}

func startPaidYET(t *testing.T) *pyEnv {
	t.Helper()
	sb := sandbox.New(sandbox.Options{})
	proxy := gatewaytest.NewProxy(sb)
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	direct := httptest.NewServer(sb)
	t.Cleanup(direct.Close)
	cfg := testConfig()
	cfg.Gateway = config.Gateway{Kind: config.GatewayPaidYET, URL: srv.URL, Subdomain: sandbox.PaidYETSubdomain,
		UserAPIKey: sandbox.PaidYETKey, Timeout: config.Duration{Duration: time.Second}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the PaidYET config does not validate: %v", err)
	}
	a, err := New(Options{Config: cfg, StateDir: t.TempDir(), Demo: true,
		ResolveBackoff: []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	upd, stop := a.Engine().Subscribe()
	t.Cleanup(stop)
	c, err := paidyet.New(paidyet.Options{BaseURL: direct.URL, Subdomain: sandbox.PaidYETSubdomain, Key: sandbox.PaidYETKey})
	if err != nil {
		t.Fatal(err)
	}
	return &pyEnv{a: a, upd: upd, proxy: proxy, direct: c}
}

func (e *pyEnv) tokenSale(t *testing.T, req engine.SaleRequest) sale.Update {
	t.Helper()
	req.ClientID, req.Origin = "s", "test"
	if req.CardToken == "" {
		req.CardToken = sandbox.PaidYETTokenApproved
	}
	rec, err := e.a.Engine().StartSale(context.Background(), req)
	if err != nil {
		t.Fatalf("token sale: %v", err)
	}
	return waitResult(t, e.upd, rec.TransactionAPIID)
}

func (e *pyEnv) lookup(t *testing.T, id string) *paidyet.Transaction {
	t.Helper()
	tx, err := e.direct.GetTransaction(context.Background(), id)
	if err != nil {
		t.Fatalf("lookup %s: %v", id, err)
	}
	return tx
}

func (e *pyEnv) count(t *testing.T, s paidyet.Search) int {
	t.Helper()
	s.PerPage = 100
	txs, _, err := e.direct.SearchTransactions(context.Background(), s)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	return len(txs)
}

// Everything v3 allows at a counter, through the engine and the real
// client against the sandbox's PaidYET v3: stored-card sale and auth,
// capture, void, refund, a decline, receipts; and a reader sale refused
// before any card is asked for.
func TestPaidYETActions(t *testing.T) {
	e := startPaidYET(t)
	ctx := context.Background()

	sold := e.tokenSale(t, engine.SaleRequest{Amount: "12.34", ReceiptEmail: "ann@example.com", ReceiptPhone: "+15555555555"}).Result
	if sold.Outcome != sale.OutcomeApproved || sold.TransactionID == "" || sold.LastFour != "2224" {
		t.Fatalf("token sale: %+v", sold)
	}
	if tx := e.lookup(t, sold.TransactionID); tx.Email != "ann@example.com" || tx.MobilePhone != "+15555555555" || !tx.SendReceipt || tx.APIID() != sold.TransactionAPIID {
		t.Errorf("the gateway got no receipt request or no transaction_api_id: %+v", tx)
	}
	if d := e.tokenSale(t, engine.SaleRequest{Amount: "5.00", CardToken: sandbox.PaidYETTokenDeclined}).Result; d.Outcome != sale.OutcomeDeclined || d.ReasonCodeID != 51 {
		t.Errorf("declined token: %+v", d)
	}

	auth := e.tokenSale(t, engine.SaleRequest{Amount: "40.00", Action: "authonly"}).Result
	if auth.Outcome != sale.OutcomeApproved {
		t.Fatalf("authonly: %+v", auth)
	}
	if r := followUp(t, e.a, e.upd, "complete", auth.TransactionID, "35.00").Result; r.Outcome != sale.OutcomeApproved {
		t.Fatalf("capture: %+v", r)
	}
	if tx := e.lookup(t, auth.TransactionID); tx.Batch == nil || tx.Amount != 3500 {
		t.Errorf("the auth was not captured for 35.00: %+v", tx)
	}
	if r := followUp(t, e.a, e.upd, "refund", sold.TransactionID, "2.34").Result; r.Outcome != sale.OutcomeApproved || r.TransactionID == "" {
		t.Fatalf("refund: %+v", r)
	}
	v := e.tokenSale(t, engine.SaleRequest{Amount: "7.00"}).Result
	if r := followUp(t, e.a, e.upd, "void", v.TransactionID, "").Result; r.Outcome != sale.OutcomeApproved {
		t.Fatalf("void: %+v", r)
	}
	if tx := e.lookup(t, v.TransactionID); tx.Status != "voided" {
		t.Errorf("void did not land: %+v", tx)
	}
	// Lookup: the journal answers for the transaction_api_id.
	if rec, ok, err := e.a.Engine().Get(sold.TransactionAPIID); !ok || err != nil || rec.TransactionID != sold.TransactionID {
		t.Errorf("lookup by transaction_api_id: %+v %v", rec, err)
	}

	// A reader sale: refused at once, saying why, before the reader is
	// armed or a record is made.
	for !readerReady(e.a) {
		time.Sleep(10 * time.Millisecond)
	}
	before := len(e.proxy.Records())
	_, err := e.a.Engine().StartSale(ctx, engine.SaleRequest{ClientID: "r", Origin: "test", Amount: "3.00", TransactionAPIID: "reader-sale-1"})
	var ee *engine.Error
	if !errors.As(err, &ee) || ee.Code != engine.CodeUnsupported || !strings.Contains(ee.Message, "e_track_data") || !strings.Contains(ee.Message, "card_token") {
		t.Fatalf("reader sale on PaidYET: %v, want unsupported naming e_track_data and card_token", err)
	}
	if _, found, _ := e.a.Engine().Get("reader-sale-1"); found {
		t.Error("a refused reader sale was journaled")
	}
	select {
	case u := <-e.upd:
		if u.Kind == sale.UpdatePrompt && u.Prompt == sale.PromptPresentCard {
			t.Errorf("the card was asked for: %+v", u)
		}
	default:
	}
	if n := len(e.proxy.Records()); n != before {
		t.Errorf("%d requests went to the gateway for a refused reader sale", n-before)
	}

	// Bad stored-card input is refused before anything is sent.
	for _, tc := range []struct {
		req  engine.SaleRequest
		code string
	}{
		// A card number is not a token: the one card-data policy refuses it.
		{engine.SaleRequest{Amount: "1.00", CardToken: "4111111111111111"}, engine.CodeCardData},
		{engine.SaleRequest{Amount: "1.00", CardToken: "tok bad/../x"}, engine.CodeInvalid},
		{engine.SaleRequest{Amount: "1.00", CardToken: strings.Repeat("t", 65)}, engine.CodeInvalid},
		{engine.SaleRequest{Amount: "1.00", CardToken: "tok_x", ReceiptEmail: "not an address"}, engine.CodeInvalid},
		{engine.SaleRequest{Amount: "1.00", CardToken: "tok_x", ReceiptPhone: "12ab"}, engine.CodeInvalid},
	} {
		req := tc.req
		req.ClientID, req.Origin = "bad", "test"
		if _, err := e.a.Engine().StartSale(ctx, req); !errors.As(err, &ee) || ee.Code != tc.code {
			t.Errorf("%+v: %v, want %s", req, err, tc.code)
		} else if strings.Contains(ee.Message, "4111111111111111") {
			t.Errorf("the refusal echoes the card number: %s", ee.Message)
		}
	}
	if n := len(e.proxy.Records()); n != before {
		t.Errorf("%d requests went to the gateway for refused input", n-before)
	}
}

// Receipts on a gateway that sends none are refused, not dropped.
func TestReceiptsRefusedWithoutGatewaySupport(t *testing.T) {
	a := startDemo(t) // Paya Connect on the sandbox
	_, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "r", Origin: "test", Amount: "1.00", ReceiptEmail: "ann@example.com"})
	var ee *engine.Error
	if !errors.As(err, &ee) || ee.Code != engine.CodeUnsupported || !strings.Contains(ee.Message, "receipt") {
		t.Fatalf("receipt on Paya: %v", err)
	}
}

// The gateway fault suite for PaidYET, every action: each fault is injected
// on the action's own request, and the gateway ends up with exactly one
// effect, or the outcome is reported unknown with what to check — never two
// effects, and no request is re-sent without proof the first did not land.
func TestPaidYETFaults(t *testing.T) {
	faults := []gatewaytest.Fault{
		gatewaytest.FaultDelayAfterCommit, gatewaytest.Fault500AfterCommit, gatewaytest.FaultResetAfterCommit,
		gatewaytest.FaultResetBeforeCommit, gatewaytest.Fault429,
	}
	committed := func(f gatewaytest.Fault) bool {
		return f != gatewaytest.FaultResetBeforeCommit && f != gatewaytest.Fault429
	}
	for _, action := range []string{"sale", "authonly", "complete", "void", "refund"} {
		for _, f := range faults {
			t.Run(action+"/"+f.String(), func(t *testing.T) {
				e := startPaidYET(t)
				var orig sale.Update
				if action == "complete" {
					orig = e.tokenSale(t, engine.SaleRequest{Amount: "20.00", Action: "authonly"})
				} else if action != "sale" && action != "authonly" {
					orig = e.tokenSale(t, engine.SaleRequest{Amount: "20.00"})
				}
				method, path := http.MethodPost, "/v3/transaction"
				switch action {
				case "complete":
					method, path = http.MethodPut, "/v3/transaction/"+orig.Result.TransactionID
				case "void":
					method, path = http.MethodPatch, "/v3/transaction/"+orig.Result.TransactionID
				case "refund":
					path = "/v3/transaction/" + orig.Result.TransactionID
				}
				isAction := func(r gatewaytest.Record) bool { return r.Method == method && r.Path == path }
				e.proxy.Arm(f, func(r *http.Request) bool { return r.Method == method && r.URL.Path == path })

				var res sale.Update
				switch action {
				case "sale", "authonly":
					res = e.tokenSale(t, engine.SaleRequest{Amount: "20.00", Action: action})
				default:
					amount := ""
					if action == "refund" {
						amount = "5.00"
					}
					res = followUp(t, e.a, e.upd, action, orig.Result.TransactionID, amount)
				}
				r := res.Result
				forwarded := e.proxy.Count(func(rec gatewaytest.Record) bool { return isAction(rec) && rec.Forwarded })
				if forwarded > 1 {
					t.Fatalf("%d %s requests reached the gateway: re-sent without proof the first did not land", forwarded, action)
				}
				// The effect at the gateway, counted directly.
				var effects int
				switch action {
				case "sale", "authonly":
					effects = e.count(t, paidyet.Search{Custom: map[string]string{"transaction_api_id": r.TransactionAPIID}})
				case "complete":
					if tx := e.lookup(t, orig.Result.TransactionID); tx.Batch != nil {
						effects = 1
					}
				case "void":
					if tx := e.lookup(t, orig.Result.TransactionID); tx.Status == "voided" {
						effects = 1
					}
				case "refund":
					effects = e.count(t, paidyet.Search{Type: "refund"})
				}
				switch r.Outcome {
				case sale.OutcomeApproved:
					if effects != 1 {
						t.Fatalf("approved, but the gateway holds %d effects", effects)
					}
				case sale.OutcomeUnknown:
					if effects > 1 {
						t.Fatalf("unknown, and the gateway holds %d effects", effects)
					}
					if !strings.Contains(r.Error, "check the gateway") || !strings.Contains(r.Error, r.TransactionAPIID) {
						t.Errorf("unknown without what to check: %q", r.Error)
					}
				default:
					t.Fatalf("outcome %s (%s): want approved, or unknown with what to check", r.Outcome, r.Error)
				}
				// What can be proven must be: a committed sale, auth, capture
				// or void shows in a lookup; a fault that provably sent
				// nothing is sent again and approved.
				provable := action != "refund"
				if committed(f) && provable && r.Outcome != sale.OutcomeApproved {
					t.Errorf("a committed %s reported %s: its lookup shows it", action, r.Outcome)
				}
				if !committed(f) && (action == "sale" || action == "authonly" || f == gatewaytest.Fault429) && r.Outcome != sale.OutcomeApproved {
					t.Errorf("%s after %s: %s, want approved (the first provably did not land)", action, f, r.Outcome)
				}
				if fired := e.proxy.Count(func(rec gatewaytest.Record) bool { return rec.Fault == f }); fired != 1 {
					t.Fatalf("fault fired %d times", fired)
				}
				t.Logf("%s after %s: %s, %d effect(s), %d forwarded", action, f, r.Outcome, effects, forwarded)
			})
		}
	}
}
