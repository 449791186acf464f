package sandbox

import (
	"fmt"
	"testing"
)

// The readings docs/sandbox.md takes where seed 003 is silent: an auth has
// no batch until captured (and keeps status "approved" through the
// capture); a refund keeps no custom fields, so a custom-field search does
// not find it.
func TestPaidYETReadings(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	_, _, items := h.py(tok, "POST", "/v3/transaction", map[string]any{"amount": 10, "type": "auth",
		"credit_card": map[string]any{"token": PaidYETTokenApproved}})
	auth := items[0]
	if auth["batch"] != nil {
		t.Errorf("an uncaptured auth is in a batch: %v", auth["batch"])
	}
	id := fmt.Sprint(num(auth, "id"))
	_, _, items = h.py(tok, "PUT", "/v3/transaction/"+id, map[string]any{"type": "capture"})
	if items[0]["batch"] == nil || str(items[0], "status") != "approved" {
		t.Errorf("captured auth: %v", items[0])
	}
	_, _, items = h.py(tok, "POST", "/v3/transaction/"+id, map[string]any{"type": "refund", "amount": 4,
		"custom_fields": []map[string]any{{"key": "transaction_api_id", "value": "refund-1"}}})
	if str(items[0], "type") != "refund" || str(items[0], "status") != "approved" {
		t.Fatalf("refund: %v", items[0])
	}
	if _, resp, _ := h.py(tok, "GET", "/v3/transaction/search?transaction_api_id=refund-1", nil); resp.Payload.Count != 0 {
		t.Errorf("a refund's custom field is searchable: %+v", resp.Payload)
	}
}
