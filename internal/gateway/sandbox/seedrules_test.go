package sandbox_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/decrypt/dukpt"
	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// The seed's ID TECH and ksn samples (seed 002, "Encryption Examples"), as
// in seeds_test.go; repeated here because this file is an external test that
// talks to the sandbox over HTTP only.
const (
	ruleSeedKSN    = "62994900730004200002"
	ruleSeedIDTech = "02BD01801F432800039B%*5428********0254^YOU/A GIFT FOR^*******************************?*;5428********0254=********************?*11B25549D1CCD691EC3061E18D673F06689B6A778B8EA8329B3D54C2AB9D7C13DCBBFA52C32BC677433B9FE645DFFCB75A5436DF46E45552EE60DDB582757C73CE6F20F262DE2B9D02AEF88E39C7C22FD64D97A76A82DA6E885AA58BCB11218675ECB88D7FA521258A72293D8C7521054EAA426941F43C98573456204A48E08B40853A0701F062422FE5656423AFA9F3011E17E8101FB9396299490073000420000232B603"
)

// ruleServer is the sandbox on a real HTTP server, its clock in March 2026.
type ruleServer struct {
	t   *testing.T
	url string
}

func newRuleServer(t *testing.T) *ruleServer {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	srv := httptest.NewServer(sandbox.New(sandbox.Options{Now: func() time.Time { return now }}))
	t.Cleanup(srv.Close)
	return &ruleServer{t: t, url: srv.URL}
}

// send makes one v2 request with the sandbox credentials; body is sent as
// is when it is a string, else as JSON.
func (s *ruleServer) send(method, path string, body any) (int, map[string]any, []byte) {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("developer-id", sandbox.DeveloperID)
	req.Header.Set("user-id", sandbox.UserID)
	req.Header.Set("user-api-key", sandbox.UserAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		s.t.Fatalf("%s %s: answer is not JSON: %.200s", method, path, raw)
	}
	return resp.StatusCode, m, raw
}

// sale creates an approved keyed sale and returns its id.
func (s *ruleServer) sale() string {
	s.t.Helper()
	code, m, _ := s.send("POST", "/v2/transactions", wrap(keyed(nil)))
	if code != http.StatusCreated {
		s.t.Fatalf("setup sale: %d %v", code, m)
	}
	return m["transaction"].(map[string]any)["id"].(string)
}

func wrap(f map[string]any) map[string]any { return map[string]any{"transaction": f} }

// keyed is a conforming keyed sale with extra fields set (nil values
// delete).
func keyed(extra map[string]any) map[string]any {
	f := map[string]any{"action": "sale", "payment_method": "cc", "transaction_amount": "10.00",
		"account_number": "4111111111111111", "exp_date": "1230"}
	for k, v := range extra {
		if v == nil {
			delete(f, k)
		} else {
			f[k] = v
		}
	}
	return f
}

// swipe is a conforming sale of the seed's ID TECH sample.
func swipe(extra map[string]any) map[string]any {
	f := map[string]any{"action": "sale", "payment_method": "cc", "transaction_amount": "10.00",
		"e_format": "idtech", "e_track_data": ruleSeedIDTech, "e_serial_number": ruleSeedKSN, "entry_mode_id": "S"}
	for k, v := range extra {
		if v == nil {
			delete(f, k)
		} else {
			f[k] = v
		}
	}
	return f
}

// chipKSN is a chip read in the ksn form with EMV track-2-equivalent data
// whose expiry is YYMM, encrypted under the test key.
func chipKSN(t *testing.T, yymm string) map[string]any {
	t.Helper()
	const ksnHex = "FFFF9876543210E00001"
	ksn, _ := hex.DecodeString(ksnHex)
	bdk, _ := hex.DecodeString(dukpt.TestBDK)
	tag57 := "4111111111111111D" + yymm + "2011234567F"
	plain, _ := hex.DecodeString(tag57)
	plain = append(plain, make([]byte, (8-len(plain)%8)%8)...)
	key, err := dukpt.TrackKey(bdk, ksn, dukpt.TrackDataKey)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := dukpt.EncryptTDESCBC(key, plain)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"action": "sale", "payment_method": "cc", "transaction_amount": "10.00",
		"e_format": "ksn", "e_track_data": ";411111******1111=****?||" + strings.ToUpper(hex.EncodeToString(ct)),
		"e_serial_number": ksnHex, "entry_mode_id": "C"}
}

// TestSeedRules is the conformance suite: one case per request rule the
// seeds state, sent to the sandbox over HTTP. docs/sandbox.md's rule table
// names each case. A refusal must be the API's 422 with the field under
// "errors"; an outcome rule (expired cards) must be the documented decline.
func TestSeedRules(t *testing.T) {
	s := newRuleServer(t)
	long := func(n int) string { return strings.Repeat("a", n) }
	const (
		post = "POST"
		put  = "PUT"
	)
	type tc struct {
		name   string
		method string // POST /v2/transactions or PUT /v2/transactions/{sale}
		body   any    // sent as is
		status int    // 201/200 when it passes
		field  string // the field the 422 names
		reason int    // for passing sales: the reason_code_id
	}
	tests := []tc{
		// The wrapper.
		{"wrapper/missing", post, keyed(nil), 422, "transaction", 0},
		{"wrapper/sibling", post, map[string]any{"transaction": keyed(nil), "action": "sale"}, 422, "transaction", 0},
		{"wrapper/ok", post, wrap(keyed(nil)), 201, "", 1000},
		// Methods of the actions.
		{"method/void-as-post", post, wrap(map[string]any{"action": "void", "previous_transaction_id": "$sale"}), 422, "action", 0},
		{"method/authcomplete-as-post", post, wrap(map[string]any{"action": "authcomplete", "previous_transaction_id": "$sale", "transaction_amount": "1.00"}), 422, "action", 0},
		{"method/sale-as-put", put, wrap(keyed(nil)), 422, "action", 0},
		// Per-action columns: N fields are refused, R fields required.
		{"column/void-with-e_track_data", put, wrap(map[string]any{"action": "void", "e_format": "idtech", "e_track_data": ruleSeedIDTech}), 422, "e_track_data", 0},
		{"column/void-with-payment_method", put, wrap(map[string]any{"action": "void", "payment_method": "cc"}), 422, "payment_method", 0},
		{"column/void-with-location_id", put, wrap(map[string]any{"action": "void", "location_id": sandbox.LocationID}), 422, "location_id", 0},
		{"column/tipadjust-with-description", put, wrap(map[string]any{"action": "tipadjust", "transaction_amount": "12.00", "description": "x"}), 422, "description", 0},
		{"column/sale-with-auth_code", post, wrap(keyed(map[string]any{"auth_code": "123456"})), 422, "auth_code", 0},
		{"column/refund-with-cvv-ok", post, wrap(keyed(map[string]any{"action": "refund", "cvv": "999"})), 201, "", 0},
		{"column/edit-with-contact_id", put, wrap(map[string]any{"action": "edit", "contact_id": "abc"}), 422, "contact_id", 0},
		{"column/sale-with-ach-routing", post, wrap(keyed(map[string]any{"routing": "072000326"})), 422, "routing", 0},
		{"required/sale-payment_method", post, wrap(keyed(map[string]any{"payment_method": nil})), 422, "payment_method", 0},
		{"required/sale-transaction_amount", post, wrap(keyed(map[string]any{"transaction_amount": nil})), 422, "transaction_amount", 0},
		{"required/tipadjust-transaction_amount", put, wrap(map[string]any{"action": "tipadjust"}), 422, "transaction_amount", 0},
		{"required/force-auth_code", post, wrap(keyed(map[string]any{"action": "force"})), 422, "auth_code", 0},
		// Enumerations are exact.
		{"enum/e_format-case", post, wrap(swipe(map[string]any{"e_format": "IDTECH"})), 422, "e_format", 0},
		{"enum/payment_method-case", post, wrap(keyed(map[string]any{"payment_method": "CC"})), 422, "payment_method", 0},
		{"enum/action-case", post, wrap(keyed(map[string]any{"action": "Sale"})), 422, "action", 0},
		{"enum/entry_mode_id", post, wrap(swipe(map[string]any{"entry_mode_id": "X"})), 422, "entry_mode_id", 0},
		{"enum/ach_sec_code-case", post, wrap(map[string]any{"action": "debit", "payment_method": "ach", "transaction_amount": "5.00",
			"account_number": "01234567890", "routing": "072000326", "account_holder_name": "A B", "account_type": "checking", "ach_sec_code": "ppd"}), 422, "ach_sec_code", 0},
		{"enum/account_type-case", post, wrap(map[string]any{"action": "debit", "payment_method": "ach", "transaction_amount": "5.00",
			"account_number": "01234567890", "routing": "072000326", "account_holder_name": "A B", "account_type": "Checking", "ach_sec_code": "PPD"}), 422, "account_type", 0},
		// The e_ fields.
		{"e_serial_number/mismatch-idtech", post, wrap(swipe(map[string]any{"e_serial_number": "62994900730004200003"})), 422, "e_serial_number", 0},
		{"e_serial_number/match-idtech", post, wrap(swipe(nil)), 201, "", 1000},
		{"e_serial_number/absent-idtech", post, wrap(swipe(map[string]any{"e_serial_number": nil})), 201, "", 1000},
		{"e_serial_number/ksn-form-ok", post, wrap(chipKSN(t, "3012")), 201, "", 1000},
		{"e_serial_number/over-20", post, wrap(func() map[string]any {
			f := chipKSN(t, "3012")
			f["e_serial_number"] = "FFFF9876543210E000000001"
			return f
		}()), 422, "e_serial_number", 0},
		{"e_serial_number/not-hex", post, wrap(swipe(map[string]any{"e_serial_number": "6299490073000420000G"})), 422, "e_serial_number", 0},
		{"e_format/without-data", post, wrap(keyed(map[string]any{"e_format": "ksn"})), 422, "e_track_data", 0},
		{"e_track_data/without-format", post, wrap(swipe(map[string]any{"e_format": nil})), 422, "e_format", 0},
		// Lengths and formats.
		{"order_num/space-and-dash", post, wrap(keyed(map[string]any{"order_num": "A-100 2"})), 422, "order_num", 0},
		{"order_num/33", post, wrap(keyed(map[string]any{"order_num": long(33)})), 422, "order_num", 0},
		{"order_num/ok", post, wrap(keyed(map[string]any{"order_num": "A1002"})), 201, "", 1000},
		{"po_number/special", post, wrap(keyed(map[string]any{"po_number": "PO#1"})), 422, "po_number", 0},
		{"description/65", post, wrap(keyed(map[string]any{"description": long(65)})), 422, "description", 0},
		{"transaction_api_id/65", post, wrap(keyed(map[string]any{"transaction_api_id": long(65)})), 422, "transaction_api_id", 0},
		{"billing_zip/short", post, wrap(keyed(map[string]any{"billing_zip": "326"})), 422, "billing_zip", 0},
		{"billing_zip/charset", post, wrap(keyed(map[string]any{"billing_zip": "32606!"})), 422, "billing_zip", 0},
		{"billing_zip/space-dash-ok", post, wrap(keyed(map[string]any{"billing_zip": "K1A 0B1-2"})), 201, "", 1000},
		{"billing_phone/11", post, wrap(keyed(map[string]any{"billing_phone": "35255501234"})), 422, "billing_phone", 0},
		{"location_id/23", post, wrap(keyed(map[string]any{"location_id": long(23)})), 422, "location_id", 0},
		{"exp_date/month", post, wrap(keyed(map[string]any{"exp_date": "1330"})), 422, "exp_date", 0},
		{"transaction_amount/decimals", post, wrap(keyed(map[string]any{"transaction_amount": "1.234"})), 422, "transaction_amount", 0},
		{"transaction_amount/11", post, wrap(keyed(map[string]any{"transaction_amount": "10000000.00"})), 422, "transaction_amount", 0},
		{"cvv/letters", post, wrap(keyed(map[string]any{"cvv": "12a"})), 422, "cvv", 0},
		{"checkin_date/format", post, wrap(keyed(map[string]any{"checkin_date": "03/14/2026"})), 422, "checkin_date", 0},
		{"no_show/flag", post, wrap(keyed(map[string]any{"no_show": "maybe"})), 422, "no_show", 0},
		{"track_data/257", post, wrap(keyed(map[string]any{"account_number": nil, "exp_date": nil, "track_data": long(257)})), 422, "track_data", 0},
		// Unknown and read-only fields.
		{"unknown/seed-typo-trnsaction_amount", post, wrap(keyed(map[string]any{"trnsaction_amount": "10.00"})), 422, "trnsaction_amount", 0},
		{"unknown/service_zip", post, wrap(keyed(map[string]any{"service_zip": "32606"})), 422, "service_zip", 0},
		{"readonly/status_id", post, wrap(keyed(map[string]any{"status_id": 101})), 422, "status_id", 0},
		{"readonly/auth_amount", post, wrap(keyed(map[string]any{"auth_amount": "10.00"})), 422, "auth_amount", 0},
		{"override/allow_partial-ok", post, wrap(keyed(map[string]any{"allow_partial_authorization_override": true})), 201, "", 1000},
		// Expired cards decline 1622, keyed or read.
		{"expired/keyed", post, wrap(keyed(map[string]any{"exp_date": "0124"})), 201, "", 1622},
		{"expired/swipe-clear-track", post, wrap(keyed(map[string]any{"account_number": nil, "exp_date": nil,
			"track_data": "%B4111111111111111^TEST/CARD^20121015432112345678?;4111111111111111=20121015432112345678?"})), 201, "", 1622},
		{"expired/chip-ksn", post, wrap(chipKSN(t, "2012")), 201, "", 1622},
		{"expired/chip-ksn-current-ok", post, wrap(chipKSN(t, "2603")), 201, "", 1000},
		{"expired/seed-sample-exempt", post, wrap(swipe(nil)), 201, "", 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			path := "/v2/transactions"
			if tc.method == put {
				path += "/" + s.sale()
			}
			body := tc.body
			if strings.Contains(mustJSON(t, body), "$sale") {
				body = strings.ReplaceAll(mustJSON(t, body), "$sale", s.sale())
			}
			code, m, raw := s.send(tc.method, path, body)
			if tc.field == "" {
				want := http.StatusCreated
				if tc.method == put {
					want = http.StatusOK
				}
				if code != want {
					t.Fatalf("status %d, want %d: %s", code, want, raw)
				}
				if tc.reason != 0 {
					if got := m["transaction"].(map[string]any)["reason_code_id"]; got != float64(tc.reason) {
						t.Errorf("reason_code_id %v, want %d", got, tc.reason)
					}
				}
				return
			}
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422 on %s: %s", code, tc.field, raw)
			}
			errs, _ := m["errors"].(map[string]any)
			msgs, _ := errs[tc.field].([]any)
			if len(msgs) == 0 {
				t.Fatalf("errors has no message for %q: %s", tc.field, raw)
			}
			if msg, _ := msgs[0].(string); msg == "" {
				t.Errorf("empty message for %q", tc.field)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSeedRulesListFilters: a filter the sandbox does not know is a 422
// naming it, never an unfiltered list.
func TestSeedRulesListFilters(t *testing.T) {
	s := newRuleServer(t)
	s.sale()
	for _, q := range []string{"transaction_apiid=x", "unknown_filter=1", "filter[status_id]=101"} {
		code, m, raw := s.send("GET", "/v2/transactions?"+q, nil)
		name := q[:strings.IndexByte(q, '=')]
		if errs, _ := m["errors"].(map[string]any); code != http.StatusUnprocessableEntity || errs[name] == nil {
			t.Errorf("GET ?%s: %d %s, want 422 naming %s", q, code, raw, name)
		}
	}
	if code, m, _ := s.send("GET", "/v2/transactions?transaction_api_id=nosuch&page=1&page_size=5", nil); code != 200 ||
		len(m["transactions"].([]any)) != 0 {
		t.Errorf("known filters: %d %v", code, m)
	}
}

// TestSeedRulesNoEcho: a field name or filter that could carry a card
// number is refused without being echoed.
func TestSeedRulesNoEcho(t *testing.T) {
	s := newRuleServer(t)
	const pan = "4111111111111111"
	code, _, raw := s.send("POST", "/v2/transactions", wrap(keyed(map[string]any{pan: "1"})))
	if code != 422 || bytes.Contains(raw, []byte(pan[:8])) {
		t.Errorf("unknown field named like a card: %d %s", code, raw)
	}
	code, _, raw = s.send("GET", "/v2/transactions?"+pan+"=1", nil)
	if code != 422 || bytes.Contains(raw, []byte(pan[:8])) {
		t.Errorf("unknown filter named like a card: %d %s", code, raw)
	}
}

// TestMerchantSettings: the settings products of GET /v2/locationinfos
// refuse what the seeds say their settings require, and take a request
// that has it.
func TestMerchantSettings(t *testing.T) {
	s := newRuleServer(t)
	on := func(product string, extra map[string]any) map[string]any {
		f := keyed(extra)
		f["product_transaction_id"] = product
		return wrap(f)
	}
	type tc struct {
		name   string
		body   map[string]any
		fields []string // the 422's fields; none: 201
	}
	tests := []tc{
		{"surcharge/missing", on(sandbox.ProductSurchargeID, nil), []string{"subtotal_amount", "surcharge_amount"}},
		{"surcharge/ok", on(sandbox.ProductSurchargeID, map[string]any{"transaction_amount": "10.30", "subtotal_amount": "10.00", "surcharge_amount": "0.30"}), nil},
		{"surcharge/sum", on(sandbox.ProductSurchargeID, map[string]any{"transaction_amount": "10.00", "subtotal_amount": "10.00", "surcharge_amount": "0.30"}), []string{"transaction_amount"}},
		{"surcharge/with-tax", on(sandbox.ProductSurchargeID, map[string]any{"transaction_amount": "11.10", "subtotal_amount": "10.00", "surcharge_amount": "0.30", "tax": "0.80"}), nil},
		{"surcharge/refund-needs-none", on(sandbox.ProductSurchargeID, map[string]any{"action": "refund"}), nil},
		{"surcharge/default-product-needs-none", wrap(keyed(nil)), nil},
		{"autotax/missing", on(sandbox.ProductAutoTaxID, nil), []string{"subtotal_amount", "tax"}},
		{"autotax/ok", on(sandbox.ProductAutoTaxID, map[string]any{"transaction_amount": "10.80", "subtotal_amount": "10.00", "tax": "0.80"}), nil},
		{"lodging/missing", on(sandbox.ProductLodgingID, nil), []string{"checkin_date", "checkout_date", "room_rate"}},
		{"lodging/ok", on(sandbox.ProductLodgingID, map[string]any{"checkin_date": "2026-03-10", "checkout_date": "2026-03-14", "room_rate": "120.00"}), nil},
		{"lodging/100-days", on(sandbox.ProductLodgingID, map[string]any{"checkin_date": "2026-01-01", "checkout_date": "2026-04-11", "room_rate": "1"}), []string{"checkout_date"}},
		{"lodging/backwards", on(sandbox.ProductLodgingID, map[string]any{"checkin_date": "2026-03-14", "checkout_date": "2026-03-10", "room_rate": "1"}), []string{"checkout_date"}},
		{"ordernum/missing", on(sandbox.ProductOrderNumID, nil), []string{"order_num"}},
		{"ordernum/ok", on(sandbox.ProductOrderNumID, map[string]any{"order_num": "INV1001"}), nil},
		{"ordernum/duplicate", on(sandbox.ProductOrderNumID, map[string]any{"order_num": "INV1001"}), []string{"order_num"}},
		{"ordernum/other-product-reuses", wrap(keyed(map[string]any{"order_num": "INV1001"})), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			code, m, raw := s.send("POST", "/v2/transactions", tc.body)
			if len(tc.fields) == 0 {
				if code != http.StatusCreated {
					t.Fatalf("status %d, want 201: %s", code, raw)
				}
				return
			}
			errs, _ := m["errors"].(map[string]any)
			if code != http.StatusUnprocessableEntity || len(errs) != len(tc.fields) {
				t.Fatalf("status %d, want 422 on %v: %s", code, tc.fields, raw)
			}
			for _, f := range tc.fields {
				if errs[f] == nil {
					t.Errorf("no message for %s: %s", f, raw)
				}
			}
		})
	}
	t.Run("lodging/echoed", func(t *testing.T) {
		s.t = t
		_, m, _ := s.send("POST", "/v2/transactions", on(sandbox.ProductLodgingID, map[string]any{"checkin_date": "2026-03-10", "checkout_date": "2026-03-14", "room_rate": "120", "room_num": "12B"}))
		v, _ := m["transaction"].(map[string]any)
		if v["checkin_date"] != "2026-03-10" || v["checkout_date"] != "2026-03-14" || v["room_rate"] != "120.00" || v["room_num"] != "12B" {
			t.Errorf("stay not in the answer: %v", v)
		}
	})
	t.Run("surcharge/authcomplete", func(t *testing.T) {
		s.t = t
		code, m, raw := s.send("POST", "/v2/transactions", on(sandbox.ProductSurchargeID, map[string]any{"action": "authonly",
			"transaction_amount": "10.30", "subtotal_amount": "10.00", "surcharge_amount": "0.30"}))
		if code != 201 {
			t.Fatalf("authonly: %d %s", code, raw)
		}
		id := m["transaction"].(map[string]any)["id"].(string)
		if code, _, raw := s.send("PUT", "/v2/transactions/"+id, wrap(map[string]any{"action": "authcomplete", "transaction_amount": "8.24"})); code != 422 {
			t.Errorf("authcomplete without the breakdown: %d %s", code, raw)
		}
		if code, _, raw := s.send("PUT", "/v2/transactions/"+id, wrap(map[string]any{"action": "authcomplete", "transaction_amount": "8.24",
			"subtotal_amount": "8.00", "surcharge_amount": "0.24"})); code != 200 {
			t.Errorf("authcomplete with it: %d %s", code, raw)
		}
	})
}
