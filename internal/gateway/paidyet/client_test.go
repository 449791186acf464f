package paidyet

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/gatewaytest"
)

func testClient(t testing.TB, url string, mod ...func(*Options)) *Client {
	t.Helper()
	o := Options{BaseURL: url, Subdomain: fakeSubdomain, Key: fakeKey, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// start serves a fake on a fake clock shared with the client.
func start(t testing.TB) (*fake, *fakeClock, *Client) {
	clk := newFakeClock()
	f := newFake(clk.Now)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, clk, testClient(t, srv.URL, func(o *Options) { o.Clock = clk })
}

func TestNew(t *testing.T) {
	tests := []struct {
		opts Options
		ok   bool
		base string
	}{
		{Options{BaseURL: "https://api.sandbox-paidyet.com", Subdomain: "s", Key: "k"}, true, "https://api.sandbox-paidyet.com/v3"},
		{Options{BaseURL: "https://api.paidyet.com/v3/", Subdomain: "s", Key: "k"}, true, "https://api.paidyet.com/v3"},
		{Options{BaseURL: "http://127.0.0.1:7380", Subdomain: "s", Key: "k"}, true, "http://127.0.0.1:7380/v3"},
		{Options{BaseURL: "http://api.paidyet.com", Subdomain: "s", Key: "k"}, false, ""},
		{Options{BaseURL: "https://api.paidyet.com", Key: "k"}, false, ""},
		{Options{BaseURL: "https://api.paidyet.com", Subdomain: "s", Key: "k", Timeout: -1}, false, ""},
	}
	for _, tt := range tests {
		c, err := New(tt.opts)
		if (err == nil) != tt.ok {
			t.Errorf("New(%+v): %v", tt.opts.BaseURL, err)
			continue
		}
		if err == nil && c.base != tt.base {
			t.Errorf("base %q, want %q", c.base, tt.base)
		}
	}
}

// TestCardPresentRefused: PaidYET v3 has no encrypted-track field, so a
// read is refused before anything is sent, with an error naming why.
func TestCardPresentRefused(t *testing.T) {
	f, _, c := start(t)
	read := &card.Read{Envelope: card.Envelope{Format: card.FormatIDTech, Data: "02BD01"}, EntryMode: card.EntrySwiped}
	_, err := c.Do(context.Background(), gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: read, TransactionAPIID: "cp1"})
	if !errors.Is(err, ErrCardPresent) || !errors.Is(err, gateway.ErrUnsupported) || !gateway.IsInvalid(err) {
		t.Fatalf("card-present sale: %v", err)
	}
	if !strings.Contains(err.Error(), "e_track_data") || !strings.Contains(err.Error(), "PaidYET") {
		t.Errorf("message does not name the limitation: %v", err)
	}
	if len(f.requests) != 0 {
		t.Errorf("%d requests sent", len(f.requests))
	}
	if c.Capabilities().EncryptedCardPresent || c.Capabilities().Accepts(card.FormatIDTech) {
		t.Error("capabilities claim encrypted card-present support")
	}
}

func TestSaleFlow(t *testing.T) {
	f, _, c := start(t)
	ctx := context.Background()
	cc, err := c.TokenizeCard(ctx, cardApproved, "09/30", "")
	if err != nil {
		t.Fatal(err)
	}
	if cc.Token == "" || strings.Contains(cc.Number, cardApproved[6:12]) || card.MaskedPAN(cc.Number).LastFour() != "2224" {
		t.Errorf("tokenized card %+v", cc)
	}
	got, err := c.GetCard(ctx, cc.Token)
	if err != nil || got.Token != cc.Token {
		t.Errorf("GetCard: %+v %v", got, err)
	}
	sale, err := c.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 1234, Token: cc.Token, TransactionAPIID: "py1", OrderNum: "A1"})
	if err != nil {
		t.Fatal(err)
	}
	body := f.bodies[len(f.bodies)-1]
	if body["type"] != "sale" || body["amount"] != 12.34 || body["external_id"] != "py1" {
		t.Errorf("sale body %v", body)
	}
	if cf, _ := body["custom_fields"].([]any); len(cf) != 1 {
		t.Errorf("custom fields %v", body["custom_fields"])
	}
	if !sale.Approved() || sale.Amount != 1234 || sale.LastFour != "2224" || sale.TransactionAPIID != "py1" || sale.EntryMode != card.EntryKeyed {
		t.Errorf("sale %+v", sale)
	}
	auth, err := c.Do(ctx, gateway.Request{Action: gateway.ActionAuthOnly, Amount: 5000, Token: cc.Token, TransactionAPIID: "py2"})
	if err != nil || f.bodies[len(f.bodies)-1]["type"] != "auth" {
		t.Fatalf("auth: %v %v", err, f.bodies[len(f.bodies)-1])
	}
	tests := []struct {
		req    gateway.Request
		method string
		path   string
		body   map[string]any
		status string
	}{
		{gateway.Request{Action: gateway.ActionAuthComplete, TransactionID: auth.ID, Amount: 4000}, "PUT", "/v3/transaction/" + auth.ID,
			map[string]any{"type": "capture", "amount": 40.0}, "approved"},
		{gateway.Request{Action: gateway.ActionVoid, TransactionID: sale.ID}, "PATCH", "/v3/transaction/" + sale.ID,
			map[string]any{"type": "void"}, "voided"},
		{gateway.Request{Action: gateway.ActionRefund, TransactionID: sale.ID, Amount: 1234, TransactionAPIID: "py3"}, "POST", "/v3/transaction/" + sale.ID,
			map[string]any{"type": "refund", "amount": 12.34, "external_id": "py3"}, "approved"},
	}
	for _, tt := range tests {
		res, err := c.Do(ctx, tt.req)
		if err != nil {
			t.Errorf("%s: %v", tt.req.Action, err)
			continue
		}
		if got := f.requests[len(f.requests)-1]; got != tt.method+" "+tt.path {
			t.Errorf("%s sent %s, want %s %s", tt.req.Action, got, tt.method, tt.path)
		}
		body := f.bodies[len(f.bodies)-1]
		for k, v := range tt.body {
			if body[k] != v {
				t.Errorf("%s: body %s = %v, want %v", tt.req.Action, k, body[k], v)
			}
		}
		if res.Status != tt.status {
			t.Errorf("%s: status %q, want %q", tt.req.Action, res.Status, tt.status)
		}
	}
	if _, ok := f.bodies[len(f.bodies)-3]["amount"]; !ok {
		t.Error("capture without amount")
	}
	// Lookup and search.
	got2, err := c.Lookup(ctx, sale.ID)
	if err != nil || got2.Status != "voided" {
		t.Errorf("lookup after void: %+v %v", got2, err)
	}
	txs, _, err := c.SearchTransactions(ctx, Search{Status: "approved"})
	if err != nil || len(txs) == 0 {
		t.Errorf("search: %d %v", len(txs), err)
	}
}

func TestValidation(t *testing.T) {
	f, _, c := start(t)
	tests := []struct {
		name  string
		req   gateway.Request
		field string
		kind  error
	}{
		{"zero sale", gateway.Request{Action: gateway.ActionSale, Token: "t"}, "amount", nil},
		{"no token", gateway.Request{Action: gateway.ActionSale, Amount: 100}, "credit_card.token", nil},
		{"refund no id", gateway.Request{Action: gateway.ActionRefund, Amount: 100}, "id", nil},
		{"refund zero", gateway.Request{Action: gateway.ActionRefund, TransactionID: "1"}, "amount", nil},
		{"bad id", gateway.Request{Action: gateway.ActionVoid, TransactionID: "../x"}, "id", nil},
		{"long api id", gateway.Request{Action: gateway.ActionSale, Amount: 1, Token: "t", TransactionAPIID: strings.Repeat("x", 65)}, "transaction_api_id", nil},
		{"force", gateway.Request{Action: gateway.ActionForce, Amount: 1}, "", gateway.ErrUnsupported},
		{"ach", gateway.Request{Action: gateway.ActionSale, Amount: 1, Token: "t", ACH: &gateway.ACHAccount{}}, "", gateway.ErrUnsupported},
	}
	for _, tt := range tests {
		_, err := c.Do(context.Background(), tt.req)
		if !gateway.IsInvalid(err) {
			t.Errorf("%s: %v, want invalid", tt.name, err)
			continue
		}
		if tt.kind != nil && !errors.Is(err, tt.kind) {
			t.Errorf("%s: %v is not %v", tt.name, err, tt.kind)
		}
		if tt.field != "" {
			fe := gateway.FieldErrors(err)
			if len(fe) == 0 || fe[0].Field != tt.field {
				t.Errorf("%s: fields %v, want %s", tt.name, fe, tt.field)
			}
		}
	}
	for _, tc := range []struct{ num, exp string }{{"4000100011112225", "09/30"}, {cardApproved, "13/30"}, {cardApproved, "0930"}} {
		_, err := c.TokenizeCard(context.Background(), tc.num, tc.exp, "")
		if !gateway.IsInvalid(err) || strings.Contains(err.Error(), tc.num) {
			t.Errorf("tokenize %s %s: %v", tc.num[12:], tc.exp, err)
		}
	}
	if len(f.requests) != 0 {
		t.Errorf("invalid requests were sent: %v", f.requests)
	}
}

func TestTokenRefreshBeforeExp(t *testing.T) {
	f, clk, c := start(t)
	f.ttl = 10 * time.Minute
	tok := f.addCard(cardApproved)
	ctx := context.Background()
	sale := func() {
		t.Helper()
		if _, err := c.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 100, Token: tok, TransactionAPIID: gatewaytest.NewAPIID()}); err != nil {
			t.Fatal(err)
		}
	}
	sale()
	sale()
	if f.logins != 1 {
		t.Fatalf("%d logins for two calls, want 1", f.logins)
	}
	clk.Advance(8 * time.Minute) // 2 min left: still valid
	sale()
	if f.logins != 1 {
		t.Errorf("logged in again with 2 minutes left")
	}
	clk.Advance(90 * time.Second) // 30 s left: inside the refresh margin
	sale()
	if f.logins != 2 {
		t.Errorf("%d logins, want a refresh before exp", f.logins)
	}
	if n := strings.Count(strings.Join(f.requests, "\n"), "POST /v3/transaction"); n != 4 {
		t.Errorf("%d sales reached the server, want 4 (none refused and re-sent)", n)
	}
}

func TestTokenRefreshOn401(t *testing.T) {
	f, _, c := start(t)
	tok := f.addCard(cardApproved)
	ctx := context.Background()
	if _, err := c.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 100, Token: tok, TransactionAPIID: "r1"}); err != nil {
		t.Fatal(err)
	}
	// The server forgets every token (a restart, a revocation).
	f.mu.Lock()
	clear(f.tokens)
	f.mu.Unlock()
	n := len(f.txs)
	res, err := c.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 200, Token: tok, TransactionAPIID: "r2"})
	if err != nil || !res.Approved() {
		t.Fatalf("after revocation: %v", err)
	}
	if f.logins != 2 || len(f.txs) != n+1 {
		t.Errorf("logins %d (want 2), transactions +%d (want 1)", f.logins, len(f.txs)-n)
	}
	// Wrong credentials: the re-login fails, reported as refused, once.
	bad := testClient(t, strings.TrimSuffix(c.base, "/v3"), func(o *Options) { o.Key = "wrong"; o.Clock = c.clock })
	_, err = bad.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 100, Token: tok, TransactionAPIID: "r3"})
	if !errors.Is(err, gateway.ErrUnauthorized) || !gateway.IsRejected(err) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad key: %v", err)
	}
}

// TestPacing: 200 calls on a fake clock. No 60 s window may hold more than
// 75 calls, the server must never answer 429, and the waits must add up to
// what the limit demands (not more than needed).
func TestPacing(t *testing.T) {
	f, clk, c := start(t)
	ctx := context.Background()
	const calls = 200
	for i := 0; i < calls; i++ {
		if _, err := c.GetCard(ctx, f.addCard(cardApproved)); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if f.rejected != 0 {
		t.Errorf("server answered 429 %d times", f.rejected)
	}
	for i := DefaultPerMinute; i < len(f.calls); i++ {
		if d := f.calls[i].Sub(f.calls[i-DefaultPerMinute]); d < time.Minute {
			t.Fatalf("calls %d and %d only %v apart: more than %d in a minute", i-DefaultPerMinute, i, d, DefaultPerMinute)
		}
	}
	// 201 calls (login included) at 75 a minute need two full waits.
	var total time.Duration
	for _, d := range clk.slept {
		total += d
	}
	if total != 2*time.Minute {
		t.Errorf("waited %v in total, want 2m0s", total)
	}
}

func TestPacerDayAndContext(t *testing.T) {
	clk := newFakeClock()
	p := NewPacer(clk, 1000, 3)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(clk.slept) != 0 {
		t.Fatalf("slept %v under the limit", clk.slept)
	}
	start := clk.Now()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := clk.Now().Sub(start); got != 24*time.Hour {
		t.Errorf("fourth call of the day waited %v, want 24h", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	p2 := NewPacer(clk, 1, 10)
	_ = p2.Wait(ctx)
	if err := p2.Wait(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

func TestStatusMapping(t *testing.T) {
	tests := []struct {
		status int
		body   string
		method string
		class  gateway.Class
	}{
		{422, `{"messages":{"error":[{"code":3,"content":"Invalid amount"}]}}`, "POST", gateway.Rejected},
		{403, `{}`, "POST", gateway.Rejected},
		{404, `{}`, "GET", gateway.Rejected},
		{429, `{}`, "POST", gateway.Retryable},
		{500, `{}`, "POST", gateway.Ambiguous},
		{503, `{}`, "GET", gateway.Retryable},
		{200, `garbage`, "POST", gateway.Ambiguous},
		{200, `{"payload":{"items":[]}}`, "POST", gateway.Ambiguous},
		{200, `{"payload":{"items":[{"id":7,"status":"weird"}]}}`, "POST", gateway.Ambiguous},
		{200, `{"payload":{"items":[{"id":7,"status":"declined","decline_code":"51"}]},"messages":{"error":"Insufficient Funds"}}`, "POST", gateway.Declined},
		{200, `{"payload":{"items":[{"id":7,"error":true}]}}`, "POST", gateway.Declined},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v3/login" {
				_, _ = w.Write([]byte(`{"status":"OK","result":{"token":"t","exp":4000000000}}`))
				return
			}
			w.WriteHeader(tt.status)
			_, _ = w.Write([]byte(tt.body))
		}))
		c := testClient(t, srv.URL)
		var err error
		var res *gateway.Result
		if tt.method == "GET" {
			res, err = c.Lookup(context.Background(), "7")
		} else {
			res, err = c.Do(context.Background(), gateway.Request{Action: gateway.ActionSale, Amount: 100, Token: "t", TransactionAPIID: "m"})
		}
		srv.Close()
		if got := gateway.ClassOf(err); err == nil || got != tt.class {
			t.Errorf("%d %s: %v (class %v), want %v", tt.status, tt.body, err, got, tt.class)
		}
		if tt.class == gateway.Declined && (res == nil || res.Outcome != gateway.OutcomeDeclined) {
			t.Errorf("decline result %+v", res)
		}
		if tt.status == 200 && strings.Contains(tt.body, "51") && (res == nil || res.ReasonCode != 51 || !strings.Contains(err.Error(), "Insufficient")) {
			t.Errorf("decline code/message lost: %+v %v", res, err)
		}
	}
}

func TestLoginShapes(t *testing.T) {
	tests := []struct {
		body string
		tok  string
		exp  int64
		err  bool
	}{
		{`{"status":"OK","result":{"status":"success","message":"login successful","token":"1sd24rsdf2wsdfsq","exp":1648503842}}`, "1sd24rsdf2wsdfsq", 1648503842, false},
		{`{"messages":{},"payload":{"type":"Authentication","items":[{"token":"abc","exp":"1648503842"}]}}`, "abc", 1648503842, false},
		{`{"token":"flat"}`, "flat", 0, false},
		{`{"status":"OK","result":{"status":"fail"}}`, "", 0, true},
		{`{"token":"x","exp":"soon"}`, "", 0, true},
		{`[]`, "", 0, true},
	}
	for _, tt := range tests {
		tok, exp, err := decodeLogin([]byte(tt.body))
		if (err != nil) != tt.err || tok != tt.tok || exp != tt.exp {
			t.Errorf("decodeLogin(%s) = %q %d %v", tt.body, tok, exp, err)
		}
	}
}

func TestLogsNoSecrets(t *testing.T) {
	clk := newFakeClock()
	f := newFake(clk.Now)
	srv := httptest.NewServer(f)
	defer srv.Close()
	var buf bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := testClient(t, srv.URL, func(o *Options) { o.Clock = clk; o.Logger = lg })
	cc, err := c.TokenizeCard(context.Background(), cardApproved, "09/30", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), gateway.Request{Action: gateway.ActionSale, Amount: 100, Token: cc.Token, TransactionAPIID: "lg1"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{cardApproved, fakeKey, "bearer1"} {
		if strings.Contains(out, s) {
			t.Errorf("log contains %q", s)
		}
	}
	if !strings.Contains(out, `"path":"/v3/transaction"`) || !strings.Contains(out, `"transaction_api_id":"lg1"`) {
		t.Errorf("log lacks request lines: %s", out)
	}
}
