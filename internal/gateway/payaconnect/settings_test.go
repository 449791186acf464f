package payaconnect

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/payaconnect/payarules"
	"github.com/posagent/posagent/internal/gateway/sandbox"
)

func amt(a gateway.Amount) *gateway.Amount { return &a }

// TestMerchantSettingsConform: for each merchant-settings product of the
// sandbox, the client reads the settings from locationinfos; a sale without
// the fields they require is refused by Precheck naming exactly those
// fields, before anything is sent; a sale, authonly, authcomplete, force
// and refunds with the fields are approved, and every body the client sent
// passes the sandbox's request rules.
func TestMerchantSettingsConform(t *testing.T) {
	cs, url := newCheckingSandbox(t)
	ctx := context.Background()
	stay := func(r *gateway.Request) {
		r.CheckinDate, r.CheckoutDate, r.RoomRate = "2026-12-01", "2026-12-04", amt(12000)
	}
	cases := []struct {
		product string
		want    payarules.Settings
		missing []string // what a bare sale lacks
		fill    func(r *gateway.Request)
	}{
		{sandbox.ProductCCID, payarules.Settings{}, nil, func(*gateway.Request) {}},
		{sandbox.ProductSurchargeID, payarules.Settings{Surcharge: true}, []string{"subtotal_amount", "surcharge_amount"},
			func(r *gateway.Request) { r.Subtotal, r.Surcharge = amt(r.Amount-30), amt(30) }},
		{sandbox.ProductAutoTaxID, payarules.Settings{AutoTax: true}, []string{"subtotal_amount", "tax"},
			func(r *gateway.Request) { r.Subtotal, r.Tax = amt(r.Amount-80), amt(80) }},
		{sandbox.ProductLodgingID, payarules.Settings{Lodging: true}, []string{"checkin_date", "checkout_date", "room_rate"}, stay},
		{sandbox.ProductOrderNumID, payarules.Settings{OrderNumCheck: true}, []string{"order_num"},
			func(r *gateway.Request) { r.OrderNum = "ON" + gatewayID("")[:12] }},
	}
	for _, tc := range cases {
		t.Run(tc.product, func(t *testing.T) {
			c := testClient(t, url, func(o *Options) { o.LocationID, o.ProductTransactionID = sandbox.LocationID, tc.product })
			if _, known := c.Settings(); known {
				t.Fatal("settings known before LoadSettings")
			}
			got, err := c.LoadSettings(ctx)
			if err != nil || got != tc.want {
				t.Fatalf("LoadSettings = %+v, %v; want %+v", got, err, tc.want)
			}
			bare := gateway.Request{Action: gateway.ActionSale, Amount: 1500, TransactionAPIID: gatewayID("b")}
			err = c.Precheck(bare)
			var fields []string
			for _, f := range gateway.FieldErrors(err) {
				fields = append(fields, f.Field)
			}
			if !slices.Equal(fields, tc.missing) {
				t.Errorf("Precheck of a bare sale: %v; want fields %v", err, tc.missing)
			}
			if len(tc.missing) > 0 {
				if _, err := c.Do(ctx, bare); !gateway.IsInvalid(err) {
					t.Errorf("Do of a bare sale: %v, want refused before sending", err)
				}
			}
			do := func(r gateway.Request) *gateway.Result {
				t.Helper()
				res, err := c.Do(ctx, r)
				if err != nil || !res.Approved() {
					t.Fatalf("%s: %v %+v", r.Action, err, res)
				}
				return res
			}
			sale := gateway.Request{Action: gateway.ActionSale, Amount: 1500, Read: seedRead(), TransactionAPIID: gatewayID("s")}
			tc.fill(&sale)
			if err := c.Precheck(sale); err != nil {
				t.Errorf("Precheck with the fields: %v", err)
			}
			s := do(sale)
			auth := gateway.Request{Action: gateway.ActionAuthOnly, Amount: 2000, Read: seedRead(), TransactionAPIID: gatewayID("a")}
			tc.fill(&auth)
			a := do(auth)
			complete := gateway.Request{Action: gateway.ActionAuthComplete, Amount: 1900, TransactionID: a.ID}
			if tc.want.AmountsRequired("authcomplete") {
				tc.fill(&complete)
			}
			do(complete)
			do(gateway.Request{Action: gateway.ActionRefund, Amount: 100, TransactionID: s.ID, TransactionAPIID: gatewayID("r")})
			force := gateway.Request{Action: gateway.ActionForce, Amount: 300, AuthCode: "123456", Read: seedRead(), TransactionAPIID: gatewayID("f")}
			if tc.want.Lodging || tc.want.OrderNumCheck {
				tc.fill(&force)
			}
			do(force)
		})
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, r := range cs.refused {
		t.Errorf("sandbox rules refuse what the client sent: %s", r)
	}
}

// TestMerchantSettingsSum: with a surcharge, transaction_amount must be the
// sum of the breakdown; the client refuses a wrong sum before sending.
func TestMerchantSettingsSum(t *testing.T) {
	_, url := newCheckingSandbox(t)
	c := testClient(t, url, func(o *Options) {
		o.LocationID, o.ProductTransactionID = sandbox.LocationID, sandbox.ProductSurchargeID
	})
	if _, err := c.LoadSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := c.Precheck(gateway.Request{Action: gateway.ActionSale, Amount: 1500, Subtotal: amt(1500), Surcharge: amt(30)})
	if f := gateway.FieldErrors(err); len(f) != 1 || f[0].Field != "transaction_amount" {
		t.Errorf("wrong sum: %v, want one error on transaction_amount", err)
	}
}

// TestMerchantSettingsUnknown: settings that cannot be read stay unknown
// and the client checks nothing more: the gateway decides (here the
// sandbox's 422 names the field).
func TestMerchantSettingsUnknown(t *testing.T) {
	_, url := newCheckingSandbox(t)
	ctx := context.Background()
	c := testClient(t, url, func(o *Options) {
		o.LocationID, o.ProductTransactionID = sandbox.LocationID, "11ef5a4dcc0ffee1c0ca0000"
	})
	if _, err := c.LoadSettings(ctx); err == nil {
		t.Fatal("LoadSettings of a product the location does not have succeeded")
	}
	if _, known := c.Settings(); known {
		t.Error("settings known after a failed load")
	}
	down := testClient(t, "http://127.0.0.1:1")
	if _, err := down.LoadSettings(ctx); err == nil {
		t.Error("LoadSettings with the gateway down succeeded")
	}
	sur := testClient(t, url, func(o *Options) {
		o.LocationID, o.ProductTransactionID = sandbox.LocationID, sandbox.ProductSurchargeID
	})
	if err := sur.Precheck(gateway.Request{Action: gateway.ActionSale, Amount: 1500}); err != nil {
		t.Errorf("Precheck with unknown settings: %v", err)
	}
	_, err := sur.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 1500, Read: seedRead(), TransactionAPIID: gatewayID("u")})
	if !gateway.IsRejected(err) || len(gateway.FieldErrors(err)) == 0 || gateway.FieldErrors(err)[0].Field != "subtotal_amount" {
		t.Errorf("sale on a surcharge product, settings unknown: %v, want the gateway's 422 on subtotal_amount", err)
	}
}

// TestProductSettingsDecode reads the settings from the seed's own sample
// shapes: flags as booleans or 0/1, surcharge null or an object.
func TestProductSettingsDecode(t *testing.T) {
	cases := []struct {
		json string
		want payarules.Settings
	}{
		{`{"surcharge": null, "vt_enable_sales_tax": true, "tax_surcharge_config": 2, "vt_order_num": false, "industry_type": "retail"}`, payarules.Settings{AutoTax: true}},
		{`{"surcharge": {"id": "x"}, "vt_enable_sales_tax": 0, "tax_surcharge_config": "2", "vt_order_num": 1, "industry_type": "Lodging"}`,
			payarules.Settings{Surcharge: true, OrderNumCheck: true, Lodging: true}},
		{`{"vt_enable_sales_tax": true, "tax_surcharge_config": 1}`, payarules.Settings{}},
		{`{}`, payarules.Settings{}},
	}
	for _, tc := range cases {
		var p ProductTransaction
		if err := json.Unmarshal([]byte(tc.json), &p); err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		if got := p.Settings(); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.json, got, tc.want)
		}
	}
}
