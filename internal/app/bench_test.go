package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/reader/sim"
	"github.com/posagent/posagent/internal/sale"
)

// arrivals records when each sale request reached the gateway's server.
type arrivals struct {
	next http.Handler
	mu   sync.Mutex
	at   []time.Time
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/v2/transactions" {
		a.mu.Lock()
		a.at = append(a.at, time.Now())
		a.mu.Unlock()
	}
	a.next.ServeHTTP(w, r)
}

// BenchmarkAgentLatency measures the agent's own latency: from the read's
// last byte (the card update's ReadAt) to the sale request arriving at the
// gateway's HTTP server over loopback, through the manager, engine, guards,
// Paya Connect client. "fsync" is the agent as shipped: the sale's record
// was committed when it was created and nothing is journaled again until
// the outcome (engine.send), so no commit is on this path; "nofsync" turns
// fdatasync off altogether, for reference.
func BenchmarkAgentLatency(b *testing.B) {
	for _, sync := range []bool{false, true} {
		name := "nofsync"
		if sync {
			name = "fsync"
		}
		b.Run(name, func(b *testing.B) { benchLatency(b, sync) })
	}
}

func benchLatency(b *testing.B, fsync bool) {
	rec := &arrivals{next: sandbox.New(sandbox.Options{})}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	a, err := New(Options{Config: testConfig(), StateDir: b.TempDir(), Demo: true, SandboxURLOverride: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer a.Stop()
	a.Journal().SetNoSync(!fsync)
	for !readerReady(a) {
		time.Sleep(5 * time.Millisecond)
	}
	upd, stop := a.Engine().Subscribe()
	defer stop()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "b", Origin: "bench", Amount: "1.00"})
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Sim().Simulate(context.Background(), sim.SimCard{PAN: "4111111111111111", EntryMode: card.EntrySwiped}); err != nil {
			b.Fatal(err)
		}
		var readAt time.Time
		for u := range upd {
			if u.TransactionAPIID != r.TransactionAPIID {
				continue
			}
			if u.Kind == sale.UpdateCard {
				readAt = u.ReadAt
			}
			if u.Kind == sale.UpdateResult {
				break
			}
		}
		rec.mu.Lock()
		lat = append(lat, rec.at[len(rec.at)-1].Sub(readAt))
		rec.mu.Unlock()
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
