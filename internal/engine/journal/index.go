package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/posagent/posagent/internal/sale"
	bolt "go.etcd.io/bbolt"
)

// The indexes keep the journal's hot paths independent of how many sales it
// holds: every one is a bucket of keys (no values) written in the same bbolt
// transaction as the record it points to, so a record and its index entries
// are durable together or not at all. A reader follows a key to its record
// and checks that the record still matches (a key can never outlive its
// record, but checking costs one comparison and makes a stale key harmless).
//
//	open:     transaction_api_id                       records not done (pending, sending, unknown),
//	          and approvals whose chip card still owes its part (Record.CardOwed)
//	unacked:  origin NUL created(8) transaction_api_id done and not acknowledged, per origin in
//	          time order (status replays the newest few: a page that never
//	          acknowledges must not make every status read its whole history)
//	unacked_client: origin NUL client_id NUL transaction_api_id
//	          the same records by the page's request id (ack by request id)
//	unacked_count: origin NUL -> count(8)              how many the unacked index holds per origin
//	time:     created(8) transaction_api_id            every record, by creation time
//	search:   kind value NUL created(8) transaction_api_id
//	          kind 't': gateway transaction id (a void's record holds the
//	          id of the sale it voided, so one id may have several);
//	          kind 'l': last four; kind 'a': amount as written ("12.34")
//
// created(8) is the creation time in Unix nanoseconds, big-endian, so that a
// cursor walks a prefix in time order. At 200,000 records a scan that decodes
// every record took 6.6 s per websocket status; a cursor on an index reads
// only what it returns.
var (
	bucketOpen          = []byte("idx_open")
	bucketUnacked       = []byte("idx_unacked")
	bucketUnackedClient = []byte("idx_unacked_client")
	bucketUnackedCount  = []byte("idx_unacked_count")
	bucketTime          = []byte("idx_time")
	bucketSearch        = []byte("idx_search")
	indexBuckets        = [][]byte{bucketOpen, bucketUnacked, bucketUnackedClient, bucketUnackedCount, bucketTime, bucketSearch}

	// metaIndexVersion names the index scheme a journal's indexes follow.
	// A journal of an earlier version (none, or the lone gateway-id index
	// of v1) gets them built at Open, once, by buildIndexes.
	metaIndexVersion = []byte("index_version")
	indexVersion     = []byte("4")
	// Left by version 1 of the scheme; buildIndexes removes them.
	legacyByTxID      = []byte("by_transaction_id")
	legacyByTxIDBuilt = []byte("by_transaction_id_built")
)

// Search kinds.
const (
	kindTxID     = 't'
	kindLastFour = 'l'
	kindAmount   = 'a'
)

func timeKey(t time.Time) []byte {
	var b [8]byte
	// UnixNano is undefined outside 1678–2262: a bound out there (an
	// export --until 9999-12-31, a huge keep_days) is the end it stands
	// for, never a wrapped value.
	var n int64
	switch {
	case t.Before(time.Unix(0, 0)):
		n = 0
	case t.After(time.Unix(0, math.MaxInt64)):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return b[:]
}

func searchPrefix(kind byte, value string) []byte {
	return append(append([]byte{kind}, value...), 0)
}

// indexKeys lists r's key in each index bucket.
func indexKeys(r *Record) map[string][][]byte {
	id := []byte(r.TransactionAPIID)
	tk := append(timeKey(r.Created), id...)
	keys := map[string][][]byte{string(bucketTime): {tk}}
	if r.State != sale.StateDone || r.CardOwed() {
		keys[string(bucketOpen)] = [][]byte{id}
	}
	if r.State == sale.StateDone && !r.Acked {
		keys[string(bucketUnacked)] = [][]byte{append(append([]byte(r.Origin+"\x00"), timeKey(r.Created)...), id...)}
		keys[string(bucketUnackedClient)] = [][]byte{append([]byte(r.Origin+"\x00"+r.ClientID+"\x00"), id...)}
	}
	for _, s := range []struct {
		kind  byte
		value string
	}{{kindTxID, r.TransactionID}, {kindLastFour, r.LastFour}, {kindAmount, r.Amount}} {
		if s.value != "" {
			keys[string(bucketSearch)] = append(keys[string(bucketSearch)], append(searchPrefix(s.kind, s.value), tk...))
		}
	}
	return keys
}

// indexDelete removes old's index entries (old may be nil).
func indexDelete(tx *bolt.Tx, old *Record) error {
	if old == nil {
		return nil
	}
	for name, keys := range indexKeys(old) {
		b := tx.Bucket([]byte(name))
		for _, k := range keys {
			if name == string(bucketUnacked) && has(b, k) {
				if err := countUnacked(tx, old.Origin, -1); err != nil {
					return err
				}
			}
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// countUnacked moves origin's count of unacknowledged results by d, in
// the transaction that adds or removes its index key.
func countUnacked(tx *bolt.Tx, origin string, d int64) error {
	b, k := tx.Bucket(bucketUnackedCount), []byte(origin+"\x00") // never empty: bbolt needs a key
	n := int64(0)
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += d
	if n <= 0 {
		return b.Delete(k)
	}
	return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// unackedCount is origin's count of unacknowledged results.
func unackedCount(tx *bolt.Tx, origin string) int {
	if v := tx.Bucket(bucketUnackedCount).Get([]byte(origin + "\x00")); len(v) == 8 {
		return int(binary.BigEndian.Uint64(v))
	}
	return 0
}

// indexPut adds r's index entries.
func indexPut(tx *bolt.Tx, r *Record) error {
	for name, keys := range indexKeys(r) {
		b := tx.Bucket([]byte(name))
		for _, k := range keys {
			if name == string(bucketUnacked) && !has(b, k) {
				if err := countUnacked(tx, r.Origin, 1); err != nil {
					return err
				}
			}
			if err := b.Put(k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// has reports whether b holds the key k (index keys have empty values,
// which Get cannot tell from absent ones).
func has(b *bolt.Bucket, k []byte) bool {
	got, _ := b.Cursor().Seek(k)
	return bytes.Equal(got, k)
}

// buildIndexes brings the indexes of a journal written by an earlier
// version up to date: it drops what there was and indexes every record,
// in transactions of buildBatch records, then records the scheme's
// version, so a crash midway only means it starts over at the next Open.
// A journal of this version costs one read.
func buildIndexes(db *bolt.DB) error {
	current := false
	if err := db.View(func(tx *bolt.Tx) error {
		current = bytes.Equal(tx.Bucket(bucketMeta).Get(metaIndexVersion), indexVersion)
		return nil
	}); err != nil || current {
		return err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range append(indexBuckets, legacyByTxID) {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
		}
		for _, name := range indexBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(legacyByTxIDBuilt)
	}); err != nil {
		return fmt.Errorf("journal: index: %w", err)
	}
	const buildBatch = 2000
	var after []byte
	for {
		n := 0
		err := db.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketTx).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && n < buildBatch; k, v = c.Next() {
				// A record that does not decode cannot be indexed; Get
				// reports it to whoever asks for it by id.
				var r Record
				if json.Unmarshal(v, &r) == nil {
					if err := indexPut(tx, &r); err != nil {
						return err
					}
				}
				after = append(after[:0], k...)
				n++
			}
			if k == nil {
				return tx.Bucket(bucketMeta).Put(metaIndexVersion, indexVersion)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("journal: index: %w", err)
		}
		if n < buildBatch {
			return nil
		}
	}
}
