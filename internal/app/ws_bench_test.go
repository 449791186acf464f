package app

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkWebsocketSale is the whole sale as a POS page sees it: sale
// request over the websocket, simulated card, engine, journal (fsync on),
// Paya Connect client, embedded sandbox over HTTP, result back over the
// websocket. Target: p99 ≤ 10 ms.
func BenchmarkWebsocketSale(b *testing.B) {
	a, err := New(Options{Config: testConfig(), StateDir: b.TempDir(), Demo: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer a.Stop()
	for !readerReady(a) {
		time.Sleep(5 * time.Millisecond)
	}
	origin := strings.TrimSuffix(a.URL(), "/")
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(origin, "http")+"/v1/ws", http.Header{"Origin": {origin}})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	send := func(m map[string]any) {
		if err := ws.WriteJSON(m); err != nil {
			b.Fatal(err)
		}
	}
	wait := func(typ, id string) map[string]any {
		for {
			var m map[string]any
			if err := ws.ReadJSON(&m); err != nil {
				b.Fatal(err)
			}
			if m["type"] == "error" {
				raw, _ := json.Marshal(m)
				b.Fatalf("error: %s", raw)
			}
			if m["type"] == typ && (id == "" || m["id"] == id) {
				return m
			}
		}
	}
	send(map[string]any{"type": "hello", "id": "h"})
	wait("welcome", "h")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := "s" + time.Now().Format("150405.000000000")
		start := time.Now()
		send(map[string]any{"type": "sale", "id": id, "amount": "1.00"})
		wait("prompt", id)
		send(map[string]any{"type": "simulate", "id": "x" + id, "card": "4111111111111111", "entry_mode": "S"})
		res := wait("result", id)
		lat = append(lat, time.Since(start))
		if res["outcome"] != "approved" {
			b.Fatalf("outcome %v", res["outcome"])
		}
		send(map[string]any{"type": "ack", "id": "a" + id, "transaction_api_id": res["transaction_api_id"]})
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
