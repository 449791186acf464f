package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/sale"
)

const (
	pageA   = "https://a.example"
	pageB   = "https://b.example"
	ownPage = "http://127.0.0.1:7380"
)

// approvedAs runs a sale for origin to its approval.
func (h *harness) approvedAs(origin, clientID, amount string) sale.Result {
	h.t.Helper()
	rec, err := h.e.StartSale(context.Background(), SaleRequest{ClientID: clientID, Origin: origin, Amount: amount})
	if err != nil {
		h.t.Fatal(err)
	}
	h.swipe(h.read())
	res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
	if res.Outcome != sale.OutcomeApproved {
		h.t.Fatalf("sale of %s: %+v", origin, res)
	}
	return *res
}

func code(err error) string {
	var ee *Error
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ""
}

// A page may refund, void or complete only what it made; the agent's own
// page also what the cashier's window made; the window anything. A refusal
// says nothing of the other origin's transaction.
func TestFollowUpOwnership(t *testing.T) {
	h := newHarness(t, nil)
	saleA := h.approvedAs(pageA, "a1", "20.00")
	saleUI := h.approvedAs(OriginUI, "ui", "30.00")
	saleOwn := h.approvedAs(ownPage, "o1", "40.00")
	tests := []struct {
		name    string
		origin  string
		ownPage bool
		action  string
		tx      sale.Result
		allowed bool
	}{
		{"another page refunds", pageB, false, "refund", saleA, false},
		{"another page voids", pageB, false, "void", saleA, false},
		{"another page completes", pageB, false, "complete", saleA, false},
		{"a page refunds a window sale", pageB, false, "refund", saleUI, false},
		{"the own page refunds another page's sale", ownPage, true, "refund", saleA, false},
		{"a page refunds the own page's sale", pageA, false, "refund", saleOwn, false},
		{"the owner refunds", pageA, false, "refund", saleA, true},
		{"the own page refunds a window sale", ownPage, true, "refund", saleUI, true},
		{"the window refunds a page's sale", OriginUI, false, "refund", saleA, true},
		{"the window voids the own page's sale", OriginUI, false, "void", saleOwn, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := len(h.gw.calls)
			rec, err := h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "f", Origin: tt.origin, OwnPage: tt.ownPage,
				Action: tt.action, TransactionID: tt.tx.TransactionID, Amount: "1.00"})
			if !tt.allowed {
				if code(err) != CodeNotFound {
					t.Fatalf("%v, want not_found", err)
				}
				for _, leak := range []string{tt.tx.Origin, tt.tx.AuthCode, tt.tx.LastFour, tt.tx.MaskedPAN, tt.tx.TransactionAPIID, tt.tx.ClientID} {
					if strings.Contains(err.Error(), leak) {
						t.Errorf("refusal names %q of the other transaction: %v", leak, err)
					}
				}
				if len(h.gw.calls) != calls {
					t.Error("a refused follow-up reached the gateway")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result; res.Outcome != sale.OutcomeApproved {
				t.Fatalf("%+v", res)
			}
		})
	}
	// A gateway id this journal does not hold is the gateway's to judge.
	rec, err := h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "f", Origin: pageB, Action: "refund", TransactionID: "made-elsewhere", Amount: "1.00"})
	if err != nil {
		t.Fatalf("refund of a transaction this agent did not make: %v", err)
	}
	h.next(sale.UpdateResult, rec.TransactionAPIID)
}

// busy and duplicate_id name another origin's sale ids to nobody but it.
func TestRefusalsNameOnlyTheCallersIDs(t *testing.T) {
	h := newHarness(t, nil)
	rec, err := h.e.StartSale(context.Background(), SaleRequest{ClientID: "secret-request-a", Origin: pageA, Amount: "1.00", TransactionAPIID: "secret-sale-a"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.e.StartSale(context.Background(), SaleRequest{ClientID: "b1", Origin: pageB, Amount: "2.00"})
	if code(err) != CodeBusy || strings.Contains(err.Error(), "secret") {
		t.Errorf("busy to another page: %v", err)
	}
	_, err = h.e.StartSale(context.Background(), SaleRequest{ClientID: "a2", Origin: pageA, Amount: "2.00"})
	if code(err) != CodeBusy || !strings.Contains(err.Error(), rec.TransactionAPIID) {
		t.Errorf("busy to the owner does not name its sale: %v", err)
	}
	if _, err := h.e.Cancel(context.Background(), pageA, "secret-request-a", ""); err != nil {
		t.Fatal(err)
	}
	h.next(sale.UpdateResult, rec.TransactionAPIID)
	_, err = h.e.StartSale(context.Background(), SaleRequest{ClientID: "b2", Origin: pageB, Amount: "2.00", TransactionAPIID: "secret-sale-a"})
	if code(err) != CodeDuplicateID || strings.Contains(err.Error(), "secret-request-a") || strings.Contains(err.Error(), pageA) || strings.Contains(err.Error(), "status") {
		t.Errorf("duplicate_id to another page: %v", err)
	}
	_, err = h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "b3", Origin: pageB, Action: "refund", TransactionID: "x1", Amount: "1.00", TransactionAPIID: "secret-sale-a"})
	if code(err) != CodeDuplicateID || strings.Contains(err.Error(), pageA) || strings.Contains(err.Error(), "status") {
		t.Errorf("duplicate_id of a follow-up to another page: %v", err)
	}
}

func TestMayAct(t *testing.T) {
	tests := []struct {
		caller  string
		ownPage bool
		owner   string
		want    bool
	}{
		{pageA, false, pageA, true},
		{pageB, false, pageA, false},
		{pageB, false, OriginUI, false},
		{pageB, false, "", false},
		{ownPage, true, OriginUI, true},
		{ownPage, true, "", true},
		{ownPage, true, pageA, false},
		{ownPage, false, OriginUI, false},
		{OriginUI, false, pageA, true},
		{OriginUI, false, "", true},
	}
	for _, tt := range tests {
		if got := MayAct(tt.caller, tt.ownPage, tt.owner); got != tt.want {
			t.Errorf("MayAct(%q, %v, %q) = %v, want %v", tt.caller, tt.ownPage, tt.owner, got, tt.want)
		}
	}
}
