package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
)

// BenchmarkSalesThroughJournal runs whole sales (create, card, send, finish)
// against an instant gateway with the journal's fdatasyncs on, so the
// number is what the journal and the state machine allow per second; it
// reports the durable commits each sale costs (docs/reliability.md, "The
// order of the journal's writes").
func BenchmarkSalesThroughJournal(b *testing.B) {
	j, err := journal.Open(filepath.Join(b.TempDir(), "journal.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	h := &harness{gw: newFakeGateway(), rd: &fakeReaders{infos: []sale.Reader{simInfo}}, j: j}
	e, err := New(Config{Gateway: h.gw, Readers: h.rd, Journal: j})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(time.Second)
	h.e = e
	upd, stop := e.Subscribe()
	defer stop()
	commits0, err := j.Commits()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var cardToResult time.Duration // what the customer waits: card read to result
	for i := 0; i < b.N; i++ {
		rec, err := e.StartSale(context.Background(), SaleRequest{ClientID: "b", Amount: "1.00"})
		if err != nil {
			b.Fatal(err)
		}
		card := time.Now()
		h.swipe(h.read())
		for u := range upd {
			if u.Kind == sale.UpdateResult && u.TransactionAPIID == rec.TransactionAPIID {
				break
			}
		}
		cardToResult += time.Since(card)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sales/s")
	b.ReportMetric(float64(cardToResult.Nanoseconds())/float64(b.N), "card-to-result-ns")
	b.StopTimer()
	e.Close(time.Second) // the last write of the last sale has landed
	commits, err := j.Commits()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(commits-commits0)/float64(b.N), "commits/sale")
}

// BenchmarkOwnerCheck is the ownership check a refund, void or complete
// makes before it is journaled: a scan of the journal for the transaction's
// maker, here one of 10,000 sales.
func BenchmarkOwnerCheck(b *testing.B) {
	j, err := journal.Open(filepath.Join(b.TempDir(), "journal.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	j.SetNoSync(true)
	for i := 0; i < 10_000; i++ {
		id := fmt.Sprintf("sale-%05d", i)
		if err := j.Put(journal.Record{TransactionAPIID: id, Origin: "https://a.example", Action: "sale", Amount: "1.00",
			State: sale.StateDone, Outcome: sale.OutcomeApproved, TransactionID: "tx-" + id, AuthCode: "A1B2C3"}); err != nil {
			b.Fatal(err)
		}
	}
	e, err := New(Config{Gateway: newFakeGateway(), Journal: j})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(time.Second)
	req := FollowUpRequest{Origin: "https://b.example", Action: "refund", TransactionID: "tx-sale-05000"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.checkOwner(req); err == nil {
			b.Fatal("another origin's transaction passed the check")
		}
	}
}
