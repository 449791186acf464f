package sandbox

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PaidYET v3 test cards (seed 003, gateway-sandbox.md).
var pyCardsClear = []struct {
	number  string
	approve bool
	code    int
	message string
}{
	{"4000100011112224", true, 0, "Approved"},
	{"4000100111112223", true, 0, "Approved"},
	{"4000100211112222", true, 0, "Approved"},
	{"4000100311112221", true, 0, "Approved"},
	{"4000100611112220", true, 0, "Approved"},
	{"4000300011112220", false, 0, "Declined"},
	{"4000300001112222", false, 4, "Pickup Card"},
	{"4000300211112228", false, 5, "Do Not Honor"},
	{"4000300311112227", false, 12, "Invalid transaction"},
	{"4000300411112226", false, 15, "Invalid Issuer"},
	{"4000300511112225", false, 25, "Unable to locate Record"},
	{"4000300611112224", false, 51, "Insufficient Funds"},
	{"4000300711112223", false, 55, "Invalid Pin"},
	{"4000300811112222", false, 57, "Transaction Not Permitted"},
	{"4000300911112221", false, 62, "Restricted Card"},
	{"4000301011112228", false, 65, "Excess withdrawal count"},
	{"4000301111112227", false, 75, "Allowable number of pin tries exceeded"},
	{"4000301211112226", false, 78, "No checking account"},
	{"4000301311112225", false, 97, "CVV failure"},
}

// TestPaidYETCardTable proves the hashed table in cards.go against the
// clear numbers, in both directions.
func TestPaidYETCardTable(t *testing.T) {
	if len(pyTestCards) != len(pyCardsClear) {
		t.Errorf("table has %d cards, want %d", len(pyTestCards), len(pyCardsClear))
	}
	for _, c := range pyCardsClear {
		got, ok := pyTestCards[panHash(c.number)]
		if !ok || got.approve != c.approve || got.code != c.code || got.message != c.message {
			t.Errorf("%s…%s: got %+v (found %v)", c.number[:6], c.number[12:], got, ok)
		}
	}
}

func (h *harness) login(sub, key string) (int, map[string]any) {
	h.t.Helper()
	code, raw := h.do(http.MethodPost, "/v3/login", map[string]string{"subdomain": sub, "key": key}, nil)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		h.t.Fatal(err)
	}
	return code, m
}

func (h *harness) token() string {
	h.t.Helper()
	code, m := h.login(PaidYETSubdomain, PaidYETKey)
	res, _ := m["result"].(map[string]any)
	if code != 200 || str(m, "status") != "OK" || str(res, "token") == "" {
		h.t.Fatalf("login: %d %v", code, m)
	}
	if exp := int64(res["exp"].(float64)); exp != h.clock.Now().Add(time.Hour).Unix() {
		h.t.Errorf("exp %d, want now + 1h", exp)
	}
	return str(res, "token")
}

// py sends a v3 request with a bearer token and decodes the ApiResponse.
func (h *harness) py(tok, method, path string, body any) (int, apiResponse, []map[string]any) {
	h.t.Helper()
	hdr := map[string]string{}
	if tok != "" {
		hdr["Authorization"] = "Bearer " + tok
	}
	code, raw := h.do(method, path, body, hdr)
	var resp apiResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		h.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
	var items []map[string]any
	for _, it := range resp.Payload.Items {
		m, _ := it.(map[string]any)
		items = append(items, m)
	}
	if resp.Messages.Error == nil || resp.Messages.Info == nil || resp.Messages.Warning == nil {
		h.t.Errorf("%s %s: messages lists must be present: %s", method, path, raw)
	}
	if code >= 400 && len(resp.Messages.Error) == 0 {
		h.t.Errorf("%s %s: %d without an error message", method, path, code)
	}
	return code, resp, items
}

func TestPaidYETLogin(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct{ sub, key string }{{"sandbox", "wrong"}, {"other", PaidYETKey}, {"", ""}} {
		if code, m := h.login(c.sub, c.key); code != 401 || str(m, "status") != "ERROR" {
			t.Errorf("login %q/%q: %d %v", c.sub, c.key, code, m)
		}
	}
	if code, _ := h.do("POST", "/v3/login", "{", nil); code != 400 {
		t.Errorf("bad JSON login: %d", code)
	}
	if code, _ := h.do("GET", "/v3/login", nil, nil); code != 405 {
		t.Errorf("GET login: %d", code)
	}
	tok := h.token()
	if code, _, _ := h.py("", "GET", "/v3/transaction", nil); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _, _ := h.py("bogus", "GET", "/v3/transaction", nil); code != 401 {
		t.Errorf("bad token: %d", code)
	}
	if code, _, _ := h.py(tok, "GET", "/v3/transaction", nil); code != 200 {
		t.Errorf("good token: %d", code)
	}
	h.clock.Advance(time.Hour)
	code, resp, _ := h.py(tok, "GET", "/v3/transaction", nil)
	if code != 401 || !strings.Contains(resp.Messages.Error[0].Content, "expired") {
		t.Errorf("expired token: %d %+v", code, resp.Messages)
	}
	if code, _, _ := h.py(h.token(), "GET", "/v3/transaction", nil); code != 200 {
		t.Errorf("after a new login: %d", code)
	}
}

func TestPaidYETRateLimitMinute(t *testing.T) {
	h := newHarness(t)
	tok := h.token() // call 1
	for i := 2; i <= PaidYETPerMinute; i++ {
		if code, _, _ := h.py(tok, "GET", "/v3/card", nil); code != 200 {
			t.Fatalf("call %d: %d", i, code)
		}
	}
	code, raw := h.do("GET", "/v3/card", nil, map[string]string{"Authorization": "Bearer " + tok})
	if code != http.StatusTooManyRequests {
		t.Fatalf("call 76: %d, want 429", code)
	}
	if !strings.Contains(string(raw), `"code":429`) {
		t.Errorf("429 body %s", raw)
	}
	// Logging in again does not reset the limit: it is per credential.
	if code, _ := h.login(PaidYETSubdomain, PaidYETKey); code != 429 {
		t.Errorf("login while limited: %d", code)
	}
	h.clock.Advance(59 * time.Second)
	if code, _, _ := h.py(tok, "GET", "/v3/card", nil); code != 429 {
		t.Errorf("59 s later: %d, want 429 (sliding window)", code)
	}
	h.clock.Advance(2 * time.Second)
	if code, _, _ := h.py(tok, "GET", "/v3/card", nil); code != 200 {
		t.Errorf("61 s later: %d", code)
	}
}

func TestPaidYETRateLimitRetryAfter(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	for range PaidYETPerMinute - 1 {
		h.clock.Advance(100 * time.Millisecond)
		h.py(tok, "GET", "/v3/card", nil)
	}
	req, _ := http.NewRequest("GET", "/v3/card", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := &recorder{h: http.Header{}}
	h.s.ServeHTTP(rec, req)
	ra, err := strconv.Atoi(rec.h.Get("Retry-After"))
	if rec.code != 429 || err != nil || ra < 50 || ra > 60 {
		t.Errorf("429 with Retry-After %q (code %d), want about 53", rec.h.Get("Retry-After"), rec.code)
	}
}

type recorder struct {
	h    http.Header
	code int
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(c int)           { r.code = c }

func TestPaidYETRateLimitDay(t *testing.T) {
	if testing.Short() {
		t.Skip("7000 calls")
	}
	h := newHarness(t)
	h.clock.t = time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	tok := ""
	for i := 1; i <= PaidYETPerDay; i++ {
		h.clock.Advance(time.Second) // 60 a minute: under the minute limit
		if i%3000 == 1 {
			tok = h.token() // tokens live an hour
			continue
		}
		if code, _, _ := h.py(tok, "GET", "/v3/transaction/1", nil); code != 404 {
			t.Fatalf("call %d: %d", i, code)
		}
	}
	h.clock.Advance(time.Second)
	if code, _, _ := h.py(tok, "GET", "/v3/transaction/1", nil); code != 429 {
		t.Fatalf("call 7001: %d, want 429", code)
	}
	h.clock.t = time.Date(2026, 3, 15, 0, 0, 1, 0, time.UTC)
	if code, _, _ := h.py(h.token(), "GET", "/v3/transaction/1", nil); code != 404 {
		t.Errorf("next day: %d", code)
	}
}

func pySale(number, amount, typ string) map[string]any {
	m := map[string]any{"amount": json.Number(amount),
		"credit_card": map[string]any{"number": number, "exp": "09/29", "name": "John Doe", "cvv": "999"}}
	if typ != "" {
		m["type"] = typ
	}
	return m
}

func TestPaidYETTestCards(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	for _, c := range pyCardsClear {
		code, resp, items := h.py(tok, "POST", "/v3/transaction", pySale(c.number, "12.00", ""))
		if code != 200 || len(items) != 1 || resp.Payload.Type != "Transaction" || resp.Payload.Count != 1 {
			t.Fatalf("%s…: %d %+v", c.number[:6], code, resp)
		}
		v := items[0]
		wantStatus := "declined"
		if c.approve {
			wantStatus = "approved"
		}
		if str(v, "status") != wantStatus || num(v, "decline_code") != c.code || str(v, "result") != c.message ||
			str(v, "type") != "sale" || v["error"] != false {
			t.Errorf("%s…%s: got %v", c.number[:6], c.number[12:], v)
		}
		cc := v["credit_card"].(map[string]any)
		if str(cc, "number") != c.number[:6]+"******"+c.number[12:] || str(cc, "token") == "" {
			t.Errorf("credit_card %v", cc)
		}
	}
	// Other valid cards approve; invalid ones are refused.
	if _, _, items := h.py(tok, "POST", "/v3/transaction", pySale(visa, "1.00", "")); str(items[0], "status") != "approved" {
		t.Errorf("visa: %v", items)
	}
	if code, _, _ := h.py(tok, "POST", "/v3/transaction", pySale("4111111111111112", "1.00", "")); code != 422 {
		t.Errorf("bad number: %d", code)
	}
}

func TestPaidYETFlows(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	id := func(items []map[string]any) string { return strconv.Itoa(num(items[0], "id")) }

	// amount 0 and no type: an auth.
	_, _, items := h.py(tok, "POST", "/v3/transaction", pySale(visa, "0", ""))
	if str(items[0], "type") != "auth" {
		t.Errorf("amount 0 defaults to %v", items[0]["type"])
	}
	_, _, items = h.py(tok, "POST", "/v3/transaction", pySale(visa, "40.00", "auth"))
	auth := id(items)
	steps := []struct {
		method, path string
		body         any
		code         int
		check        map[string]any
	}{
		{"POST", "/v3/transaction/" + auth, map[string]any{"type": "refund", "amount": 1}, 422, nil},
		{"PUT", "/v3/transaction/" + auth, map[string]any{"type": "capture", "amount": 41}, 422, nil},
		{"PUT", "/v3/transaction/" + auth, map[string]any{"type": "void"}, 422, nil},
		{"PUT", "/v3/transaction/" + auth, map[string]any{"type": "capture", "amount": "30.00"}, 200,
			map[string]any{"type": "sale", "amount": 30.0, "captured_amount": 30.0}},
		{"PUT", "/v3/transaction/" + auth, map[string]any{"type": "capture"}, 422, nil},
		{"POST", "/v3/transaction/" + auth, map[string]any{"type": "refund", "amount": 30.01}, 422, nil},
		{"POST", "/v3/transaction/" + auth, map[string]any{"type": "refund", "amount": 10}, 200,
			map[string]any{"type": "refund", "status": "approved", "amount": 10.0}},
		{"PATCH", "/v3/transaction/" + auth, map[string]any{"type": "void"}, 422, nil}, // has a refund
		{"POST", "/v3/transaction/" + auth, map[string]any{"type": "refund", "amount": 20.01}, 422, nil},
		{"POST", "/v3/transaction/" + auth, map[string]any{"type": "refund", "amount": 20}, 200, nil},
		{"GET", "/v3/transaction/" + auth, nil, 200, map[string]any{"refunded_amount": 30.0}},
		{"GET", "/v3/transaction/999999", nil, 404, nil},
		{"GET", "/v3/transaction/abc", nil, 404, nil},
		{"DELETE", "/v3/transaction/" + auth, nil, 405, nil},
		{"POST", "/v3/transaction", `{"amount": 1`, 400, nil},
		{"POST", "/v3/transaction", map[string]any{"credit_card": map[string]any{"number": visa, "exp": "09/29"}}, 422, nil},
		{"POST", "/v3/transaction", pySale(visa, "-1", ""), 422, nil},
		{"POST", "/v3/transaction", pySale(visa, "5", "refund"), 422, nil},
		{"POST", "/v3/transaction", map[string]any{"amount": 5}, 422, nil},
		{"POST", "/v3/transaction", map[string]any{"amount": 5, "credit_card": map[string]any{"number": visa, "exp": "13/29"}}, 422, nil},
		{"POST", "/v3/transaction", map[string]any{"amount": 5, "credit_card": map[string]any{"token": "nope"}}, 422, nil},
		{"POST", "/v3/transaction", map[string]any{"amount": 5, "credit_card": "x"}, 422, nil},
	}
	for i, s := range steps {
		code, resp, items := h.py(tok, s.method, s.path, s.body)
		if code != s.code {
			t.Fatalf("step %d %s %s: %d, want %d: %+v", i, s.method, s.path, code, s.code, resp.Messages)
		}
		for k, want := range s.check {
			if items[0][k] != want {
				t.Errorf("step %d: %s = %v, want %v", i, k, items[0][k], want)
			}
		}
	}
	// A sale voided, then refunded: refused.
	_, _, items = h.py(tok, "POST", "/v3/transaction", pySale(visa, "5.00", "sale"))
	sale := id(items)
	if code, _, items := h.py(tok, "PATCH", "/v3/transaction/"+sale, map[string]any{"type": "void"}); code != 200 || str(items[0], "status") != "voided" {
		t.Errorf("void: %d %v", code, items)
	}
	if code, _, _ := h.py(tok, "POST", "/v3/transaction/"+sale, map[string]any{"type": "refund", "amount": 1}); code != 422 {
		t.Errorf("refund after void: %d", code)
	}
	// Search.
	for q, want := range map[string]int{
		"type=refund":           2,
		"type=void":             1,
		"type=sale,refund":      4,
		"status=approved":       4,
		"amount=5.00":           1,
		"date=2026-03-14":       5,
		"date=2026-03-13":       0,
		"per_page=2&page=2":     2,
		"status=declined":       0,
		"first_name=x&amount=5": 0,
	} {
		code, resp, items := h.py(tok, "GET", "/v3/transaction/search?"+q, nil)
		if code != 200 || len(items) != want {
			t.Errorf("search %s: %d, %d items, want %d (count %d)", q, code, len(items), want, resp.Payload.Count)
		}
	}
	if _, resp, _ := h.py(tok, "GET", "/v3/transaction/search?per_page=2", nil); resp.Payload.Count != 5 || resp.Payload.Pages != 3 {
		t.Errorf("payload %+v", resp.Payload)
	}
}

func TestPaidYETCards(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	code, _, items := h.py(tok, "POST", "/v3/card", map[string]any{"number": "4000300611112224", "exp": "09/24", "external_id": "cust-7"})
	if code != 200 || len(items) != 1 {
		t.Fatalf("tokenize: %d", code)
	}
	token := str(items[0], "token")
	if str(items[0], "number") != "400030******2224" {
		t.Errorf("number %v", items[0]["number"])
	}
	for _, path := range []string{"/v3/card/" + token, "/v3/card/external-cust-7"} {
		if code, _, items := h.py(tok, "GET", path, nil); code != 200 || str(items[0], "token") != token {
			t.Errorf("GET %s: %d %v", path, code, items)
		}
	}
	if code, _, _ := h.py(tok, "GET", "/v3/card/external-none", nil); code != 404 {
		t.Errorf("unknown external id: %d", code)
	}
	if code, _, _ := h.py(tok, "POST", "/v3/card", map[string]any{"number": "4000300611112224", "exp": "09/24", "external_id": "cust-7"}); code != 422 {
		t.Errorf("duplicate external id: %d", code)
	}
	if code, _, _ := h.py(tok, "POST", "/v3/card", map[string]any{"number": "123", "exp": "09/24"}); code != 422 {
		t.Errorf("bad number: %d", code)
	}
	// The token carries the card's behaviour: this one declines with 51.
	_, _, items = h.py(tok, "POST", "/v3/transaction", map[string]any{"amount": 3, "credit_card": map[string]any{"token": token}})
	if str(items[0], "status") != "declined" || num(items[0], "decline_code") != 51 {
		t.Errorf("token sale: %v", items[0])
	}
	// The list holds the two stored cards of docs/sandbox.md and this one.
	if _, resp, items := h.py(tok, "GET", "/v3/card", nil); resp.Payload.Type != "CreditCard" || len(items) != 3 {
		t.Errorf("list: %+v", resp.Payload)
	}
	for tokn, want := range map[string]string{PaidYETTokenApproved: "approved", PaidYETTokenDeclined: "declined"} {
		_, _, items = h.py(tok, "POST", "/v3/transaction", map[string]any{"amount": 3, "type": "sale", "credit_card": map[string]any{"token": tokn}})
		if str(items[0], "status") != want {
			t.Errorf("stored card %s: %v, want %s", tokn, items[0], want)
		}
	}
	if code, _, _ := h.py(tok, "GET", "/v3/customer", nil); code != 404 {
		t.Errorf("unemulated endpoint: %d", code)
	}
}
