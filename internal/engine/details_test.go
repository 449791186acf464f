package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/sale"
)

// requiringGateway is a fake gateway whose merchant settings require
// fields: Precheck refuses a request lacking one as a Paya client with
// loaded settings does (ErrMissingField naming the field).
type requiringGateway struct {
	*fakeGateway
	require map[string]func(gateway.Request) bool // field -> present
}

func (g requiringGateway) Precheck(req gateway.Request) error {
	var fields []gateway.FieldError
	for _, f := range []string{"checkin_date", "order_num", "subtotal_amount", "surcharge_amount"} {
		if present, ok := g.require[f]; ok && !present(req) {
			fields = append(fields, gateway.FieldError{Field: f, Message: "required: the product's settings require it"})
		}
	}
	if len(fields) > 0 {
		return &gateway.Error{Class: gateway.Invalid, Kind: gateway.ErrMissingField, Fields: fields}
	}
	return nil
}

// TestSaleDetailsRefusedBeforeCard: a sale whose breakdown or stay is
// malformed, does not add up, or lacks what the merchant's settings
// require is refused at StartSale — no journal record, no prompt, the
// reader not armed, nothing sent — with a code and a message naming the
// field.
func TestSaleDetailsRefusedBeforeCard(t *testing.T) {
	h := newHarness(t, nil)
	rg := requiringGateway{require: map[string]func(gateway.Request) bool{
		"order_num": func(r gateway.Request) bool { return r.OrderNum != "" },
	}}
	hr := newHarness(t, func(c *Config) { rg.fakeGateway = c.Gateway.(*fakeGateway); c.Gateway = rg })
	cases := []struct {
		name  string
		h     *harness
		req   SaleRequest
		code  string
		field string
	}{
		{"surcharge without subtotal", h, SaleRequest{Amount: "10.30", SurchargeAmount: "0.30"}, CodeMissingField, "subtotal_amount"},
		{"tax without subtotal", h, SaleRequest{Amount: "10.80", Tax: "0.80"}, CodeMissingField, "subtotal_amount"},
		{"sum short", h, SaleRequest{Amount: "10.00", SubtotalAmount: "10.00", SurchargeAmount: "0.30"}, CodeInvalid, "subtotal_amount + surcharge_amount + tax is 10.30"},
		{"sum with tip", h, SaleRequest{Amount: "10.00", TipAmount: "2.00", SubtotalAmount: "10.00"}, CodeInvalid, "charges 12.00"},
		{"subtotal not an amount", h, SaleRequest{Amount: "10.00", SubtotalAmount: "ten"}, CodeInvalid, "subtotal_amount"},
		{"negative tax", h, SaleRequest{Amount: "10.00", SubtotalAmount: "10.50", Tax: "-0.50"}, CodeInvalid, "tax"},
		{"room rate", h, SaleRequest{Amount: "10.00", RoomRate: "1e3"}, CodeInvalid, "room_rate"},
		{"checkin format", h, SaleRequest{Amount: "10.00", CheckinDate: "12/01/2026"}, CodeInvalid, "checkin_date"},
		{"checkout format", h, SaleRequest{Amount: "10.00", CheckoutDate: "2026-13-01"}, CodeInvalid, "checkout_date"},
		{"stay backwards", h, SaleRequest{Amount: "10.00", CheckinDate: "2026-12-04", CheckoutDate: "2026-12-01"}, CodeInvalid, "checkout_date"},
		{"settings require order_num", hr, SaleRequest{Amount: "10.00"}, CodeMissingField, "order_num"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Origin = "http://127.0.0.1:7380"
			_, err := tc.h.e.StartSale(context.Background(), tc.req)
			var ee *Error
			if !errors.As(err, &ee) || ee.Code != tc.code || !strings.Contains(ee.Message, tc.field) {
				t.Fatalf("StartSale = %v, want %s naming %q", err, tc.code, tc.field)
			}
			if recs, _, _ := tc.h.e.Unacked("", 0); len(recs) != 0 {
				t.Errorf("journal holds %d records", len(recs))
			}
			select {
			case u := <-tc.h.upd:
				t.Errorf("update %+v after a refused sale", u)
			default:
			}
			if len(tc.h.rd.armed) != 0 || len(tc.h.gw.calls) != 0 {
				t.Errorf("reader armed %d times, gateway called %d times", len(tc.h.rd.armed), len(tc.h.gw.calls))
			}
		})
	}
}

// TestSaleDetailsSent: the breakdown and the stay are journaled with the
// pending sale and go to the gateway with the card; a zero surcharge is
// sent as 0.00, not left out.
func TestSaleDetailsSent(t *testing.T) {
	rg := requiringGateway{require: map[string]func(gateway.Request) bool{
		"subtotal_amount":  func(r gateway.Request) bool { return r.Subtotal != nil },
		"surcharge_amount": func(r gateway.Request) bool { return r.Surcharge != nil },
	}}
	h := newHarness(t, func(c *Config) { rg.fakeGateway = c.Gateway.(*fakeGateway); c.Gateway = rg })
	rec, err := h.e.StartSale(context.Background(), SaleRequest{Origin: "o", Amount: "110.00", TipAmount: "10.00",
		SubtotalAmount: "115.00", SurchargeAmount: "0", Tax: "5.00",
		CheckinDate: "2026-12-01", CheckoutDate: "2026-12-04", RoomRate: "39.50"})
	if err != nil {
		t.Fatal(err)
	}
	got := h.stored(rec.TransactionAPIID)
	if got.SubtotalAmount != "115.00" || got.SurchargeAmount != "0" || got.Tax != "5.00" || got.CheckinDate != "2026-12-01" ||
		got.CheckoutDate != "2026-12-04" || got.RoomRate != "39.50" {
		t.Errorf("journaled %+v", got)
	}
	h.next(sale.UpdatePrompt, rec.TransactionAPIID)
	h.swipe(h.read())
	if res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result; res.Outcome != sale.OutcomeApproved {
		t.Fatalf("result %+v", res)
	}
	req := h.gw.calls[0]
	if req.Amount != 12000 || req.Subtotal == nil || *req.Subtotal != 11500 || req.Surcharge == nil || *req.Surcharge != 0 ||
		req.Tax == nil || *req.Tax != 500 || req.RoomRate == nil || *req.RoomRate != 3950 ||
		req.CheckinDate != "2026-12-01" || req.CheckoutDate != "2026-12-04" {
		t.Errorf("gateway request %+v", req)
	}
}

// TestCompleteCarriesDetails: completing an authorization for the amount
// authorized sends the authorization's breakdown and stay with it (a
// surcharge or auto-tax product requires it on authcomplete too); a
// completion of another amount goes without (the breakdown would not add
// up).
func TestCompleteCarriesDetails(t *testing.T) {
	h := newHarness(t, nil)
	rec, err := h.e.StartSale(context.Background(), SaleRequest{Origin: OriginUI, Action: "authonly", Amount: "10.30",
		SubtotalAmount: "10.00", SurchargeAmount: "0.30", CheckinDate: "2026-12-01", CheckoutDate: "2026-12-02", RoomRate: "10.30"})
	if err != nil {
		t.Fatal(err)
	}
	h.next(sale.UpdatePrompt, rec.TransactionAPIID)
	h.swipe(h.read())
	res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
	for i, amount := range []string{"", "10.30", "9.00"} {
		f, err := h.e.FollowUp(context.Background(), FollowUpRequest{Origin: OriginUI, Action: "complete", TransactionID: res.TransactionID, Amount: amount})
		if err != nil {
			t.Fatal(err)
		}
		h.next(sale.UpdateResult, f.TransactionAPIID)
		req := h.gw.calls[1+i]
		carried := req.Subtotal != nil && *req.Subtotal == 1000 && req.Surcharge != nil && *req.Surcharge == 30 && req.CheckinDate == "2026-12-01"
		if want := amount != "9.00"; carried != want {
			t.Errorf("complete of %q: breakdown sent %v, want %v (%+v)", amount, carried, want, req)
		}
	}
}

// FuzzParseDetails: whatever a page sends in the settings fields, the
// check never panics, and what it accepts is what the gateway takes: a
// breakdown that adds up to the charge and a stay that does not end before
// it starts.
func FuzzParseDetails(f *testing.F) {
	f.Add("10.30", "10.00", "0.30", "", "2026-12-01", "2026-12-04", "80.00")
	f.Add("1", "", "1", "x", "2026-02-30", "", "-1")
	f.Fuzz(func(t *testing.T, total, sub, sur, tax, in, out, rate string) {
		charge, err := gateway.ParseAmount(total)
		if err != nil {
			return
		}
		d, err := parseDetails(SaleRequest{SubtotalAmount: sub, SurchargeAmount: sur, Tax: tax, CheckinDate: in, CheckoutDate: out, RoomRate: rate}, charge)
		if err != nil {
			return
		}
		if d.subtotal != nil {
			sum := *d.subtotal
			for _, a := range []*gateway.Amount{d.surcharge, d.tax} {
				if a != nil {
					sum += *a
				}
			}
			if sum != charge {
				t.Fatalf("accepted a breakdown of %s for a charge of %s", sum, charge)
			}
		} else if d.surcharge != nil || d.tax != nil {
			t.Fatal("accepted a surcharge or tax without a subtotal")
		}
		for _, a := range []*gateway.Amount{d.subtotal, d.surcharge, d.tax, d.roomRate} {
			if a != nil && *a < 0 {
				t.Fatalf("accepted a negative amount %s", *a)
			}
		}
		if d.checkin != "" && d.checkout != "" && d.checkout < d.checkin {
			t.Fatalf("accepted a stay from %s to %s", d.checkin, d.checkout)
		}
	})
}
