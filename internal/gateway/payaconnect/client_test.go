package payaconnect

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
)

// The ID TECH sample of the seed's "Encryption Examples" (card 5428…0254).
const seedIDTech = "02BD01801F432800039B%*5428********0254^YOU/A GIFT FOR^*******************************?*;5428********0254=********************?*11B25549D1CCD691EC3061E18D673F06689B6A778B8EA8329B3D54C2AB9D7C13DCBBFA52C32BC677433B9FE645DFFCB75A5436DF46E45552EE60DDB582757C73CE6F20F262DE2B9D02AEF88E39C7C22FD64D97A76A82DA6E885AA58BCB11218675ECB88D7FA521258A72293D8C7521054EAA426941F43C98573456204A48E08B40853A0701F062422FE5656423AFA9F3011E17E8101FB9396299490073000420000232B603"

const seedKSN = "62994900730004200002"

// seedRead is a read of the seed's ID TECH sample.
func seedRead() *card.Read {
	ksn, err := card.ParseKSN(seedKSN)
	if err != nil {
		panic(err) // a constant of this file
	}
	return &card.Read{
		Envelope:  card.Envelope{Format: card.FormatIDTech, Data: seedIDTech, KSN: ksn},
		Source:    "idtech",
		MaskedPAN: card.MaskFromReader("5428********0254"),
		EntryMode: card.EntrySwiped,
		Device:    card.DeviceInfo{Serial: "SN12345"},
	}
}

func testClient(t testing.TB, url string, mod ...func(*Options)) *Client {
	t.Helper()
	o := Options{BaseURL: url, DeveloperID: fakeDeveloperID, UserID: fakeUserID, UserAPIKey: fakeAPIKey,
		LocationID: fakeLocationID, ProductTransactionID: fakeProductID, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startFake(t testing.TB) (*fake, *httptest.Server) {
	f := newFake()
	return f, newServer(t, f)
}

func newServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestNewURLRule(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://api.sandbox.payaconnect.com", true},
		{"https://api.payaconnect.com/", true},
		{"http://127.0.0.1:7380", true},
		{"http://127.8.9.10", true},
		{"http://localhost:8080", true},
		{"http://[::1]:80", true},
		{"http://api.sandbox.payaconnect.com", false},
		{"http://10.0.0.5", false},
		{"http://localhost.example.com", false},
		{"ftp://127.0.0.1", false},
		{"https://user:pw@example.com", false},
		{"", false},
		{"127.0.0.1:80", false},
	}
	for _, tt := range tests {
		_, err := New(Options{BaseURL: tt.url, DeveloperID: "d", UserID: "u", UserAPIKey: "k"})
		if (err == nil) != tt.ok {
			t.Errorf("New(%q): err %v, want ok=%v", tt.url, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrConfig) || !errors.Is(err, gateway.ErrInsecureURL)) {
			t.Errorf("New(%q): %v does not wrap ErrConfig and ErrInsecureURL", tt.url, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("error leaks the URL password: %v", err)
		}
	}
	_, err := New(Options{BaseURL: "https://x", DeveloperID: "d"})
	if err == nil || !strings.Contains(err.Error(), "user_id, user_api_key") {
		t.Errorf("missing credentials: %v", err)
	}
}

func TestHeaderAuth(t *testing.T) {
	_, srv := startFake(t)
	c := testClient(t, srv.URL)
	if _, err := c.LocationInfos(context.Background()); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	bad := testClient(t, srv.URL, func(o *Options) { o.UserAPIKey = "wrong" })
	_, err := bad.LocationInfos(context.Background())
	if !errors.Is(err, gateway.ErrUnauthorized) || !gateway.IsRejected(err) {
		t.Fatalf("bad key: %v, want rejected/unauthorized", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the key: %v", err)
	}
}

func TestLocationInfos(t *testing.T) {
	_, srv := startFake(t)
	locs, err := testClient(t, srv.URL).LocationInfos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(locs) != 1 || locs[0].ID != fakeLocationID || len(locs[0].ProductTransactions) != 2 ||
		locs[0].ProductTransactions[0].ID != fakeProductID || locs[0].ProductTransactions[1].PaymentMethod != "ach" {
		t.Errorf("locationinfos = %+v", locs)
	}
}

// TestRequestShape checks method, path and body of every action against the
// seed: POST for new transactions, PUT /v2/transactions/{id} for changes,
// the body wrapped in {"transaction": ...}.
func TestRequestShape(t *testing.T) {
	f, srv := startFake(t)
	c := testClient(t, srv.URL)
	ctx := context.Background()
	auth, err := c.Do(ctx, gateway.Request{Action: gateway.ActionAuthOnly, Amount: 12000, Read: seedRead(), TransactionAPIID: "auth1"})
	if err != nil {
		t.Fatal(err)
	}
	sale, err := c.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 1234, Read: seedRead(), TransactionAPIID: "sale1", OrderNum: "A100"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		req     gateway.Request
		method  string
		path    string
		want    map[string]any // fields and values; nil value: must be absent
		outcome int
	}{
		{"sale card present", gateway.Request{Action: gateway.ActionSale, Amount: 1234, Read: seedRead(), TransactionAPIID: "s2", OrderNum: "A101"},
			"POST", "/v2/transactions", map[string]any{
				"action": "sale", "payment_method": "cc", "transaction_amount": "12.34", "e_format": "idtech",
				"e_track_data": seedIDTech, "e_serial_number": seedKSN, "entry_mode_id": "S", "terminal_serial_number": "SN12345",
				"order_num": "A101", "transaction_api_id": "s2", "location_id": fakeLocationID, "product_transaction_id": fakeProductID,
				"account_number": nil, "previous_transaction_id": nil,
			}, 101},
		{"authonly", gateway.Request{Action: gateway.ActionAuthOnly, Amount: 500_00, Read: seedRead(), TransactionAPIID: "a2"},
			"POST", "/v2/transactions", map[string]any{"action": "authonly", "transaction_amount": "500.00", "e_format": "idtech"}, 102},
		{"avsonly", gateway.Request{Action: gateway.ActionAVSOnly, Token: "vault1", TransactionAPIID: "v1",
			Billing: gateway.Billing{Street: "5800 NW 39th AVE", Zip: "32606"}},
			"POST", "/v2/transactions", map[string]any{"action": "avsonly", "transaction_amount": nil, "account_vault_id": "vault1",
				"billing_street": "5800 NW 39th AVE", "billing_zip": "32606"}, 121},
		{"force", gateway.Request{Action: gateway.ActionForce, Amount: 100, AuthCode: "123456", Read: seedRead(), TransactionAPIID: "f1"},
			"POST", "/v2/transactions", map[string]any{"action": "force", "auth_code": "123456"}, 101},
		{"refund", gateway.Request{Action: gateway.ActionRefund, Amount: 1234, TransactionID: sale.ID, TransactionAPIID: "r1"},
			"POST", "/v2/transactions", map[string]any{"action": "refund", "payment_method": "cc", "previous_transaction_id": sale.ID,
				"transaction_amount": "12.34", "e_track_data": nil}, 111},
		{"authcomplete", gateway.Request{Action: gateway.ActionAuthComplete, Amount: 6000, TransactionID: auth.ID},
			"PUT", "/v2/transactions/" + auth.ID, map[string]any{"action": "authcomplete", "transaction_amount": "60.00",
				"location_id": nil, "payment_method": nil, "transaction_api_id": nil}, 101},
		{"authincrement", gateway.Request{Action: gateway.ActionAuthIncrement, Amount: 10000, TransactionID: auth.ID},
			"PUT", "/v2/transactions/" + auth.ID, map[string]any{"action": "authincrement", "transaction_amount": "100.00"}, 101},
		{"partialreversal", gateway.Request{Action: gateway.ActionPartialReversal, Amount: 2000, TransactionID: sale.ID},
			"PUT", "/v2/transactions/" + sale.ID, map[string]any{"action": "partialreversal", "transaction_amount": "20.00"}, 101},
		{"tipadjust", gateway.Request{Action: gateway.ActionTipAdjust, Amount: 1500, TransactionID: sale.ID, Description: "x"},
			"PUT", "/v2/transactions/" + sale.ID, map[string]any{"action": "tipadjust", "transaction_amount": "15.00", "description": nil}, 101},
		{"void", gateway.Request{Action: gateway.ActionVoid, TransactionID: sale.ID},
			"PUT", "/v2/transactions/" + sale.ID, map[string]any{"action": "void", "transaction_amount": nil, "location_id": nil}, 201},
		{"ach debit", gateway.Request{Action: gateway.ActionDebit, Amount: 1000, TransactionAPIID: "d1", ACH: &gateway.ACHAccount{
			HolderName: "Test Account", AccountType: "checking", AccountNumber: "01234567890", Routing: "072000326", SECCode: "ppd"}},
			"POST", "/v2/transactions", map[string]any{"action": "debit", "payment_method": "ach", "ach_sec_code": "PPD",
				"routing": "072000326", "account_type": "checking", "account_holder_name": "Test Account"}, 131},
		{"ach credit from previous", gateway.Request{Action: gateway.ActionCredit, Amount: 1000, TransactionAPIID: "c1", TransactionID: sale.ID,
			ACH: &gateway.ACHAccount{SECCode: "CCD"}},
			"POST", "/v2/transactions", map[string]any{"action": "credit", "payment_method": "ach", "previous_transaction_id": sale.ID}, 131},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(f.calls)
			res, err := c.Do(ctx, tt.req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if len(f.calls) != n+1 {
				t.Fatalf("%d requests, want 1", len(f.calls)-n)
			}
			if got := f.calls[n]; got != tt.method+" "+tt.path {
				t.Errorf("request %q, want %q", got, tt.method+" "+tt.path)
			}
			body := f.lastBody()
			for k, v := range tt.want {
				got, ok := body[k]
				if v == nil {
					if ok {
						t.Errorf("field %s sent (%v), want absent", k, got)
					}
					continue
				}
				if got != v {
					t.Errorf("field %s = %v, want %v", k, got, v)
				}
			}
			if res.StatusID != tt.outcome || !res.Approved() || res.Action != tt.req.Action {
				t.Errorf("result status %d outcome %s action %s, want %d approved %s", res.StatusID, res.Outcome, res.Action, tt.outcome, tt.req.Action)
			}
		})
	}
}

func TestValidationNotSent(t *testing.T) {
	f, srv := startFake(t)
	c := testClient(t, srv.URL)
	long := strings.Repeat("9", 33)
	aesKSN, _ := card.ParseKSN("FFFF9876543210E000000001")
	tests := []struct {
		name   string
		req    gateway.Request
		fields []string
	}{
		{"sale without amount", gateway.Request{Action: gateway.ActionSale, Read: seedRead()}, []string{"transaction_amount"}},
		{"sale without card", gateway.Request{Action: gateway.ActionSale, Amount: 100}, []string{"account_number"}},
		{"order_num too long", gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), OrderNum: long}, []string{"order_num"}},
		{"order_num special", gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), OrderNum: "A-1"}, []string{"order_num"}},
		{"api id too long", gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), TransactionAPIID: strings.Repeat("x", 65)}, []string{"transaction_api_id"}},
		{"amount too long", gateway.Request{Action: gateway.ActionSale, Amount: 123456789012, Read: seedRead()}, []string{"transaction_amount"}},
		{"negative amount", gateway.Request{Action: gateway.ActionSale, Amount: -5, Read: seedRead()}, []string{"transaction_amount"}},
		{"force without auth code", gateway.Request{Action: gateway.ActionForce, Amount: 100, Read: seedRead()}, []string{"auth_code"}},
		{"force short auth code", gateway.Request{Action: gateway.ActionForce, Amount: 100, Read: seedRead(), AuthCode: "12"}, []string{"auth_code"}},
		{"aes ksn over 20 in the ksn form", gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: func() *card.Read {
			r := seedRead()
			r.Envelope.Format, r.Envelope.Data, r.Envelope.KSN = card.FormatKSN, "masked|00|00", aesKSN
			return r
		}()}, []string{"e_serial_number"}},
		{"description too long", gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), Description: strings.Repeat("d", 65)}, []string{"description"}},
		{"authincrement without amount", gateway.Request{Action: gateway.ActionAuthIncrement, TransactionID: "1"}, []string{"transaction_amount"}},
		{"void without id", gateway.Request{Action: gateway.ActionVoid}, []string{"id"}},
		{"ach without sec code", gateway.Request{Action: gateway.ActionDebit, Amount: 100, ACH: &gateway.ACHAccount{
			HolderName: "A", AccountType: "checking", AccountNumber: "1234", Routing: "072000326"}}, []string{"ach_sec_code"}},
		{"ach bad routing and type", gateway.Request{Action: gateway.ActionDebit, Amount: 100, ACH: &gateway.ACHAccount{
			HolderName: "A", AccountType: "money", AccountNumber: "1234", Routing: "0720", SECCode: "WEB"}}, []string{"account_type", "routing"}},
		{"unknown format", gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: &card.Read{Envelope: card.Envelope{Format: "rot13", Data: "x"}}}, []string{"e_format"}},
		{"empty envelope", gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: &card.Read{Envelope: card.Envelope{Format: card.FormatKSN}}}, []string{"e_track_data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(f.calls)
			_, err := c.Do(context.Background(), tt.req)
			if !gateway.IsInvalid(err) {
				t.Fatalf("err %v, want invalid", err)
			}
			got := map[string]bool{}
			for _, fe := range gateway.FieldErrors(err) {
				got[fe.Field] = true
			}
			for _, want := range tt.fields {
				if !got[want] {
					t.Errorf("no error for field %s in %v", want, err)
				}
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not name %s", err, want)
				}
			}
			if len(f.calls) != n {
				t.Errorf("invalid request was sent")
			}
			if strings.Contains(err.Error(), seedIDTech[:40]) {
				t.Errorf("error shows track data")
			}
		})
	}
}

// TestValidateTable drives the field table directly, for fields the
// normalized Request does not reach.
func TestValidateTable(t *testing.T) {
	tests := []struct {
		name  string
		req   TransactionRequest
		field string // "" = valid
	}{
		{"keyed sale ok", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.00", AccountNumber: "5454545454545454", ExpDate: "1229"}, ""},
		{"keyed without exp", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.00", AccountNumber: "5454545454545454"}, "exp_date"},
		{"bad exp month", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.00", AccountNumber: "5454545454545454", ExpDate: "1329"}, "exp_date"},
		{"two sources", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.00", AccountVaultID: "v", PreviousTransactionID: "p"}, "account_number"},
		{"payment method required", TransactionRequest{Action: "sale", TransactionAmount: "1.00", AccountVaultID: "v"}, "payment_method"},
		{"payment method bad", TransactionRequest{Action: "sale", PaymentMethod: "cash", TransactionAmount: "1.00", AccountVaultID: "v"}, "payment_method"},
		{"location too short", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.00", AccountVaultID: "v", LocationID: "short"}, "location_id"},
		{"location on void", TransactionRequest{Action: "void", LocationID: fakeLocationID}, "location_id"},
		{"order num on void", TransactionRequest{Action: "void", OrderNum: "A1"}, "order_num"},
		{"api id on tipadjust", TransactionRequest{Action: "tipadjust", TransactionAmount: "1.00", TransactionAPIID: "x"}, "transaction_api_id"},
		{"auth code on sale", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.00", AccountVaultID: "v", AuthCode: "123456"}, "auth_code"},
		{"ach product required", TransactionRequest{Action: "debit", PaymentMethod: "ach", TransactionAmount: "1.00", AccountVaultID: "v", ACHSECCode: "WEB"}, "product_transaction_id"},
		{"ach ok", TransactionRequest{Action: "debit", PaymentMethod: "ach", TransactionAmount: "1.00", AccountVaultID: "v", ACHSECCode: "WEB", ProductTransactionID: "p"}, ""},
		{"debit as cc", TransactionRequest{Action: "debit", PaymentMethod: "cc", TransactionAmount: "1.00", AccountVaultID: "v"}, "payment_method"},
		{"ksn needs serial", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.00", EFormat: "ksn", EncTrackData: "x|y|z"}, "e_serial_number"},
		{"serial not hex", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.00", EFormat: "idtech", EncTrackData: "x", ESerialNumber: "XYZ"}, "e_serial_number"},
		{"format without data", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.00", EFormat: "idtech", AccountVaultID: "v"}, "e_format"},
		{"entry mode", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.00", AccountVaultID: "v", EntryModeID: "Z"}, "entry_mode_id"},
		{"amount 3 decimals", TransactionRequest{Action: "sale", PaymentMethod: "cc", TransactionAmount: "1.005", AccountVaultID: "v"}, "transaction_amount"},
		{"unknown action", TransactionRequest{Action: "steal"}, "action"},
		{"edit ok", TransactionRequest{Action: "edit", Description: "note"}, ""},
		{"amount on edit", TransactionRequest{Action: "edit", TransactionAmount: "1.00"}, "transaction_amount"},
	}
	for _, tt := range tests {
		errs := validate(&tt.req)
		if tt.field == "" {
			if len(errs) != 0 {
				t.Errorf("%s: unexpected errors %v", tt.name, errs)
			}
			continue
		}
		found := false
		for _, e := range errs {
			found = found || e.Field == tt.field
		}
		if !found {
			t.Errorf("%s: errors %v, want one for %s", tt.name, errs, tt.field)
		}
	}
}

func TestStatusMapping(t *testing.T) {
	tests := []struct {
		status int
		body   string
		method string
		class  gateway.Class
		kind   error
		field  string
	}{
		{400, `{"message":"Invalid JSON"}`, "POST", gateway.Rejected, nil, ""},
		{401, `{"name":"Unauthorized","message":"bad"}`, "POST", gateway.Rejected, gateway.ErrUnauthorized, ""},
		{403, `{"message":"not signed up for ACH"}`, "POST", gateway.Rejected, nil, ""},
		{404, `{"message":"not found"}`, "PUT", gateway.Rejected, gateway.ErrNotFound, ""},
		{405, ``, "PUT", gateway.Rejected, nil, ""},
		{409, `{"message":"Gone"}`, "PUT", gateway.Rejected, gateway.ErrNotFound, ""},
		{422, `{"errors":{"transaction_amount":["Transaction Amount must be a number."]}}`, "POST", gateway.Rejected, nil, "transaction_amount"},
		{422, `{"errors":{"billing_zip":"Billing Zip is invalid."}}`, "POST", gateway.Rejected, nil, "billing_zip"},
		{422, `[{"field":"exp_date","message":"Exp Date is invalid."}]`, "POST", gateway.Rejected, nil, "exp_date"},
		{422, `{"errors":{"transaction_api_id":["Transaction Api Id has already been taken."]}}`, "POST", gateway.Rejected, gateway.ErrDuplicate, "transaction_api_id"},
		{429, `{}`, "POST", gateway.Retryable, nil, ""},
		{500, `{"message":"oops"}`, "POST", gateway.Ambiguous, nil, ""},
		{502, `<html>bad gateway</html>`, "PUT", gateway.Ambiguous, nil, ""},
		{503, ``, "GET", gateway.Retryable, nil, ""},
		{302, ``, "POST", gateway.Ambiguous, nil, ""},
		{418, `{}`, "POST", gateway.Rejected, nil, ""},
		{200, `not json`, "POST", gateway.Ambiguous, nil, ""},
		{201, `{"transaction":{}}`, "POST", gateway.Ambiguous, nil, ""},
		{200, `{"transaction":{"id":"1","status_id":999}}`, "POST", gateway.Ambiguous, nil, ""},
		{200, `{"transaction":{"id":"1","status_id":"301","reason_code_id":1500}}`, "POST", gateway.Declined, gateway.ErrDeclined, ""},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "https://elsewhere.example/")
			w.WriteHeader(tt.status)
			_, _ = w.Write([]byte(tt.body))
		}))
		c := testClient(t, srv.URL)
		var err error
		switch tt.method {
		case "POST":
			_, err = c.Do(context.Background(), gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), TransactionAPIID: "m1"})
		case "PUT":
			_, err = c.Do(context.Background(), gateway.Request{Action: gateway.ActionVoid, TransactionID: "abc"})
		case "GET":
			_, err = c.Lookup(context.Background(), "abc")
		}
		srv.Close()
		if err == nil {
			t.Errorf("%d %s: no error", tt.status, tt.method)
			continue
		}
		if got := gateway.ClassOf(err); got != tt.class {
			t.Errorf("%d %s %s: class %v, want %v (%v)", tt.status, tt.method, tt.body, got, tt.class, err)
		}
		if tt.kind != nil && !errors.Is(err, tt.kind) {
			t.Errorf("%d: %v is not %v", tt.status, err, tt.kind)
		}
		if tt.field != "" {
			fe := gateway.FieldErrors(err)
			if len(fe) == 0 || fe[0].Field != tt.field || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("%d: field errors %v, want %s", tt.status, fe, tt.field)
			}
		}
		if tt.status == 429 || tt.class == gateway.Ambiguous {
			if !gateway.NeedsResolve(err) && tt.class == gateway.Ambiguous {
				t.Errorf("%d: ambiguous but NeedsResolve false", tt.status)
			}
		}
	}
}

func TestRedactsGatewayEcho(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(422)
		_, _ = w.Write([]byte(`{"errors":{"account_number":["Card 4111111111111111 is invalid."]},"message":"card 4111111111111111"}`))
	}))
	defer srv.Close()
	_, err := testClient(t, srv.URL).Do(context.Background(), gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead()})
	if err == nil || strings.Contains(err.Error(), "4111111111111111") || !strings.Contains(err.Error(), "411111******1111") {
		t.Errorf("gateway echo of a PAN not masked: %v", err)
	}
}

func TestResolve(t *testing.T) {
	f, srv := startFake(t)
	c := testClient(t, srv.URL)
	ctx := context.Background()
	// Ids that "like"-match the target, spread over more than one page.
	for i := 0; i < resolvePageSize+3; i++ {
		id := "order" + strings.Repeat("7", 1+i%3) + "x" + itoa(i)
		if _, err := c.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), TransactionAPIID: id}); err != nil {
			t.Fatal(err)
		}
	}
	target := "order7"
	if _, err := c.Resolve(ctx, target); !errors.Is(err, gateway.ErrNotFound) {
		t.Fatalf("before the sale: %v, want ErrNotFound", err)
	}
	sale, err := c.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 4200, Read: seedRead(), TransactionAPIID: target})
	if err != nil {
		t.Fatal(err)
	}
	n := len(f.calls)
	got, err := c.Resolve(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != sale.ID || got.Amount != 4200 || got.TransactionAPIID != target {
		t.Errorf("resolved %+v, want %s", got, sale.ID)
	}
	for _, call := range f.calls[n:] {
		if !strings.HasPrefix(call, "GET /v2/transactions?") || !strings.Contains(call, "transaction_api_id=order7") ||
			!strings.Contains(call, "location_id="+fakeLocationID) {
			t.Errorf("resolve sent %q", call)
		}
	}
	if len(f.calls)-n < 2 {
		t.Errorf("resolve read %d pages; the exact match is on page 2", len(f.calls)-n)
	}
	// A second POST with the same id is a duplicate: resolve, don't re-send.
	_, err = c.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 4200, Read: seedRead(), TransactionAPIID: target})
	if !errors.Is(err, gateway.ErrDuplicate) || !gateway.NeedsResolve(err) {
		t.Errorf("duplicate: %v", err)
	}
}

func TestTLS(t *testing.T) {
	f := newFake()
	modern := httptest.NewTLSServer(f)
	defer modern.Close()
	c := testClient(t, modern.URL, func(o *Options) { o.Transport = modern.Client().Transport })
	if _, err := c.LocationInfos(context.Background()); err != nil {
		t.Fatalf("TLS 1.2+ server: %v", err)
	}

	old := httptest.NewUnstartedServer(f)
	old.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	old.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	old.StartTLS()
	defer old.Close()
	// The test server's own client allows any version; the client must
	// still insist on TLS 1.2.
	tr := old.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.MinVersion = tls.VersionTLS10
	c = testClient(t, old.URL, func(o *Options) { o.Transport = tr })
	n := len(f.calls)
	_, err := c.Do(context.Background(), gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), TransactionAPIID: "tls1"})
	if !gateway.IsRetryable(err) {
		t.Fatalf("TLS 1.1 server: %v, want a retryable handshake failure", err)
	}
	if len(f.calls) != n {
		t.Errorf("request reached a TLS 1.1 server")
	}
	if tr.TLSClientConfig.MinVersion != tls.VersionTLS10 {
		t.Errorf("New changed the caller's transport")
	}
}

func TestTransportFailures(t *testing.T) {
	// An unresolvable name: .invalid never resolves (RFC 6761).
	c := testClient(t, "https://gateway.invalid")
	_, err := c.Do(context.Background(), gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), TransactionAPIID: "dns1"})
	if !gateway.IsRetryable(err) {
		t.Errorf("DNS failure: %v, want retryable", err)
	}
	// A context that is already done sends nothing.
	_, srv := startFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = testClient(t, srv.URL).Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead()})
	if !gateway.IsRetryable(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestTimeoutAmbiguous: a server that takes the request and never answers.
func TestTimeoutAmbiguous(t *testing.T) {
	got := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body: only then does the server watch the connection
		// and cancel r.Context() when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		got <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := testClient(t, srv.URL, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	_, err := c.Do(context.Background(), gateway.Request{Action: gateway.ActionVoid, TransactionID: "abc"})
	if !gateway.IsAmbiguous(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout after the write: %v, want ambiguous deadline", err)
	}
	select {
	case <-got:
	default:
		t.Fatal("server never saw the request")
	}
}

// TestLogsNoCardData runs a sale with debug logging and checks that no
// track data, KSN counter or PAN reached the log, and that what should be
// there is.
func TestLogsNoCardData(t *testing.T) {
	_, srv := startFake(t)
	var buf bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := testClient(t, srv.URL, func(o *Options) { o.Logger = lg })
	if _, err := c.Do(context.Background(), gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), TransactionAPIID: "log1"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, secret := range []string{seedIDTech[20:60], seedKSN, "5428377011880254", fakeAPIKey} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q: %s", secret, out)
		}
	}
	for _, want := range []string{`"method":"POST"`, `"path":"/v2/transactions"`, `"status":201`, `"transaction_api_id":"log1"`, `"latency"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
}
