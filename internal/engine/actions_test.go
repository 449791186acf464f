package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/sale"
)

// withActions lets the fake gateway take force, avsonly, authincrement and
// partialreversal.
func withActions(h *harness) *harness {
	for _, a := range []gateway.Action{gateway.ActionForce, gateway.ActionAVSOnly, gateway.ActionAuthIncrement, gateway.ActionPartialReversal} {
		h.gw.caps.Actions[a] = true
	}
	return h
}

var errLostAnswer = &gateway.Error{Class: gateway.Ambiguous, Err: errors.New("timeout after the request was sent")}

// changeOriginal makes the fake gateway apply an amount change to the
// transaction it names (what Paya does on PUT), as the n-th call's effect.
func (h *harness) changeOriginal(req gateway.Request) *gateway.Result {
	h.gw.mu.Lock()
	defer h.gw.mu.Unlock()
	for _, r := range h.gw.committed {
		if r.ID == req.TransactionID {
			r.Amount = req.Amount
			return r
		}
	}
	h.t.Fatalf("no transaction %s at the fake gateway", req.TransactionID)
	return nil
}

func (h *harness) callsOf(a gateway.Action) []gateway.Request {
	h.gw.mu.Lock()
	defer h.gw.mu.Unlock()
	var out []gateway.Request
	for _, c := range h.gw.calls {
		if c.Action == a {
			out = append(out, c)
		}
	}
	return out
}

// An increment and a partial reversal send the new total on the earlier
// transaction; when the answer is lost after the gateway applied it, the
// lookup of that transaction shows the new total and the change is
// adopted: one request, one effect. When the gateway never got it, the
// lookup proves that and the same request goes once more.
func TestAmountChanges(t *testing.T) {
	for _, tc := range []struct {
		action, from, to string
		lost, applied    bool // the first answer is lost; the gateway had applied it
		wantSends        int
	}{
		{"authincrement", "50.00", "60.00", false, false, 1},
		{"authincrement", "50.00", "60.00", true, true, 1},
		{"authincrement", "50.00", "60.00", true, false, 2},
		{"partialreversal", "50.00", "35.00", false, false, 1},
		{"partialreversal", "50.00", "35.00", true, true, 1},
		{"partialreversal", "50.00", "35.00", true, false, 2},
	} {
		name := tc.action
		if tc.lost {
			name += map[bool]string{true: "/lost after commit", false: "/lost before commit"}[tc.applied]
		}
		t.Run(name, func(t *testing.T) {
			h := withActions(newHarness(t, nil))
			auth, err := h.e.StartSale(context.Background(), SaleRequest{ClientID: "a1", Origin: pageA, Action: "authonly", Amount: tc.from})
			if err != nil {
				t.Fatal(err)
			}
			h.swipe(h.read())
			orig := h.next(sale.UpdateResult, auth.TransactionAPIID).Result
			h.gw.script = func(n int, req gateway.Request) (bool, *gateway.Result, error) {
				sends := len(h.callsOf(req.Action))
				switch {
				case req.Action != gateway.Action(tc.action):
					return true, nil, nil
				case tc.lost && sends == 1 && tc.applied:
					h.changeOriginal(req)
					return false, nil, errLostAnswer
				case tc.lost && sends == 1:
					return false, nil, &gateway.Error{Class: gateway.Ambiguous, Err: errors.New("connection reset")}
				}
				r := *h.changeOriginal(req)
				return false, &r, nil
			}
			rec, err := h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "c1", Origin: pageA, Action: tc.action,
				TransactionID: orig.TransactionID, Amount: tc.to})
			if err != nil {
				t.Fatal(err)
			}
			if got := h.stored(rec.TransactionAPIID); got.Action != tc.action || got.Amount != tc.to || got.OrigTransaction != orig.TransactionID {
				t.Fatalf("journaled before sending: %+v", got)
			}
			res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
			if res.Outcome != sale.OutcomeApproved {
				t.Fatalf("result %+v", res)
			}
			sends := h.callsOf(gateway.Action(tc.action))
			if len(sends) != tc.wantSends {
				t.Fatalf("%d sends, want %d", len(sends), tc.wantSends)
			}
			want, _ := gateway.ParseAmount(tc.to)
			for _, s := range sends {
				if s.TransactionID != orig.TransactionID || s.Amount != want || s.Read != nil {
					t.Fatalf("request %+v", s)
				}
			}
			if now, _ := h.gw.Lookup(context.Background(), orig.TransactionID); now.Amount != want {
				t.Fatalf("the authorization is now %s, want %s", now.Amount, want)
			}
		})
	}
}

// A change whose lookup shows the old total is not adopted: the lost
// increment is sent again, and the record is approved only when the total
// shows.
func TestChangeVisible(t *testing.T) {
	rec := journal.Record{Action: "authincrement", Amount: "60.00"}
	for _, tc := range []struct {
		res  *gateway.Result
		want bool
	}{
		{&gateway.Result{Outcome: gateway.OutcomeApproved, StatusID: 102, Amount: 6000}, true},
		{&gateway.Result{Outcome: gateway.OutcomeApproved, StatusID: 102, Amount: 5000}, false},
		{&gateway.Result{Outcome: gateway.OutcomeApproved, StatusID: 201, Amount: 6000}, false},
		{&gateway.Result{Outcome: gateway.OutcomeDeclined, StatusID: 301, Amount: 6000}, false},
		{nil, false},
	} {
		if got := changeVisible(rec, tc.res); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.res, got, tc.want)
		}
	}
	if !changeVisible(journal.Record{Action: "void"}, &gateway.Result{StatusID: 201}) {
		t.Error("a void is still judged by effectVisible")
	}
}

// A force and an avsonly read a card like a sale, carry their own fields
// beside it, and are journaled with their transaction_api_id before the
// card is asked for; a lost answer is resolved by that id, never re-sent.
func TestForceAndAVSOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  SaleRequest
		lost bool
	}{
		{"force", SaleRequest{Action: "force", Amount: "42.00", AuthCode: "VOX123"}, false},
		{"force lost after commit", SaleRequest{Action: "force", Amount: "42.00", AuthCode: "VOX123"}, true},
		{"avsonly", SaleRequest{Action: "avsonly", BillingZip: "32606", BillingStreet: "5800 NW 39th AVE"}, false},
		{"avsonly lost after commit", SaleRequest{Action: "avsonly", Amount: "0.00", BillingZip: "32606"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := withActions(newHarness(t, nil))
			h.gw.script = func(n int, req gateway.Request) (bool, *gateway.Result, error) {
				res := &gateway.Result{ID: "tx-" + req.TransactionAPIID, TransactionAPIID: req.TransactionAPIID, Outcome: gateway.OutcomeApproved,
					StatusID: 101, AuthCode: req.AuthCode, Amount: req.Amount, AVS: "GOOD"}
				if tc.lost {
					return true, res, errLostAnswer
				}
				return true, res, nil
			}
			req := tc.req
			req.ClientID, req.Origin = "x1", pageA
			rec, err := h.e.StartSale(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.stored(rec.TransactionAPIID); got.State != sale.StatePending || got.Action != req.Action {
				t.Fatalf("journaled before the card: %+v", got)
			}
			h.swipe(h.read())
			res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
			if res.Outcome != sale.OutcomeApproved || res.AVS != "GOOD" {
				t.Fatalf("result %+v", res)
			}
			sends := h.callsOf(gateway.Action(req.Action))
			if len(sends) != 1 || h.gw.charges() != 1 {
				t.Fatalf("%d sends, %d transactions: want one of each", len(sends), h.gw.charges())
			}
			s := sends[0]
			if s.Read == nil || s.TransactionAPIID != rec.TransactionAPIID || s.AuthCode != req.AuthCode ||
				s.Billing.Zip != req.BillingZip || s.Billing.Street != req.BillingStreet {
				t.Fatalf("request %+v", s)
			}
			if req.Action == "avsonly" && (s.Amount != 0 || rec.Amount != "0.00") {
				t.Fatalf("an avsonly moved money: sent %s, journaled %s", s.Amount, rec.Amount)
			}
			// The billing address stays out of the journal file.
			h.e.Close(time.Second)
			h.j.Close()
			b, err := os.ReadFile(h.path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(rec.TransactionAPIID)) {
				t.Fatal("the journal file lacks the record (the test would prove nothing)")
			}
			if req.BillingStreet != "" && bytes.Contains(b, []byte(req.BillingStreet)) {
				t.Fatal("the journal file holds the billing street")
			}
		})
	}
}

// Wrong fields are refused before anything is journaled or a card asked
// for, each naming what to fix; a gateway without the action refuses it as
// unsupported.
func TestCardActionRefusals(t *testing.T) {
	h := withActions(newHarness(t, nil))
	for _, tc := range []struct {
		req      SaleRequest
		code, in string
	}{
		{SaleRequest{Action: "force", Amount: "5.00"}, CodeInvalid, "auth_code"},
		{SaleRequest{Action: "force", Amount: "5.00", AuthCode: "12345"}, CodeInvalid, "auth_code"},
		{SaleRequest{Action: "force", Amount: "5.00", AuthCode: "12-456"}, CodeInvalid, "auth_code"},
		{SaleRequest{Action: "force", Amount: "5.00", AuthCode: "123456", BillingZip: "32606"}, CodeInvalid, "billing_zip"},
		{SaleRequest{Action: "force", AuthCode: "123456"}, CodeInvalid, "amount"},
		{SaleRequest{Action: "force", Amount: "5.00", AuthCode: "123456", CardToken: "tok_1"}, CodeInvalid, "card_token"},
		{SaleRequest{Action: "avsonly"}, CodeInvalid, "billing_zip"},
		{SaleRequest{Action: "avsonly", BillingZip: "32606;"}, CodeInvalid, "billing_zip"},
		{SaleRequest{Action: "avsonly", BillingZip: "32606", Amount: "1.00"}, CodeInvalid, "moves no money"},
		{SaleRequest{Action: "avsonly", BillingZip: "32606", TipAmount: "1.00"}, CodeInvalid, "tip_amount"},
		{SaleRequest{Action: "avsonly", BillingZip: "32606", AuthCode: "123456"}, CodeInvalid, "auth_code"},
		{SaleRequest{Action: "avsonly", BillingZip: "32606", BillingStreet: "4111111111111111"}, CodeCardData, "billing_street"}, // the one card-data policy,
		{SaleRequest{Action: "sale", Amount: "5.00", AuthCode: "123456"}, CodeInvalid, "force or avsonly"},
	} {
		_, err := h.e.StartSale(context.Background(), tc.req)
		var ee *Error
		if !errors.As(err, &ee) || ee.Code != tc.code || !strings.Contains(ee.Message, tc.in) {
			t.Errorf("%+v: %v, want %s naming %q", tc.req, err, tc.code, tc.in)
		}
	}
	if all, _ := h.j.History(sale.Query{}); len(all.Records) != 0 || len(h.rd.armed) != 0 {
		t.Fatalf("a refused request left %d records, %d armings", len(all.Records), len(h.rd.armed))
	}

	plain := newHarness(t, nil) // the fake's defaults: none of the four
	for _, a := range []string{"force", "avsonly"} {
		_, err := plain.e.StartSale(context.Background(), SaleRequest{Action: a, Amount: "5.00", AuthCode: "123456", BillingZip: "32606"})
		if code(err) != CodeUnsupported {
			t.Errorf("%s on a gateway without it: %v", a, err)
		}
	}
	sale := plain.approvedAs(pageA, "a1", "9.00")
	for _, a := range []string{"authincrement", "partialreversal"} {
		_, err := plain.e.FollowUp(context.Background(), FollowUpRequest{Origin: pageA, Action: a, TransactionID: sale.TransactionID, Amount: "5.00"})
		if code(err) != CodeUnsupported {
			t.Errorf("%s on a gateway without it: %v", a, err)
		}
	}
	for _, a := range []string{"authincrement", "partialreversal"} {
		_, err := h.e.FollowUp(context.Background(), FollowUpRequest{Origin: pageA, Action: a, TransactionID: "tx1"})
		if code(err) != CodeInvalid || !strings.Contains(err.Error(), "amount") {
			t.Errorf("%s without an amount: %v", a, err)
		}
	}
}

// Only the origin that made an authorization may increment or reduce it
// (MayAct), as for refunds and voids; the refusal says nothing of it.
func TestAmountChangeOwnership(t *testing.T) {
	h := withActions(newHarness(t, nil))
	saleA := h.approvedAs(pageA, "a1", "20.00")
	for _, a := range []string{"authincrement", "partialreversal"} {
		_, err := h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "b1", Origin: pageB, Action: a, TransactionID: saleA.TransactionID, Amount: "10.00"})
		if code(err) != CodeNotFound || strings.Contains(err.Error(), pageA) {
			t.Errorf("%s by another page: %v", a, err)
		}
	}
	if n := len(h.callsOf(gateway.ActionAuthIncrement)) + len(h.callsOf(gateway.ActionPartialReversal)); n != 0 {
		t.Fatalf("%d refused changes reached the gateway", n)
	}
	rec, err := h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "u1", Origin: OriginUI, Action: "partialreversal", TransactionID: saleA.TransactionID, Amount: "10.00"})
	if err != nil {
		t.Fatalf("the window may reduce any sale: %v", err)
	}
	h.next(sale.UpdateResult, rec.TransactionAPIID)
}
