package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchSale measures one sale through ServeHTTP: decode, validate, price,
// store, encode. The idtech case adds cutting the frame, deriving the DUKPT
// key and decrypting two tracks.
func benchSale(b *testing.B, fields map[string]any) {
	body, err := json.Marshal(map[string]any{"transaction": fields})
	if err != nil {
		b.Fatal(err)
	}
	h := newHarness(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v2/transactions", bytes.NewReader(body))
		for k, v := range payaHeaders {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.s.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkSaleKeyed(b *testing.B) { benchSale(b, keyedSale("12.34")) }

func BenchmarkSaleIDTech(b *testing.B) {
	benchSale(b, seedSale("idtech", seedIDTech, seedKSN, "S", "12.34"))
}

func BenchmarkSaleKSN(b *testing.B) {
	benchSale(b, seedSale("ksn", seedKSNData, seedKSN, "S", "12.34"))
}
