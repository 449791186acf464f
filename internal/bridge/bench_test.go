package bridge

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
)

// BenchmarkSaleRoundTrip: one sale over a real websocket — sale, accepted
// and prompt, simulate, card, prompt, simulated, result — with a fake
// engine whose gateway answers at once. It measures the bridge's own cost
// per sale; p50 and p99 are reported per round trip.
func BenchmarkSaleRoundTrip(b *testing.B) {
	h := start(b)
	h.eng.ProcessDelay = 0
	c := h.open()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		id := fmt.Sprintf("s%d", i)
		c.send(map[string]string{"type": "sale", "id": id, "amount": "1.00"})
		c.expectAll("prompt", "accepted")
		c.send(map[string]string{"type": "simulate", "id": "x" + id, "card": visa, "entry_mode": "C"})
		c.expectAll("card", "prompt", "simulated", "result")
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkDecodeRequest(b *testing.B) {
	msg := []byte(`{"type":"sale","id":"s-k3j9x2-17","amount":"12.34","action":"sale","order_num":"A-1001","tip_amount":"1.00","description":"2 coffees"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		if _, err := DecodeRequest(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeResult(b *testing.B) {
	rec := &sale.Result{TransactionAPIID: "4f1c2a", ClientID: "s-k3j9x2-17", Action: "sale", Amount: "12.34", Outcome: "approved",
		MaskedPAN: "411111******1111", LastFour: "1111", Brand: "visa", EntryMode: "C", TransactionID: "11ee00000002", StatusID: 101,
		ReasonCodeID: 1000, AuthCode: "A00002", Verbiage: "APPROVED",
		Receipt: card.Receipt{TC: "8A1F2C3D4E5F6071", TVR: "0000008000", AID: "A0000000031010", TSI: "E800", ATC: "0001", APPLAB: "VISA CREDIT", APPN: "VISA CREDIT", CVM: "No CVM"}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		data, err := json.Marshal(resultMsg(rec, false))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}
