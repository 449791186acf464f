package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
)

// Issue 16: the engine refuses card data in every text of a sale or
// follow-up with card_data before the reader is armed (the UI and the CLI
// start sales here too, not through the websocket), and a description with
// a harmless "%B" is journaled and approved.
func TestCardDataInRequestsRefused(t *testing.T) {
	h := newHarness(t, nil)
	const visa, disc = "4111" + "111111111111", "6011" + "000990139424"
	for _, req := range []SaleRequest{
		{Amount: "1.00", Description: "visa 4111-1111-1111-1111 / 5454 5454 5454 5454"},
		{Amount: "1.00", OrderNum: "INV" + disc},
		{Amount: "1.00", TransactionAPIID: "t" + visa},
		{Amount: "1.00", Description: "\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11"},
	} {
		_, err := h.e.StartSale(context.Background(), req)
		var ee *Error
		if !errors.As(err, &ee) || ee.Code != CodeCardData {
			t.Errorf("%+v: %v, want %s", req, err, CodeCardData)
		}
	}
	_, err := h.e.FollowUp(context.Background(), FollowUpRequest{Action: "refund", TransactionID: "11eff56a", Amount: "1.00", TransactionAPIID: "r-" + visa})
	var ee *Error
	if !errors.As(err, &ee) || ee.Code != CodeCardData {
		t.Errorf("refund with a card in transaction_api_id: %v, want %s", err, CodeCardData)
	}
	if len(h.rd.armed) != 0 || len(h.gw.calls) != 0 {
		t.Fatalf("reader armed %d times, gateway called %d times for refused requests", len(h.rd.armed), len(h.gw.calls))
	}
	all, err := h.j.History(sale.Query{})
	if err != nil || len(all.Records) != 0 {
		t.Fatalf("journal holds %d records (%v) after refusals", len(all.Records), err)
	}

	rec, err := h.e.StartSale(context.Background(), SaleRequest{ClientID: "s1", Origin: "http://127.0.0.1:7380", Amount: "4.50",
		Description: "20%Bonus coffee", OrderNum: "20261206235521"})
	if err != nil {
		t.Fatalf("20%%Bonus coffee refused: %v", err)
	}
	h.swipe(h.read())
	if res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result; res.Outcome != sale.OutcomeApproved {
		t.Fatalf("20%%Bonus coffee: %s %s", res.Outcome, res.Error)
	}
	if got := h.stored(rec.TransactionAPIID); got.Description != "20%Bonus coffee" || got.State != sale.StateDone {
		t.Fatalf("journal %+v", got)
	}
}

// The transaction_api_ids the engine makes are random UUIDs; about one in
// 700 holds digit groups that, dash-joined, would pass for a card number.
// The policy takes a UUID for an identifier, so the journal guard never
// refuses the engine's own ids (20,000 ids: about 30 would be refused
// without that rule).
func TestRandomIDsAreNotCardData(t *testing.T) {
	for range 20000 {
		if id := randomID(); card.ContainsCardData(id) || card.ContainsCardData(`{"transaction_api_id":"`+id+`"}`) {
			t.Fatalf("id %s is taken for card data", id)
		}
	}
}
