package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// benchRecords is the size of the benchmarks' journal: about a year of a
// busy lane, the size at which the scans of the old journal took seconds.
const benchRecords = 200_000

var (
	benchOnce sync.Once
	benchJ    *Journal
	benchDir  string
	benchErr  error
)

// closeBenchJournal removes the benchmarks' journal (TestMain, after the
// run: -count repeats share it).
func closeBenchJournal() {
	if benchJ != nil {
		benchJ.Close()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
}

// benchJournal is one journal of benchRecords finished sales (1 % of them
// unacknowledged, for another origin) and 20 in flight, shared by the
// benchmarks of a run.
func benchJournal(b *testing.B) *Journal {
	benchOnce.Do(func() {
		if benchDir, benchErr = os.MkdirTemp("", "journal-bench-"); benchErr != nil {
			return
		}
		if benchJ, benchErr = Open(filepath.Join(benchDir, "journal.db"), nil); benchErr != nil {
			return
		}
		benchJ.SetNoSync(true)
		start := time.Now().Add(-365 * 24 * time.Hour)
		batch := make([]Record, 0, 2_000) // see histSeedBatch in test/bench
		for i := range benchRecords + 20 {
			r := Record{TransactionAPIID: fmt.Sprintf("b-%08d", i), Origin: "https://pos.example.com", Action: "sale",
				Amount: fmt.Sprintf("%d.00", 1+i%300), LastFour: fmt.Sprintf("%04d", i%10000), MaskedPAN: "4111********1111",
				TransactionID: fmt.Sprintf("tx%d", i), State: StateDone, Outcome: "approved", Acked: i%100 != 0,
				Created: start.Add(time.Duration(i) * 150 * time.Second)}
			if !r.Acked {
				r.Origin = "https://other.example.com"
			}
			if i >= benchRecords {
				r.State, r.TransactionID = StateUnknown, ""
			}
			batch = append(batch, r)
			if len(batch) == cap(batch) || i == benchRecords+19 {
				if benchErr = benchJ.PutAll(batch); benchErr != nil {
					return
				}
				batch = batch[:0]
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchJ
}

func BenchmarkJournal200k(b *testing.B) {
	j := benchJournal(b)
	b.Run("Unfinished", func(b *testing.B) {
		for b.Loop() {
			if recs, err := j.Unfinished(); err != nil || len(recs) != 20 {
				b.Fatal(len(recs), err)
			}
		}
	})
	b.Run("UnackedOrigin", func(b *testing.B) {
		for b.Loop() {
			if _, err := j.Unacked("https://pos.example.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("HistoryPage", func(b *testing.B) {
		for b.Loop() {
			if p, err := j.History(Query{Limit: 50}); err != nil || len(p.Records) != 50 {
				b.Fatal(err)
			}
		}
	})
	b.Run("HistorySearchLastFour", func(b *testing.B) {
		for b.Loop() {
			if p, err := j.History(Query{LastFour: "0042", Limit: 50}); err != nil || len(p.Records) == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("ByTransactionID", func(b *testing.B) {
		for b.Loop() {
			if recs, err := j.ByTransactionID("tx123456"); err != nil || len(recs) != 1 {
				b.Fatal(len(recs), err)
			}
		}
	})
}
