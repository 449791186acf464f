package paidyet

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/posagent/posagent/internal/gateway"
)

// Issue 16: a sale whose text fields or ids hold a card number is refused
// before anything is sent to PaidYET (not even the login), naming the
// fields and never repeating the number.
func TestDoRefusesCardData(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, Subdomain: "shop", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), gateway.Request{Action: gateway.ActionSale, Amount: 1000, Token: "tok",
		Description: "visa 4111-1111-1111-1111", OrderNum: "INV6011" + "000990139424", TransactionAPIID: "t4111" + "111111111111"})
	fields := gateway.FieldErrors(err)
	if !gateway.IsInvalid(err) || len(fields) != 3 {
		t.Fatalf("got %v (fields %v), want an invalid request naming 3 fields", err, fields)
	}
	if s := err.Error(); strings.Contains(s, "4111") || strings.Contains(s, "6011") {
		t.Errorf("the refusal repeats the number: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("PaidYET was called %d times", hits.Load())
	}
}
