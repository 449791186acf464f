package journal

import (
	"fmt"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/sale"
	bolt "go.etcd.io/bbolt"
)

// TestUnackedReadsOnlyWhatStatusReplays: a page that never acknowledges
// (the ack is the page's to send; a page written before it, or one that
// ignores it, never does) keeps every result of its origin
// unacknowledged, and retention keeps every unacknowledged record. Its
// status — every page load and reconnect — replays the newest 32 and
// counts the rest. Unacked read and decoded the origin's whole history for
// that: 430 ms at 30,000 results against 0.26 ms at 32. Now it reads only
// the records it returns: the oldest of the 30,000 is made undecodable,
// and asking for the newest 32 never meets it.
func TestUnackedReadsOnlyWhatStatusReplays(t *testing.T) {
	j, _ := openTemp(t)
	now := time.Now().UTC()
	const n = 30000
	var recs []Record
	for i := range n {
		recs = append(recs, Record{TransactionAPIID: fmt.Sprintf("r-%06d", i), Origin: "http://never-acks", ClientID: fmt.Sprintf("s%d", i%7),
			Action: "sale", Amount: "1.00", State: sale.StateDone, Outcome: sale.OutcomeApproved, Created: now.Add(-time.Duration(i) * time.Minute)})
		if len(recs) == 2000 || i == n-1 {
			if err := j.PutAll(recs); err != nil {
				t.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	if err := j.Put(Record{TransactionAPIID: "other", Origin: "http://small", Action: "sale", State: sale.StateDone, Outcome: sale.OutcomeApproved}); err != nil {
		t.Fatal(err)
	}
	oldest := fmt.Sprintf("r-%06d", n-1)
	if err := j.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTx).Put([]byte(oldest), []byte("{damaged"))
	}); err != nil {
		t.Fatal(err)
	}

	got, total, err := j.Unacked("http://never-acks", 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	if total != n || len(got) != 32 {
		t.Fatalf("Unacked(origin, 32) = %d records, count %d; want 32, count %d", len(got), total, n)
	}
	for i, r := range got {
		if want := fmt.Sprintf("r-%06d", i); r.TransactionAPIID != want {
			t.Fatalf("record %d is %s, want the newest first (%s)", i, r.TransactionAPIID, want)
		}
	}
	if j.Unreadable() != 0 {
		t.Fatalf("asking for the newest 32 read the oldest record: Unacked reads the origin's whole history")
	}
	// Acknowledging moves the count; another origin's is its own.
	if err := j.Ack("r-000000"); err != nil {
		t.Fatal(err)
	}
	if _, total, _ := j.Unacked("http://never-acks", 1, nil); total != n-1 {
		t.Errorf("count after one ack = %d, want %d", total, n-1)
	}
	if _, total, _ := j.Unacked("http://small", 1, nil); total != 1 {
		t.Errorf("count of another origin = %d, want 1", total)
	}
	// An ack by request id reads that request's results only.
	byClient, err := j.UnackedByClient("http://never-acks", "s3")
	if err != nil {
		t.Fatal(err)
	}
	if want := (n - 3 + 6) / 7; len(byClient) != want {
		t.Errorf("UnackedByClient(s3) = %d records, want %d", len(byClient), want)
	}
	for _, r := range byClient {
		if r.ClientID != "s3" {
			t.Fatalf("UnackedByClient(s3) returned %s of %s", r.TransactionAPIID, r.ClientID)
		}
	}
}
