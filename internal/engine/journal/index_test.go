package journal

import (
	"path/filepath"
	"sort"
	"testing"

	"github.com/posagent/posagent/internal/sale"
	bolt "go.etcd.io/bbolt"
)

func TestByTransactionID(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "journal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, r := range []Record{
		{TransactionAPIID: "sale-1", Action: "sale", Origin: "https://a.example", TransactionID: "tx1", State: sale.StateDone},
		{TransactionAPIID: "void-1", Action: "void", Origin: "https://a.example", TransactionID: "tx1", State: sale.StateDone},
		{TransactionAPIID: "sale-10", Action: "sale", Origin: "https://b.example", TransactionID: "tx10", State: sale.StateDone},
		{TransactionAPIID: "pending", Action: "sale", State: sale.StatePending},
	} {
		if err := j.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(txID string) []string {
		t.Helper()
		recs, err := j.ByTransactionID(txID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.TransactionAPIID)
		}
		sort.Strings(out)
		return out
	}
	check := func(when string) {
		t.Helper()
		if got := ids("tx1"); len(got) != 2 || got[0] != "sale-1" || got[1] != "void-1" {
			t.Errorf("%s: tx1 -> %v, want [sale-1 void-1] (not tx10's)", when, got)
		}
		if got := ids("tx10"); len(got) != 1 || got[0] != "sale-10" {
			t.Errorf("%s: tx10 -> %v", when, got)
		}
		if got := ids("tx3"); len(got) != 0 {
			t.Errorf("%s: unknown id -> %v", when, got)
		}
		if got := ids(""); len(got) != 0 {
			t.Errorf("%s: empty id -> %v", when, got)
		}
	}
	check("first lookup")
	// Once built, Put keeps the index: a record written now is found.
	if err := j.Put(Record{TransactionAPIID: "sale-2", Action: "sale", TransactionID: "tx2", State: sale.StateDone}); err != nil {
		t.Fatal(err)
	}
	if got := ids("tx2"); len(got) != 1 || got[0] != "sale-2" {
		t.Errorf("a record put after the index was built: tx2 -> %v", got)
	}
	// A journal written by an earlier version (its indexes missing or of
	// another scheme): Open builds them.
	j.Close()
	dropIndexes(t, j.path)
	if j, err = Open(j.path, nil); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	check("an earlier version's journal")
}

// dropIndexes makes the journal at path look like one of version 1: no
// index but the gateway-id one.
func dropIndexes(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range indexBuckets {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucket(legacyByTxID); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete(metaIndexVersion)
	}); err != nil {
		t.Fatal(err)
	}
}

// everyRecord pages through the whole history.
func everyRecord(j *Journal) ([]Record, error) {
	var all []Record
	q := sale.Query{Limit: maxPage}
	for {
		p, err := j.History(q)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Records...)
		if !p.More {
			return all, nil
		}
		q.Before = p.Next
	}
}
