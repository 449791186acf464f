package journal

import (
	"path/filepath"
	"sort"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestByTransactionID(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "journal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, r := range []Record{
		{TransactionAPIID: "sale-1", Action: "sale", Origin: "https://a.example", TransactionID: "tx1", State: StateDone},
		{TransactionAPIID: "void-1", Action: "void", Origin: "https://a.example", TransactionID: "tx1", State: StateDone},
		{TransactionAPIID: "sale-10", Action: "sale", Origin: "https://b.example", TransactionID: "tx10", State: StateDone},
		{TransactionAPIID: "pending", Action: "sale", State: StatePending},
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
	if err := j.Put(Record{TransactionAPIID: "sale-2", Action: "sale", TransactionID: "tx2", State: StateDone}); err != nil {
		t.Fatal(err)
	}
	if got := ids("tx2"); len(got) != 1 || got[0] != "sale-2" {
		t.Errorf("a record put after the index was built: tx2 -> %v", got)
	}
	// A journal written before the index existed: built at the first lookup.
	if err := j.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketByTxID); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete(metaByTxIDBuilt)
	}); err != nil {
		t.Fatal(err)
	}
	check("an earlier version's journal")
}
