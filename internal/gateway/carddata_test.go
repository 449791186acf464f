package gateway

import "testing"

func TestCardDataFields(t *testing.T) {
	r := Request{TransactionAPIID: "t4111" + "111111111111", TransactionID: "11eff56a33ee6e7e353b1ddb", OrderNum: "INV1001",
		Description: "\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11",
		AuthCode:    "A1B2C3", Billing: Billing{Street: "1 Main St", Zip: "5454-5454-5454-5454"},
		ReceiptEmail: "4111" + "111111111111@example.com"} // the gateway keeps it and mails it
	got := map[string]bool{}
	for _, f := range r.CardDataFields() {
		got[f.Field] = true
	}
	if len(got) != 4 || !got["transaction_api_id"] || !got["description"] || !got["billing_zip"] || !got["receipt_email"] {
		t.Fatalf("CardDataFields = %v, want transaction_api_id, description, billing_zip, receipt_email", got)
	}
	if f := (Request{Description: "20%Bonus coffee", OrderNum: "20261206235521"}).CardDataFields(); len(f) != 0 {
		t.Fatalf("harmless request: %v", f)
	}
}
