package app

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/ui"
)

// TestMerchantSettingsEndToEnd runs the real binary (`posagent run`)
// against the sandbox with each merchant-settings product configured: the
// agent reads the product's settings at start; a websocket sale without
// the fields they require is refused with missing_field naming each field
// before any card is asked for (no prompt, nothing at the gateway); a sale
// whose breakdown does not add up is refused the same way (invalid_request);
// the same sale with the fields is approved with a simulated card.
func TestMerchantSettingsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPosagent(t)
	cases := []struct {
		name, product string
		missing       []string
		bad           map[string]any // with the fields, but wrong
		good          map[string]any
	}{
		{"surcharge", sandbox.ProductSurchargeID, []string{"subtotal_amount", "surcharge_amount"},
			map[string]any{"amount": "10.30", "subtotal_amount": "10.00", "surcharge_amount": "0.20"},
			map[string]any{"amount": "10.30", "subtotal_amount": "10.00", "surcharge_amount": "0.30"}},
		{"autotax", sandbox.ProductAutoTaxID, []string{"subtotal_amount", "tax"},
			map[string]any{"amount": "10.80", "subtotal_amount": "10.80", "tax": "0.80"},
			map[string]any{"amount": "10.80", "subtotal_amount": "10.00", "tax": "0.80"}},
		{"lodging", sandbox.ProductLodgingID, []string{"checkin_date", "checkout_date", "room_rate"},
			map[string]any{"amount": "240.00", "checkin_date": "2026-12-04", "checkout_date": "2026-12-01", "room_rate": "80.00"},
			map[string]any{"amount": "240.00", "checkin_date": "2026-12-01", "checkout_date": "2026-12-04", "room_rate": "80.00"}},
		{"order_num", sandbox.ProductOrderNumID, []string{"order_num"},
			map[string]any{"amount": "12.00", "order_num": "A-1001"},
			map[string]any{"amount": "12.00", "order_num": "A1001"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sb := sandbox.New(sandbox.Options{})
			gw := httptest.NewServer(sb)
			defer gw.Close()
			const origin = "https://pos.example"
			l := startLaneWith(t, bin, gw.URL, fmt.Sprintf("product_transaction_id = %q\n", tc.product), origin)
			p := openPage(t, l.base, origin)

			// Without the fields: refused before the card.
			p.send(map[string]any{"type": "sale", "id": "bare", "amount": tc.good["amount"]})
			r := p.wait(func(m map[string]any) bool { return m["id"] == "bare" }, "reply to bare")
			if r["type"] != "error" || r["code"] != engine.CodeMissingField {
				t.Fatalf("sale without %v: %s, want an error with code missing_field before any prompt", tc.missing, r["_raw"])
			}
			for _, f := range tc.missing {
				if !strings.Contains(str(r["message"]), f) {
					t.Errorf("the refusal does not name %s: %s", f, r["_raw"])
				}
			}
			// Malformed: refused before the card too.
			bad := map[string]any{"type": "sale", "id": "bad"}
			for k, v := range tc.bad {
				bad[k] = v
			}
			p.send(bad)
			if r := p.wait(func(m map[string]any) bool { return m["id"] == "bad" }, "reply to bad"); r["type"] != "error" {
				t.Fatalf("sale %v: %s, want an error before any prompt", tc.bad, r["_raw"])
			}
			if n := len(sb.Summaries()); n != 0 {
				t.Fatalf("the gateway holds %d transactions after two refused sales", n)
			}

			// With the fields: approved.
			res := p.sale("good", tc.good, "visa")
			if res["outcome"] != "approved" {
				t.Fatalf("sale with %v: %s", tc.good, res["_raw"])
			}
			sums := sb.Summaries()
			if len(sums) != 1 || sums[0].StatusID != 101 || sums[0].TransactionAPIID != str(res["transaction_api_id"]) {
				t.Errorf("gateway holds %+v, want the one approved sale", sums)
			}
			if want := str(tc.good["order_num"]); want != "" && sums[0].OrderNum != want {
				t.Errorf("order_num at the gateway %q, want %q", sums[0].OrderNum, want)
			}
			// An authorization with the fields completes: the completion
			// carries the authorization's breakdown, which these products
			// require on authcomplete too.
			auth := map[string]any{"action": "authonly"}
			for k, v := range tc.good {
				auth[k] = v
			}
			if tc.name == "order_num" {
				auth["order_num"] = "A1002" // the duplicate check
			}
			ar := p.sale("auth", auth, "visa")
			if ar["outcome"] != "approved" {
				t.Fatalf("authonly with %v: %s", auth, ar["_raw"])
			}
			p.send(map[string]any{"type": "complete", "id": "done", "transaction_id": str(obj(ar, "transaction")["id"])})
			if cr := p.result("done"); cr["outcome"] != "approved" {
				t.Errorf("complete of the authorization: %s", cr["_raw"])
			}
			// The agent said at start what the product needs.
			l.stop()
			log, _ := os.ReadFile(filepath.Join(filepath.Dir(l.state), "agent.log"))
			if !strings.Contains(string(log), "merchant settings read") {
				t.Errorf("the agent log does not report the settings read at start")
			}
		})
	}
}

// TestMerchantSettingsUnreadable: a product the gateway does not list
// leaves the settings unknown; the agent starts, says so in a warning, and
// serves (the gateway decides about each sale).
func TestMerchantSettingsUnreadable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPosagent(t)
	sb := sandbox.New(sandbox.Options{})
	gw := httptest.NewServer(sb)
	defer gw.Close()
	const origin = "https://pos.example"
	l := startLaneWith(t, bin, gw.URL, "product_transaction_id = \"11ef5a4dcc0ffee1c0ca0000\"\n", origin)
	p := openPage(t, l.base, origin)
	p.send(map[string]any{"type": "status", "id": "q"})
	if r := p.reply("status", "q"); r["type"] != "status" {
		t.Fatalf("status: %s", r["_raw"])
	}
	l.stop()
	log, _ := os.ReadFile(filepath.Join(filepath.Dir(l.state), "agent.log"))
	if !strings.Contains(string(log), "could not read the merchant settings") {
		t.Errorf("no warning about the unreadable settings in the agent log:\n%s", log)
	}
}

// TestUIBackendMerchantSettings: the cashier window's backend on a demo
// agent whose sandbox product has a surcharge: the status names the fields
// a sale needs, a window sale without them is refused naming them, one with
// them starts, and the Find button (DiscoverLocation) reads the settings
// again and reports them on the configured location.
func TestUIBackendMerchantSettings(t *testing.T) {
	cfg := testConfig()
	cfg.Gateway.ProductTransactionID = sandbox.ProductSurchargeID
	a, err := New(Options{Config: cfg, StateDir: t.TempDir(), Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	b := a.UIBackend()
	want := []string{"subtotal_amount", "surcharge_amount"}
	if got := b.Status().SaleRequires; !slices.Equal(got, want) {
		t.Errorf("status SaleRequires %v, want %v", got, want)
	}
	ctx := context.Background()
	if _, err := b.Sale(ctx, "sale", "10.30", ui.SaleFields{}); err == nil || !strings.Contains(err.Error(), "subtotal_amount") {
		t.Errorf("window sale without the breakdown: %v, want refused naming subtotal_amount", err)
	}
	for deadline := time.Now().Add(5 * time.Second); len(a.Manager().Devices()) == 0 || a.Manager().Devices()[0].Status != sale.ReaderOK; {
		if time.Now().After(deadline) {
			t.Fatal("the simulated reader never attached")
		}
		time.Sleep(20 * time.Millisecond)
	}
	id, err := b.Sale(ctx, "sale", "10.30", ui.SaleFields{SubtotalAmount: "10.00", SurchargeAmount: "0.30"})
	if err != nil {
		t.Fatalf("window sale with the breakdown: %v", err)
	}
	if err := b.Cancel(ctx, id); err != nil {
		t.Errorf("cancel: %v", err)
	}
	locs, err := b.DiscoverLocation(ctx)
	if err != nil || len(locs) != 1 || !slices.Equal(locs[0].SaleRequires, want) {
		t.Errorf("DiscoverLocation = %+v, %v", locs, err)
	}
}
