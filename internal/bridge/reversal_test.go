package bridge

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/sale"
)

// TestResultNamesTheVoid: a chip sale the agent voided because the card
// declined the approval reaches the page as declined, with its code and
// the void's transaction_api_id; other results carry neither key.
func TestResultNamesTheVoid(t *testing.T) {
	rec := &sale.Result{TransactionAPIID: "s1", ClientID: "c1", Action: "sale", Outcome: sale.OutcomeDeclined,
		Code: engine.CodeCardDeclinedAfterApproval, VoidAPIID: "v1", TransactionID: "tx1", StatusID: 201}
	b, err := json.Marshal(resultMsg(rec, false))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"outcome":"declined"`, `"code":"card_declined_after_approval"`, `"void_transaction_api_id":"v1"`, `"status_id":201`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	b, _ = json.Marshal(resultMsg(&sale.Result{TransactionAPIID: "s2", Outcome: sale.OutcomeApproved}, false))
	if strings.Contains(string(b), "void_transaction_api_id") || strings.Contains(string(b), `"code"`) {
		t.Errorf("an ordinary result says %s", b)
	}
}
