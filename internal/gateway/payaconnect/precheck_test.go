package payaconnect

import (
	"testing"

	"github.com/posagent/posagent/internal/gateway"
)

func TestPrecheck(t *testing.T) {
	c, err := New(Options{BaseURL: "http://127.0.0.1:1", DeveloperID: "d", UserID: "u", UserAPIKey: "k",
		LocationID: "11e9557416a4a3b8b38ec6c0", ProductTransactionID: "11e955741583f3d2b6993987"})
	if err != nil {
		t.Fatal(err)
	}
	ok := gateway.Request{Action: gateway.ActionSale, Amount: 1000, OrderNum: "INV1001"}
	if err := c.Precheck(ok); err != nil {
		t.Fatalf("a valid card-less sale fails the precheck: %v", err)
	}
	bad := ok
	bad.OrderNum = "INV-1001"
	err = c.Precheck(bad)
	if !gateway.IsInvalid(err) || len(gateway.FieldErrors(err)) != 1 || gateway.FieldErrors(err)[0].Field != "order_num" {
		t.Fatalf("order_num with a dash: %v", err)
	}
}
