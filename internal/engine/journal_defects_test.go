package engine

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
	bolt "go.etcd.io/bbolt"
)

// A record under the caller's transaction_api_id that cannot be read is
// not "no record": the sale is refused with a journal error and the record
// is left as it was, never overwritten.
func TestDuplicateCheckSurfacesReadError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Put(journal.Record{TransactionAPIID: "dup-1", Action: "sale", State: sale.StateDone, Outcome: "approved"}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	garbage := []byte(`{"transaction_api_id":"dup-1","state":`) // torn by a bad disk
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("transactions")).Put([]byte("dup-1"), garbage) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	h := newHarness(t, func(c *Config) {
		c.Journal.Close()
		if c.Journal, err = journal.Open(path, nil); err != nil {
			t.Fatal(err)
		}
	})
	_, err = h.e.StartSale(context.Background(), SaleRequest{ClientID: "s1", Origin: "http://127.0.0.1:7380", Amount: "1.00", TransactionAPIID: "dup-1"})
	var ee *Error
	if !errors.As(err, &ee) || ee.Code != CodeJournal {
		t.Fatalf("sale over an unreadable record: %v, want %s", err, CodeJournal)
	}
	_, err = h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "r1", Origin: "http://127.0.0.1:7380", Action: "refund", TransactionID: "tx9", Amount: "1.00", TransactionAPIID: "dup-1"})
	if !errors.As(err, &ee) || ee.Code != CodeJournal {
		t.Fatalf("refund over an unreadable record: %v, want %s", err, CodeJournal)
	}
	h.e.Close(time.Second)
	h.e.cfg.Journal.Close()
	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if got := tx.Bucket([]byte("transactions")).Get([]byte("dup-1")); string(got) != string(garbage) {
			t.Errorf("the unreadable record was overwritten: %s", got)
		}
		return nil
	})
	if n := h.gw.charges(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// Two follow-ups with one transaction_api_id at once: exactly one passes
// the duplicate check; the other gets duplicate_id and nothing is sent
// for it.
func TestTwoFollowUpsOneID(t *testing.T) {
	h := newHarness(t, nil)
	for round := range 20 {
		apiID := "refund-" + string(rune('a'+round))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ok, dup int
		start := make(chan struct{})
		for range 2 {
			wg.Go(func() {
				<-start
				_, err := h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "r", Origin: "http://127.0.0.1:7380",
					Action: "refund", TransactionID: "tx-elsewhere", Amount: "1.00", TransactionAPIID: apiID})
				var ee *Error
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.As(err, &ee) && ee.Code == CodeDuplicateID:
					dup++
				default:
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok != 1 || dup != 1 {
			t.Fatalf("round %d: %d passed, %d duplicate_id; want 1 and 1", round, ok, dup)
		}
		h.next(sale.UpdateResult, apiID)
	}
}

// A disk error on Ack is a journal error, not not_found: the page must not
// be told its result does not exist.
func TestAckDiskErrorIsNotNotFound(t *testing.T) {
	h := newHarness(t, nil)
	rec := h.sale("1.00")
	h.swipe(h.read())
	h.next(sale.UpdateResult, rec.TransactionAPIID)
	h.j.Close() // every read and write now fails
	err := h.e.Ack(rec.TransactionAPIID)
	var ee *Error
	if !errors.As(err, &ee) || ee.Code != CodeJournal {
		t.Fatalf("Ack on a failing journal: %v, want %s", err, CodeJournal)
	}
	if err := h.e.Ack("never-was"); err == nil {
		t.Fatal("ack of an unknown id succeeded")
	}
}
