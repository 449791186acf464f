package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/posagent/posagent/internal/card"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// State is where a transaction stands.
type State string

// States. Only StateSending and StateUnknown are "unfinished": the gateway may
// or may not have the transaction, and the engine must find out by lookup.
// (A pending record is a live sale; on start, the engine turns those an
// earlier run left into StateUnknown.)
const (
	// StatePending: created with its transaction_api_id, durable before any
	// request; waiting for a card. The engine writes StateSending once the
	// request is on the wire, not before, so a record an earlier run left
	// pending may have been sent: recovery looks it up.
	StatePending State = "pending"
	// StateSending: the request has left (written once it is on the wire).
	StateSending State = "sending"
	// StateUnknown: the request may have been committed (timeout, 5xx,
	// reset); resolution by lookup is in progress.
	StateUnknown State = "unknown"
	// StateDone: the outcome is final.
	StateDone State = "done"
)

// Unfinished reports whether the gateway's view must be looked up.
func (s State) Unfinished() bool { return s == StateSending || s == StateUnknown }

// Record is one transaction. Amounts are decimal strings as the gateway
// writes them ("12.34").
type Record struct {
	TransactionAPIID string    `json:"transaction_api_id"`
	ClientID         string    `json:"client_id,omitempty"` // the websocket request id that asked
	Origin           string    `json:"origin,omitempty"`    // the web origin (or "ui", "cli") that asked
	Action           string    `json:"action"`
	Amount           string    `json:"amount,omitempty"`
	TipAmount        string    `json:"tip_amount,omitempty"`
	OrderNum         string    `json:"order_num,omitempty"`
	Description      string    `json:"description,omitempty"`
	ReaderID         string    `json:"reader_id,omitempty"`
	OrigTransaction  string    `json:"orig_transaction_id,omitempty"` // refund/void/complete target
	State            State     `json:"state"`
	Outcome          string    `json:"outcome,omitempty"` // approved declined cancelled error unknown
	MaskedPAN        string    `json:"masked_pan,omitempty"`
	LastFour         string    `json:"last_four,omitempty"`
	Brand            string    `json:"brand,omitempty"`
	EntryMode        string    `json:"entry_mode,omitempty"`
	TransactionID    string    `json:"transaction_id,omitempty"`
	StatusID         int       `json:"status_id,omitempty"`
	ReasonCodeID     int       `json:"reason_code_id,omitempty"`
	AuthCode         string    `json:"auth_code,omitempty"`
	AuthAmount       string    `json:"auth_amount,omitempty"`
	Verbiage         string    `json:"verbiage,omitempty"`
	AVS              string    `json:"avs,omitempty"` // the gateway's AVS result (avsonly, sales with a billing address)
	Receipt          Receipt   `json:"receipt,omitempty"`
	Error            string    `json:"error,omitempty"`
	Code             string    `json:"code,omitempty"`     // the error's protocol code, when it has one (duplicate_id)
	Attempts         int       `json:"attempts,omitempty"` // sends, counting the re-send a lookup allowed
	Created          time.Time `json:"created"`
	Updated          time.Time `json:"updated"`
	Acked            bool      `json:"acked,omitempty"`
}

// Receipt holds the EMV receipt fields of an approved chip or tap sale.
type Receipt struct {
	TC     string `json:"TC,omitempty"`
	TVR    string `json:"TVR,omitempty"`
	AID    string `json:"AID,omitempty"`
	TSI    string `json:"TSI,omitempty"`
	ATC    string `json:"ATC,omitempty"`
	APPLAB string `json:"APPLAB,omitempty"`
	APPN   string `json:"APPN,omitempty"`
	CVM    string `json:"CVM,omitempty"`
}

var (
	bucketTx   = []byte("transactions") // transaction_api_id -> Record JSON
	bucketMeta = []byte("meta")
)

// openTimeout bounds the wait for the file lock: a second agent on the same
// journal must fail fast with a clear message, not hang.
const openTimeout = 2 * time.Second

// ErrInUse means another posagent holds the journal.
var ErrInUse = errors.New("the journal is in use by another posagent process")

// ErrCardData is returned by Put for a record that would store card data.
var ErrCardData = errors.New("journal refuses to store card data")

// Journal is an open journal file.
type Journal struct {
	db         *bolt.DB
	path       string
	movedAside string
	log        *slog.Logger
}

// Open opens (or creates) the journal at path. A file that is not a valid
// journal is moved aside to path.corrupt-<time> — kept for inspection, never
// silently overwritten — a fresh journal is created, and the event is logged
// at error level; MovedAside tells the caller so it can warn the cashier.
func Open(path string, log *slog.Logger) (*Journal, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal: create directory: %w", err)
	}
	j := &Journal{path: path, log: log}
	db, err := openDB(path)
	if err != nil && isCorrupt(err) {
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("journal %s is damaged (%v) and could not be moved aside: %w", path, err, rerr)
		}
		log.Error("journal file was damaged: moved it aside and started a new one; sales recorded in it were not checked automatically — look them up in the gateway portal",
			"damaged", aside, "error", err)
		j.movedAside = aside
		db, err = openDB(path)
	}
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("journal %s: %w (stop the other one first)", path, ErrInUse)
		}
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	j.db = db
	return j, nil
}

func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketTx); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketMeta)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func isCorrupt(err error) bool {
	return errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrVersionMismatch) ||
		errors.Is(err, bolterrors.ErrChecksum) || errors.Is(err, bolterrors.ErrInvalidMapping)
}

// MovedAside is the path a damaged journal was moved to by Open, or "".
func (j *Journal) MovedAside() string { return j.movedAside }

// Path is the journal file.
func (j *Journal) Path() string { return j.path }

// SetNoSync turns fsync on commit off (true) or on. Benchmarks use it to
// measure the agent's own latency apart from the disk's; never in production.
func (j *Journal) SetNoSync(v bool) { j.db.NoSync = v }

// Close closes the file.
func (j *Journal) Close() error { return j.db.Close() }

// Put writes r durably (bbolt fsyncs on commit) and stamps Updated.
func (j *Journal) Put(r Record) error {
	if r.TransactionAPIID == "" {
		return errors.New("journal: record without transaction_api_id")
	}
	if r.Created.IsZero() {
		r.Created = time.Now().UTC()
	}
	r.Updated = time.Now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if hasCardNumber(b) {
		return fmt.Errorf("%w (transaction %s)", ErrCardData, r.TransactionAPIID)
	}
	return j.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketTx).Put([]byte(r.TransactionAPIID), b); err != nil {
			return err
		}
		return indexPut(tx, &r)
	})
}

// Get returns the record of a transaction_api_id.
func (j *Journal) Get(apiID string) (Record, bool, error) {
	var r Record
	var found bool
	err := j.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTx).Get([]byte(apiID))
		if b == nil {
			return nil
		}
		found = true
		return json.Unmarshal(b, &r)
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("journal: %w", err)
	}
	return r, found, nil
}

// Select returns the records for which keep returns true, newest first.
func (j *Journal) Select(keep func(*Record) bool) ([]Record, error) {
	var out []Record
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTx).ForEach(func(k, v []byte) error {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("record %q: %w", k, err)
			}
			if keep == nil || keep(&r) {
				out = append(out, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Created.After(out[b].Created) })
	return out, nil
}

// Unfinished returns the transactions whose outcome must be looked up.
func (j *Journal) Unfinished() ([]Record, error) {
	return j.Select(func(r *Record) bool { return r.State.Unfinished() })
}

// Unacked returns the finished transactions no client has acknowledged yet.
func (j *Journal) Unacked() ([]Record, error) {
	return j.Select(func(r *Record) bool { return r.State == StateDone && !r.Acked })
}

// Ack marks a transaction's result as received by a client.
func (j *Journal) Ack(apiID string) error {
	r, ok, err := j.Get(apiID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("journal: no transaction %q", apiID)
	}
	r.Acked = true
	return j.Put(r)
}

// hasCardNumber reports whether b holds a clear track start or a clear
// card number (card.ContainsPAN).
func hasCardNumber(b []byte) bool {
	return bytes.Contains(b, []byte("%B")) || card.ContainsPAN(string(b))
}
