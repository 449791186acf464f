package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/sale"
)

// otherTransaction is what another lane or install charged under a
// transaction_api_id a page then reuses: 5.55 on a Visa.
func otherTransaction(apiID string) *gateway.Result {
	return &gateway.Result{ID: "other-tx", TransactionAPIID: apiID, Outcome: gateway.OutcomeApproved, StatusID: 101,
		ReasonCode: 1000, AuthCode: "OTH555", Amount: 555, MaskedPAN: card.MaskFromReader("411111******1111"), LastFour: "1111",
		Brand: card.BrandVisa, Verbiage: "APPROVED"}
}

// saleWithID starts a sale with a page-supplied transaction_api_id and
// swipes the harness's Mastercard (last four 0254).
func (h *harness) saleWithID(apiID, amount, tip string) sale.Result {
	h.t.Helper()
	rec, err := h.e.StartSale(context.Background(), SaleRequest{ClientID: "s1", Origin: "https://lane2.example", Amount: amount,
		TipAmount: tip, TransactionAPIID: apiID})
	if err != nil {
		h.t.Fatal(err)
	}
	h.swipe(h.read())
	return rec
}

// notAdopted checks that a result and its journal record say error with
// duplicate_id and carry nothing of the other transaction.
func notAdopted(t *testing.T, h *harness, res *sale.Result) {
	t.Helper()
	if res.Outcome != sale.OutcomeError || res.Code != CodeDuplicateID {
		t.Fatalf("result %s (code %q): %s, want error with duplicate_id", res.Outcome, res.Code, res.Error)
	}
	stored := h.stored(res.TransactionAPIID)
	for _, r := range []sale.Result{*res, resultOf(&stored)} {
		if r.Outcome != sale.OutcomeError || r.State != sale.StateDone || r.Code != CodeDuplicateID {
			t.Errorf("record %s/%s code %q, want done/error/duplicate_id", r.State, r.Outcome, r.Code)
		}
		if r.TransactionID != "" || r.AuthCode != "" || r.StatusID != 0 || r.Verbiage != "" || r.AuthAmount != "" {
			t.Errorf("the other transaction leaked into the record: %+v", r)
		}
		for _, leak := range []string{"other-tx", "OTH555", "1111", "5.55", "visa"} {
			if strings.Contains(strings.ToLower(r.Error), strings.ToLower(leak)) {
				t.Errorf("message names the other transaction (%q): %s", leak, r.Error)
			}
		}
		if r.LastFour != "" && r.LastFour != "0254" {
			t.Errorf("last four %q is not this sale's card", r.LastFour)
		}
	}
}

// A reused transaction_api_id on the first attempt: the gateway's
// "already used" cannot be ours, so the other transaction is not looked up
// or adopted, and nothing is reported approved.
func TestDuplicateIDOfAnotherTransaction(t *testing.T) {
	h := newHarness(t, nil)
	h.gw.committed["lane-1-0001"] = otherTransaction("lane-1-0001")
	rec := h.saleWithID("lane-1-0001", "77.00", "")
	res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
	notAdopted(t, h, res)
	if !strings.Contains(res.Error, "already exists at the gateway") || !strings.Contains(res.Error, "new transaction_api_id") {
		t.Errorf("message does not say what happened and what to do: %s", res.Error)
	}
	if h.gw.resolves != 0 {
		t.Errorf("%d lookups of a transaction that cannot be ours", h.gw.resolves)
	}
}

// Lookups during the resolution of an unknown outcome: a transaction under
// our id whose amount or card is not this sale's is not adopted.
func TestLookupAdoptsOnlyAMatchingTransaction(t *testing.T) {
	ambiguous := func(n int, req gateway.Request) (bool, *gateway.Result, error) {
		return false, nil, &gateway.Error{Class: gateway.Ambiguous, Err: errors.New("timeout after the request was sent")}
	}
	tests := []struct {
		name   string
		amount string
		tip    string
		held   func(apiID string) *gateway.Result
	}{
		{"amount differs", "77.00", "", otherTransaction},
		{"last four differs", "5.55", "", otherTransaction},
		{"the tip is part of the amount charged", "5.55", "1.00", func(apiID string) *gateway.Result {
			r := otherTransaction(apiID) // 5.55 on this very card, but the sale charges 6.55
			r.LastFour, r.MaskedPAN = "0254", card.MaskFromReader("542800******0254")
			return r
		}},
		// Same amount, same card (a regular customer), but the gateway
		// created it before this sale began: a lane that reused its ids
		// (reinstalled, or two lanes with one prefix) charged it earlier.
		// Found by the real demo: it was adopted as this sale's approval.
		{"created before this sale began", "5.55", "", func(apiID string) *gateway.Result {
			r := otherTransaction(apiID)
			r.LastFour, r.MaskedPAN = "0254", card.MaskFromReader("542800******0254")
			r.Created = time.Now().Add(-time.Hour)
			return r
		}},
		{"transaction_api_id differs", "5.55", "", func(string) *gateway.Result {
			r := otherTransaction("someone-else")
			r.LastFour, r.MaskedPAN = "0254", card.MaskFromReader("542800******0254")
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.gw.script = ambiguous
			h.gw.committed["reused-id"] = tt.held("reused-id")
			rec := h.saleWithID("reused-id", tt.amount, tt.tip)
			res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
			notAdopted(t, h, res)
			if !strings.Contains(res.Error, "check the gateway") {
				t.Errorf("message does not say what to check: %s", res.Error)
			}
		})
	}
}

// Our own earlier attempt committed late: the lookup after the timeout
// proved it absent, the re-send got "already used", and the transaction
// found is this sale's (same amount with tip, same card): adopted, once.
func TestOwnEarlierAttemptAdopted(t *testing.T) {
	h := newHarness(t, nil)
	h.gw.script = func(n int, req gateway.Request) (bool, *gateway.Result, error) {
		if n == 0 {
			return false, nil, &gateway.Error{Class: gateway.Ambiguous, Err: errors.New("connection reset")}
		}
		// The first request reaches the gateway's books just now.
		h.gw.mu.Lock()
		h.gw.committed[req.TransactionAPIID] = &gateway.Result{ID: "tx-first", TransactionAPIID: req.TransactionAPIID,
			Outcome: gateway.OutcomeApproved, StatusID: 101, AuthCode: "OWN123", Amount: req.Amount, LastFour: "0254", Created: time.Now()}
		h.gw.mu.Unlock()
		return true, nil, nil
	}
	rec := h.saleWithID("lane-2-0007", "12.00", "3.00")
	res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
	if res.Outcome != sale.OutcomeApproved || res.TransactionID != "tx-first" || res.AuthCode != "OWN123" || res.Code != "" {
		t.Fatalf("own earlier attempt not adopted: %+v", res)
	}
	if len(h.gw.calls) != 2 || h.gw.charges() != 1 {
		t.Fatalf("calls %d charges %d, want 2 1", len(h.gw.calls), h.gw.charges())
	}
	if got := h.stored(rec.TransactionAPIID); got.Outcome != sale.OutcomeApproved || got.Attempts != 2 {
		t.Errorf("journal %+v", got)
	}
}

// Crash recovery looks up what an earlier run left unfinished: a
// transaction under its id that is not the journaled sale is not adopted;
// the matching one is.
func TestRecoveryAdoptsOnlyAMatchingTransaction(t *testing.T) {
	h := newHarness(t, nil)
	h.gw.committed["left-mismatched"] = otherTransaction("left-mismatched")
	h.gw.committed["left-matching"] = &gateway.Result{ID: "tx-mine", TransactionAPIID: "left-matching", Outcome: gateway.OutcomeApproved,
		StatusID: 101, AuthCode: "MINE01", Amount: 1050, LastFour: "0254"}
	for _, r := range []journal.Record{
		{TransactionAPIID: "left-mismatched", Action: "sale", Amount: "77.00", LastFour: "0254", State: sale.StateSending, Attempts: 1},
		{TransactionAPIID: "left-matching", Action: "sale", Amount: "10.00", TipAmount: "0.50", LastFour: "0254", State: sale.StateSending, Attempts: 1},
	} {
		if err := h.j.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.e.Start(); err != nil {
		t.Fatal(err)
	}
	got := map[string]*sale.Result{}
	for len(got) < 2 {
		u := h.next(sale.UpdateResult, "")
		got[u.TransactionAPIID] = u.Result
	}
	notAdopted(t, h, got["left-mismatched"])
	if r := got["left-matching"]; r.Outcome != sale.OutcomeApproved || r.TransactionID != "tx-mine" {
		t.Errorf("matching leftover %+v", r)
	}
}

// The cap bounds what is charged: amount and tip together.
func TestAmountCapIncludesTip(t *testing.T) {
	h := newHarness(t, nil)
	for _, req := range []SaleRequest{
		{Amount: "99999.99", TipAmount: "99999.99"},
		{Amount: "99999.99", TipAmount: "0.01"},
		{Amount: "50000.00", TipAmount: "50000.00"},
	} {
		_, err := h.e.StartSale(context.Background(), req)
		var ee *Error
		if !errors.As(err, &ee) || ee.Code != CodeInvalid || !strings.Contains(ee.Message, "tip_amount") {
			t.Errorf("%s + %s: %v, want invalid_request naming the tip", req.Amount, req.TipAmount, err)
		}
	}
	if rec, err := h.e.StartSale(context.Background(), SaleRequest{Amount: "99999.98", TipAmount: "0.01"}); err != nil || rec.TipAmount != "0.01" {
		t.Fatalf("99999.98 + 0.01 (at the cap): %+v %v", rec, err)
	}
}

// A chip card counts its transactions (ATC, tag 9F36), and the gateway
// keeps the counter of the read it was sent (emv_receipt_data). Within
// the clock-skew window the creation time cannot tell a reused id's
// earlier transaction from this sale — same customer, card and amount a
// minute ago at another lane — but the card's counter can.
func TestLookupComparesTheChipCounter(t *testing.T) {
	for _, tc := range []struct {
		name, held string
		adopted    bool
	}{
		{"another transaction of the card", "0006", false},
		{"this read", "0007", true},
		{"this read, spelled shorter", "7", true},
		{"the gateway does not say", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.gw.script = func(n int, req gateway.Request) (bool, *gateway.Result, error) {
				return false, nil, &gateway.Error{Class: gateway.Ambiguous, Err: errors.New("timeout after the request was sent")}
			}
			held := otherTransaction("lane-0001")
			held.LastFour, held.MaskedPAN, held.Amount, held.Created = "0254", card.MaskFromReader("542800******0254"), 350, time.Now().Add(-time.Minute)
			held.Receipt.ATC = tc.held
			h.gw.committed["lane-0001"] = held
			rec, err := h.e.StartSale(context.Background(), SaleRequest{ClientID: "s1", Origin: "https://lane2.example", Amount: "3.50", TransactionAPIID: "lane-0001"})
			if err != nil {
				t.Fatal(err)
			}
			read := h.read()
			read.Receipt.ATC = "0007"
			h.swipe(read)
			res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
			if tc.adopted {
				if res.Outcome != sale.OutcomeApproved {
					t.Fatalf("not adopted: %s %s", res.Outcome, res.Error)
				}
				return
			}
			notAdopted(t, h, res)
		})
	}
}
