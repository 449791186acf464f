package journal

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/posagent/posagent/internal/sale"
	bolt "go.etcd.io/bbolt"
)

// InFlight returns the transactions not done yet (pending, sending,
// unknown), newest first, from the open index.
func (j *Journal) InFlight() ([]Record, error) {
	return j.openRecords(func(r *Record) bool { return r.State != sale.StateDone })
}

// Owed returns the approvals whose chip card still owes its part
// (CardOwed), newest first, from the open index.
func (j *Journal) Owed() ([]Record, error) {
	return j.openRecords((*Record).CardOwed)
}

// openRecords returns the records of the open index that keep holds,
// newest first.
func (j *Journal) openRecords(keep func(*Record) bool) ([]Record, error) {
	var out []Record
	err := j.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOpen).ForEach(func(k, _ []byte) error {
			if r := j.readTx(tx, string(k)); r != nil && keep(r) {
				out = append(out, *r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	newestFirst(out)
	return out, nil
}

// Unfinished returns the transactions whose outcome must be looked up.
func (j *Journal) Unfinished() ([]Record, error) {
	recs, err := j.InFlight()
	out := recs[:0]
	for _, r := range recs {
		if r.State.Unfinished() {
			out = append(out, r)
		}
	}
	return out, err
}

// Unacked returns up to limit (0: no limit) of origin's finished
// transactions no client has acknowledged yet that keep holds (nil: all),
// newest first, and how many the origin has in all that it could return:
// a status reports that count and a page waits for as many replays, up to
// the limit. It reads only what it returns: a page that never
// acknowledges has its whole history unacknowledged, and every status it
// sends asks for the newest few. Past the limit the count is the index's,
// less the records met that keep refused or that do not decode. origin ""
// is every origin's: that reads them all (tests, tools).
func (j *Journal) Unacked(origin string, limit int, keep func(*Record) bool) ([]Record, int, error) {
	var out []Record
	total, skipped, full := 0, 0, false
	err := j.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketUnacked).Cursor()
		read := func(k []byte) {
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(k) < i+1+8 {
				return
			}
			r := j.readTx(tx, string(k[i+1+8:]))
			if r != nil && r.State == sale.StateDone && !r.Acked && r.Origin == string(k[:i]) && (keep == nil || keep(r)) {
				out = append(out, *r)
			} else {
				skipped++
			}
		}
		if origin == "" {
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				read(k)
			}
			return nil
		}
		prefix := []byte(origin + "\x00")
		k, _ := c.Seek(append(append([]byte{}, prefix...), 0xFF))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if limit > 0 && len(out) == limit {
				full = true
				total = unackedCount(tx, origin) - skipped
				break
			}
			read(k)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("journal: %w", err)
	}
	newestFirst(out)
	if !full {
		total = len(out) // every one was read: the count is exact
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, max(total, len(out)), nil
}

// UnackedByClient returns origin's finished, unacknowledged transactions
// asked for with the page's request id clientID, newest first.
func (j *Journal) UnackedByClient(origin, clientID string) ([]Record, error) {
	prefix := []byte(origin + "\x00" + clientID + "\x00")
	var out []Record
	err := j.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketUnackedClient).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			r := j.readTx(tx, string(k[len(prefix):]))
			if r != nil && r.State == sale.StateDone && !r.Acked && r.Origin == origin && r.ClientID == clientID {
				out = append(out, *r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	newestFirst(out)
	return out, nil
}

func newestFirst(recs []Record) {
	sort.SliceStable(recs, func(a, b int) bool { return recs[a].Created.After(recs[b].Created) })
}

// ByTransactionID returns the records that hold the gateway transaction id
// txID: the transaction that created it and any change to it.
func (j *Journal) ByTransactionID(txID string) ([]Record, error) {
	if txID == "" {
		return nil, nil
	}
	p, err := j.History(sale.Query{TransactionID: txID, Limit: maxPage})
	return p.Records, err
}

// Page is one page of history, newest first. Next continues it (as
// Query.Before) when More is set.
type Page struct {
	Records []Record
	Next    sale.Cursor
	More    bool
}

const (
	defaultPage = 50
	maxPage     = 1000
)

// History returns a page of records matching q, newest first, read from an
// index: the cost is the page's records and the index keys walked to find
// them, not the journal's size.
func (j *Journal) History(q sale.Query) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = defaultPage
	}
	q.Limit = min(q.Limit, maxPage)
	bucket, prefix := bucketTime, []byte(nil)
	switch {
	case q.TransactionID != "":
		bucket, prefix = bucketSearch, searchPrefix(kindTxID, q.TransactionID)
	case q.LastFour != "":
		bucket, prefix = bucketSearch, searchPrefix(kindLastFour, q.LastFour)
	case q.Amount != "":
		bucket, prefix = bucketSearch, searchPrefix(kindAmount, q.Amount)
	}
	// upper is the first key past the page: the smaller of Until and the
	// cursor; the walk goes backwards from just before it.
	upper := append(append([]byte{}, prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	if !q.Until.IsZero() {
		upper = append(append([]byte{}, prefix...), timeKey(q.Until)...)
	}
	if !q.Before.IsZero() {
		b := append(append(append([]byte{}, prefix...), timeKey(q.Before.Created)...), q.Before.ID...)
		if bytes.Compare(b, upper) < 0 {
			upper = b
		}
	}
	var lower []byte
	if !q.Since.IsZero() {
		lower = append(append([]byte{}, prefix...), timeKey(q.Since)...)
	}
	var p Page
	err := j.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		k, _ := c.Seek(upper)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, lower) >= 0; k, _ = c.Prev() {
			if len(p.Records) == q.Limit {
				p.More = true
				return nil
			}
			r := j.readTx(tx, string(k[len(prefix)+8:]))
			if r == nil || !matches(&q, r) {
				continue
			}
			p.Records = append(p.Records, *r)
			p.Next = sale.Cursor{Created: r.Created, ID: r.TransactionAPIID}
		}
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("journal: %w", err)
	}
	return p, nil
}

func matches(q *sale.Query, r *Record) bool {
	return q.Matches(r.TransactionID, r.LastFour, r.Amount, r.Created)
}

// Stats are a journal's counts and sizes.
type Stats struct {
	Records   int   // every record
	InFlight  int   // not done
	Unacked   int   // done, not acknowledged
	FileBytes int64 // the file on disk
	FreeBytes int64 // pages bbolt holds free for reuse (Compact returns them)
	Oldest    time.Time
	Newest    time.Time
}

// Stats counts the journal's records from its indexes.
func (j *Journal) Stats() (Stats, error) {
	var s Stats
	err := j.view(func(tx *bolt.Tx) error {
		s.Records = tx.Bucket(bucketTx).Stats().KeyN
		s.InFlight = tx.Bucket(bucketOpen).Stats().KeyN
		s.Unacked = tx.Bucket(bucketUnacked).Stats().KeyN
		c := tx.Bucket(bucketTime).Cursor()
		if k, _ := c.First(); k != nil {
			s.Oldest = keyTime(k)
		}
		if k, _ := c.Last(); k != nil {
			s.Newest = keyTime(k)
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("journal: %w", err)
	}
	j.mu.RLock()
	st := j.db.Stats()
	j.mu.RUnlock()
	s.FreeBytes = int64(st.FreeAlloc)
	if fi, err := os.Stat(j.path); err == nil {
		s.FileBytes = fi.Size()
	}
	return s, nil
}

func keyTime(k []byte) time.Time {
	var n uint64
	for _, b := range k[:8] {
		n = n<<8 | uint64(b)
	}
	return time.Unix(0, int64(n)).UTC()
}
