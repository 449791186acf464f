package paidyet

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/gateway"
)

var responseSamples = []string{
	`{"messages":{"info":[],"warning":[],"error":[]},"payload":{"type":"Transaction","items":[{"id":1001,"amount":12.34,"type":"sale","status":"approved","error":false,"input_method":"keyed","credit_card":{"token":"ctok1","number":"400010******2224"},"external_id":"x","custom_fields":[{"key":"transaction_api_id","value":"x"}]}],"count":1,"pages":1,"page":1,"per_page":1}}`,
	`{"messages":{"error":{"code":5,"content":"Do Not Honor"}},"payload":{"items":{"id":"7","status":"declined","decline_code":5}}}`,
	`{"messages":{"error":["plain","strings"]},"payload":{"items":[]}}`,
	`{"messages":[],"payload":null}`,
	`{"payload":{"items":[{"id":1,"amount":"1e3"}]}}`,
	`{"payload":{"items":[{"id":1,"credit_card":{"number":"4000100011112224"}}]}}`,
}

func TestDecodeResponse(t *testing.T) {
	r, err := DecodeResponse([]byte(responseSamples[0]))
	if err != nil {
		t.Fatal(err)
	}
	var txs []Transaction
	if err := r.items(&txs); err != nil || len(txs) != 1 {
		t.Fatalf("items: %v", err)
	}
	n := txs[0].Normalize()
	if n.ID != "1001" || n.Amount != 1234 || !n.Approved() || n.LastFour != "2224" || n.TransactionAPIID != "x" || n.Action != gateway.ActionSale {
		t.Errorf("normalized %+v", n)
	}
	r, err = DecodeResponse([]byte(responseSamples[1]))
	if err != nil || r.Messages.Text() != "Do Not Honor" {
		t.Fatalf("single-object message: %+v %v", r, err)
	}
	if err := r.items(&txs); err != nil || txs[0].ID != "7" || txs[0].Normalize().ReasonCode != 5 || txs[0].Normalize().Outcome != gateway.OutcomeDeclined {
		t.Errorf("single-object payload: %+v %v", txs, err)
	}
	r, _ = DecodeResponse([]byte(responseSamples[2]))
	if r.Messages.Text() != "plain; strings" {
		t.Errorf("string messages: %q", r.Messages.Text())
	}
	if err := r.items(&txs); err != nil {
		t.Errorf("empty list: %v", err)
	}
	r, _ = DecodeResponse([]byte(responseSamples[3]))
	if err := r.items(&txs); err == nil {
		t.Error("null payload gave items")
	}
	r, _ = DecodeResponse([]byte(responseSamples[4]))
	if err := r.items(&txs); err == nil {
		t.Error("amount 1e3 accepted")
	}
	// A clear number from the gateway is kept masked only.
	r, _ = DecodeResponse([]byte(responseSamples[5]))
	_ = r.items(&txs)
	if m := txs[0].Normalize().MaskedPAN; m != "4000********2224" {
		t.Errorf("clear number normalized to %q", m)
	}
}

func FuzzDecodeResponse(f *testing.F) {
	for _, s := range responseSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResponse(b)
		if err != nil {
			return
		}
		_ = r.Messages.Text()
		var txs []Transaction
		if r.items(&txs) == nil {
			for i := range txs {
				n := txs[i].Normalize()
				if d := countDigits(string(n.MaskedPAN)); d > 10 {
					t.Fatalf("masked PAN %q shows %d digits", n.MaskedPAN, d)
				}
			}
		}
	})
}

func FuzzDecodeLogin(f *testing.F) {
	f.Add([]byte(`{"status":"OK","result":{"token":"t","exp":1648503842}}`))
	f.Add([]byte(`{"payload":{"items":[{"token":"t","exp":"1"}]}}`))
	f.Add([]byte(`{"token":"t","exp":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, exp, err := decodeLogin(b)
		if err == nil && (tok == "" || exp < 0) {
			t.Fatalf("accepted token %q exp %d", tok, exp)
		}
	})
}

func countDigits(s string) int {
	n := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			n++
		}
	}
	return n
}

// BenchmarkSale: one tokenized sale round trip against a canned server,
// token cached and pacing on a clock that never makes it wait.
func BenchmarkSale(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v3/login" {
			_, _ = w.Write([]byte(`{"status":"OK","result":{"token":"t","exp":4000000000}}`))
			return
		}
		_, _ = w.Write([]byte(responseSamples[0]))
	}))
	defer srv.Close()
	// On a fake clock the pacer's waits cost no time: the benchmark
	// measures the client, pacing bookkeeping included.
	c := testClient(b, srv.URL, func(o *Options) { o.Clock = newFakeClock() })
	req := gateway.Request{Action: gateway.ActionSale, Amount: 1234, Token: "ctok1", TransactionAPIID: "x"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// date_created ("YYYY-MM-DD HH:MM:SS", UTC, seed 003) becomes Result.Created:
// the engine takes a lookup's find as a sale's only when it was created
// after the sale began.
func TestNormalizeCreated(t *testing.T) {
	r := (&Transaction{DateCreated: "2026-12-07 00:10:05"}).Normalize()
	if want := time.Date(2026, 12, 7, 0, 10, 5, 0, time.UTC); !r.Created.Equal(want) {
		t.Errorf("Created %v, want %v", r.Created, want)
	}
	if r := (&Transaction{DateCreated: "yesterday"}).Normalize(); !r.Created.IsZero() {
		t.Errorf("an unreadable date_created gave %v, want zero (unknown)", r.Created)
	}
}
