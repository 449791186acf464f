package payaconnect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/posagent/posagent/internal/gateway"
)

// Issue 16: a request whose text fields or ids hold a card number is
// refused while it is built, before anything is sent, whoever made it; the
// refusal names the fields and never repeats the number.
func TestBuildRequestRefusesCardData(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, DeveloperID: "d", UserID: "u", UserAPIKey: "k",
		LocationID: "11e9557416a4a3b8b38ec6c0", ProductTransactionID: "11e955741583f3d2b6993987"})
	if err != nil {
		t.Fatal(err)
	}
	req := gateway.Request{Action: gateway.ActionSale, Amount: 1000, Read: precheckRead,
		Description: "visa 4111-1111-1111-1111 / 5454 5454 5454 5454", OrderNum: "INV6011" + "000990139424",
		TransactionAPIID: "t4111" + "111111111111"}
	for _, call := range []func() error{
		func() error { _, err := c.BuildRequest(req); return err },
		func() error { return c.Precheck(req) },
		func() error { _, err := c.Do(context.Background(), req); return err },
	} {
		err := call()
		fields := gateway.FieldErrors(err)
		if !gateway.IsInvalid(err) || len(fields) != 3 {
			t.Fatalf("got %v (fields %v), want an invalid request naming 3 fields", err, fields)
		}
		for _, leak := range []string{"4111", "5454", "6011"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("the refusal repeats the number: %v", err)
			}
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the gateway was called %d times", hits.Load())
	}
	req.Description, req.OrderNum, req.TransactionAPIID = "20%Bonus coffee", "INV1001", "c0a8e3f2-pos-1001"
	if _, err := c.BuildRequest(req); err != nil {
		t.Fatalf("a harmless request refused: %v", err)
	}
}
