package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/sale"
)

// benchRecords is the size of the benchmarks' journal: about a year of a
// busy lane, the size at which the scans of the old journal took seconds.
const benchRecords = 200_000

// benchJournals are the benchmarks' journals by size, shared by -count
// repeats.
var (
	benchMu       sync.Mutex
	benchJournals = map[int]*Journal{}
	benchDirs     []string
)

// closeBenchJournal removes the benchmarks' journals (TestMain, after the
// run).
func closeBenchJournal() {
	for _, j := range benchJournals {
		j.Close()
	}
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
}

// benchJournal is a journal of n finished sales (1 % of them
// unacknowledged, for another origin) and 20 in flight.
func benchJournal(b *testing.B, n int) *Journal {
	benchMu.Lock()
	defer benchMu.Unlock()
	if j := benchJournals[n]; j != nil {
		return j
	}
	dir, err := os.MkdirTemp("", "journal-bench-")
	if err != nil {
		b.Fatal(err)
	}
	benchDirs = append(benchDirs, dir)
	j, err := Open(filepath.Join(dir, "journal.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	j.SetNoSync(true)
	start := time.Now().Add(-365 * 24 * time.Hour)
	batch := make([]Record, 0, 2_000) // see histSeedBatch in test/bench
	for i := range n + 20 {
		r := Record{TransactionAPIID: fmt.Sprintf("b-%08d", i), Origin: "https://pos.example.com", Action: "sale",
			Amount: fmt.Sprintf("%d.00", 1+i%300), LastFour: fmt.Sprintf("%04d", i%10000), MaskedPAN: "4111********1111",
			TransactionID: fmt.Sprintf("tx%d", i), State: sale.StateDone, Outcome: "approved", Acked: i%100 != 0,
			Created: start.Add(time.Duration(i) * 150 * time.Second)}
		if !r.Acked {
			r.Origin = "https://other.example.com"
		}
		if i >= n {
			r.State, r.TransactionID = sale.StateUnknown, ""
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) || i == n+19 {
			if err := j.PutAll(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	benchJournals[n] = j
	return j
}

// BenchmarkJournal200k and BenchmarkJournal1k run the same reads on a
// journal of a year of a busy lane and on one of a day: flat cost means
// the same numbers.
func BenchmarkJournal200k(b *testing.B) { benchReads(b, benchJournal(b, benchRecords), "tx123456") }

func BenchmarkJournal1k(b *testing.B) { benchReads(b, benchJournal(b, 1000), "tx456") }

func benchReads(b *testing.B, j *Journal, txID string) {
	b.Run("Unfinished", func(b *testing.B) {
		for b.Loop() {
			if recs, err := j.Unfinished(); err != nil || len(recs) != 20 {
				b.Fatal(len(recs), err)
			}
		}
	})
	b.Run("UnackedOrigin", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := j.Unacked("https://other.example.com", 32, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("HistoryPage", func(b *testing.B) {
		for b.Loop() {
			if p, err := j.History(sale.Query{Limit: 50}); err != nil || len(p.Records) != 50 {
				b.Fatal(err)
			}
		}
	})
	b.Run("HistorySearchLastFour", func(b *testing.B) {
		for b.Loop() {
			if p, err := j.History(sale.Query{LastFour: "0042", Limit: 50}); err != nil || len(p.Records) != 1 && len(p.Records) != 20 {
				b.Fatal(err)
			}
		}
	})
	b.Run("ByTransactionID", func(b *testing.B) {
		for b.Loop() {
			if recs, err := j.ByTransactionID(txID); err != nil || len(recs) != 1 {
				b.Fatal(len(recs), err)
			}
		}
	})
}
