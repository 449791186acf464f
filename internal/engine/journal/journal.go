package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Record is one transaction. Amounts are decimal strings as the gateway
// writes them ("12.34").
type Record struct {
	TransactionAPIID string       `json:"transaction_api_id"`
	ClientID         string       `json:"client_id,omitempty"` // the websocket request id that asked
	Origin           string       `json:"origin,omitempty"`    // the web origin (or "ui", "cli") that asked
	Action           string       `json:"action"`
	Amount           string       `json:"amount,omitempty"`
	TipAmount        string       `json:"tip_amount,omitempty"`
	OrderNum         string       `json:"order_num,omitempty"`
	Description      string       `json:"description,omitempty"`
	ReaderID         string       `json:"reader_id,omitempty"`
	OrigTransaction  string       `json:"orig_transaction_id,omitempty"` // refund/void/complete target
	State            sale.State   `json:"state"`
	Outcome          sale.Outcome `json:"outcome,omitempty"` // approved declined cancelled error unknown
	MaskedPAN        string       `json:"masked_pan,omitempty"`
	LastFour         string       `json:"last_four,omitempty"`
	Brand            string       `json:"brand,omitempty"`
	EntryMode        string       `json:"entry_mode,omitempty"`
	TransactionID    string       `json:"transaction_id,omitempty"`
	StatusID         int          `json:"status_id,omitempty"`
	ReasonCodeID     int          `json:"reason_code_id,omitempty"`
	AuthCode         string       `json:"auth_code,omitempty"`
	AuthAmount       string       `json:"auth_amount,omitempty"`
	Verbiage         string       `json:"verbiage,omitempty"`
	AVS              string       `json:"avs,omitempty"` // the gateway's AVS result (avsonly, sales with a billing address)
	Receipt          card.Receipt `json:"receipt,omitempty"`
	Error            string       `json:"error,omitempty"`
	Code             string       `json:"code,omitempty"`     // the error's protocol code, when it has one (duplicate_id)
	Attempts         int          `json:"attempts,omitempty"` // sends, counting the re-send a lookup allowed
	Created          time.Time    `json:"created"`
	Updated          time.Time    `json:"updated"`
	Acked            bool         `json:"acked,omitempty"`

	// What a product's merchant settings require of a sale, as the page
	// gave it (engine.SaleRequest): kept so that the request sent after
	// the card, and any re-send, carry it.
	SubtotalAmount  string `json:"subtotal_amount,omitempty"`
	SurchargeAmount string `json:"surcharge_amount,omitempty"`
	Tax             string `json:"tax,omitempty"`
	CheckinDate     string `json:"checkin_date,omitempty"`
	CheckoutDate    string `json:"checkout_date,omitempty"`
	RoomRate        string `json:"room_rate,omitempty"`

	// CardCompletion is a contact chip card's part after an online
	// authorisation (docs/readers.md, contact EMV flow): "pending" from the
	// read on (durable before the card is told), then "accepted" (TC at the
	// second GENERATE AC) or "declined" (AAC, or the card was never told).
	// Empty for reads with no completion (swipe, tap, fallback).
	CardCompletion string `json:"card_completion,omitempty"`
	// VoidAPIID is, on an approved sale the card did not accept, the
	// transaction_api_id of the void the engine made of it (journaled
	// before the void itself, so that it is made exactly once).
	VoidAPIID string `json:"void_transaction_api_id,omitempty"`
	// ReversalOf is, on that void, the transaction_api_id of the sale it
	// reverses: the void's outcome settles the sale's.
	ReversalOf string `json:"reversal_of,omitempty"`
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
	// mu is held for writing only while Compact swaps the file under db
	// and while Close closes it.
	mu     sync.RWMutex
	db     *bolt.DB
	closed bool
	noSync bool
	path   string
	report OpenReport
	log    *slog.Logger
	// suspect is set when a commit failed or a page could not be read
	// (caught): the file is then not stamped clean at Close (clean.go),
	// and the next start checks it whole.
	suspect atomic.Bool

	badMu sync.Mutex
	bad   map[string]bool // keys whose value does not decode, each logged once
}

// OpenReport says what Open found wrong with the file, for the cashier.
type OpenReport struct {
	// MovedAside is where a damaged journal was moved ("" when it was fine).
	MovedAside string
	// Damage is what was wrong with it.
	Damage string
	// Salvaged counts the records read back from the damaged file into the
	// new journal.
	Salvaged int
	// Unreadable counts the records whose value does not decode (skipped
	// by every read; see Select).
	Unreadable int
}

// Open opens (or creates) the journal at path. A file with any damage —
// bbolt refuses it, panics or faults reading it, or its pages or its
// consistency check fail (see salvage.go) — is moved aside to
// path.damaged-<time>, kept for inspection and never overwritten; every
// record still readable in it is written into a new journal at path, so
// the engine's recovery looks up its unfinished sales and delivers its
// unacknowledged results as after any restart. The event is logged at
// error level; Report tells the caller so it can warn the cashier.
func Open(path string, log *slog.Logger) (*Journal, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal: create directory: %w", err)
	}
	j := &Journal{path: path, log: log, bad: map[string]bool{}}
	// A crash between rebuild's two renames leaves the damaged file aside
	// and the complete salvaged journal at its side: take that one, or its
	// unfinished sales would never be looked up.
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(path+".salvaging", path); err == nil {
			log.Warn("journal: took the journal salvaged by a run that stopped before putting it in place", "path", path)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("journal %s: put the salvaged journal in place: %w", path, err)
		}
	}
	clean := takeStamp(path)
	if err := j.open(clean); err != nil {
		return nil, err
	}
	// The file is read at start only where the agent acts on it (the
	// open index). On a file stamped clean that read is also its check:
	// a page damaged while the agent was stopped makes it fail, and the
	// file then gets the whole check — and the salvage — after all.
	if err := j.startReads(); err != nil {
		if !clean || !errors.Is(err, ErrDamaged) {
			j.db.Close()
			return nil, fmt.Errorf("journal %s: %w", path, err)
		}
		log.Error("journal: a page read at start is damaged: checking the whole file", "error", err)
		closeQuietly(j.db)
		j.suspect.Store(false)
		j.bad = map[string]bool{}
		if err := j.open(false); err != nil {
			return nil, err
		}
		if err := j.startReads(); err != nil {
			j.db.Close()
			return nil, fmt.Errorf("journal %s: %w", path, err)
		}
	}
	return j, nil
}

// open opens the file into j.db — checked unless clean, salvaged when
// damaged — with its indexes current.
func (j *Journal) open(clean bool) error {
	path := j.path
	db, damage, err := openChecked(path, clean)
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return fmt.Errorf("journal %s: %w (stop the other one first)", path, ErrInUse)
		}
		return fmt.Errorf("journal %s: %w", path, err)
	}
	if damage != nil {
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			return fmt.Errorf("journal %s is damaged (%v) and could not be read: %w", path, damage, rerr)
		}
		recs := salvage(b)
		aside := asideName(path, time.Now())
		if err := rebuild(path, aside, recs); err != nil {
			return fmt.Errorf("journal %s is damaged (%v) and could not be replaced: %w", path, damage, err)
		}
		j.report = OpenReport{MovedAside: aside, Damage: damage.Error(), Salvaged: len(recs)}
		j.log.Error("journal file was damaged: moved it aside and started a new one with every record still readable in it; its unfinished sales are being looked up at the gateway",
			"damaged", aside, "damage", damage, "salvaged_records", len(recs))
		if db, err = openDB(path); err != nil {
			return fmt.Errorf("journal %s: %w", path, err)
		}
	}
	j.db = db
	return nil
}

// startReads brings the indexes up to date (a journal of an earlier
// version) and reads the records the agent acts on at start — the open
// index: sales to look up, approvals a chip card still owes — so a damaged
// one is reported to the cashier at start rather than when the recovery
// meets it. The rest is read when it is asked for, never at start, so that
// start costs the same on a year of sales as on a day: an unacknowledged
// result is logged and counted when its page asks for it (status), old
// history when a page or the window reaches it. A damaged page is an
// error (ErrDamaged), never a panic.
func (j *Journal) startReads() (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer j.caught(&err)
	if err := buildIndexes(j.db); err != nil {
		return err
	}
	if _, err := j.openRecords(func(*Record) bool { return true }); err != nil {
		return err
	}
	j.report.Unreadable = j.Unreadable()
	return nil
}

// openChecked checks the file at path (checkFile) unless a clean Close
// left it as it is (clean.go), then opens it for writing. damage (with a
// nil db) means the file is damaged; err means it could not be opened for
// another reason (in use, permissions), and the file is left alone.
func openChecked(path string, clean bool) (db *bolt.DB, damage, err error) {
	st, err := os.Stat(path)
	switch {
	case err == nil && !st.Mode().IsRegular():
		return nil, nil, fmt.Errorf("is a %s, not a journal file: move it away (the agent makes a new journal)", fileKind(st.Mode()))
	case err == nil && st.Size() > 0:
		// Even a file stamped clean gets what a writable open reads
		// checked (a few pages): bbolt trusts its freelist.
		if clean && headDamaged(path) {
			clean = false
		}
		if clean {
			break
		}
		if damage, err := checkFile(path); damage != nil || err != nil {
			return nil, damage, err
		}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, nil, err
	}
	if db, err = openBolt(path, false); err != nil {
		if errors.Is(err, errPanicked) || isCorrupt(err) {
			return nil, err, nil
		}
		return nil, nil, err
	}
	if err := createBuckets(db); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, nil, nil
}

// checkFile opens the file read-only — bbolt then reads neither the
// freelist nor any data page — and, holding its shared lock (no agent
// writes meanwhile), checks the pages' bounds and then bbolt's
// consistency.
func checkFile(path string) (damage, err error) {
	ro, err := openBolt(path, true)
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, err // another agent has it: its bytes may be mid-write
		case errors.Is(err, errPanicked) || isCorrupt(err):
			return err, nil
		}
		if d, rerr := checkPath(path); rerr == nil && d != nil {
			return fmt.Errorf("%w (%v)", err, d), nil
		}
		return nil, err
	}
	defer closeQuietly(ro)
	d, err := checkPath(path)
	if d != nil || err != nil {
		return d, err
	}
	return boltCheck(ro), nil
}

// checkPath runs checkPagesAt over the file at path: damage, or err when
// the file cannot be opened.
func checkPath(path string) (damage, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return checkPagesAt(f, st.Size()), nil
}

// headDamaged reports whether what bbolt reads at a writable open (the
// meta pages and the freelist: checkHeadAt) is damaged, or cannot be read:
// then the file gets the whole check.
func headDamaged(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return true
	}
	_, err = checkHeadAt(f, st.Size())
	return err != nil
}

func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return nil, err
	}
	if err := createBuckets(db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func createBuckets(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketTx, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
}

func isCorrupt(err error) bool {
	return errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrVersionMismatch) ||
		errors.Is(err, bolterrors.ErrChecksum) || errors.Is(err, bolterrors.ErrInvalidMapping)
}

// CardOwed reports whether r is an approval whose contact chip card did not
// accept it — it never answered (pending) or declined — and that has no
// void yet: the engine must void it (engine, complete.go). Such a record
// stays in the open index until then, so recovery finds it without a scan.
func (r *Record) CardOwed() bool {
	return r.State == sale.StateDone && r.Outcome == sale.OutcomeApproved && r.VoidAPIID == "" &&
		(r.CardCompletion == sale.CardPending || r.CardCompletion == sale.CardDeclined)
}

// Report is what Open found wrong with the file.
func (j *Journal) Report() OpenReport { return j.report }

// Path is the journal file.
func (j *Journal) Path() string { return j.path }

// SetNoSync turns fsync on commit off (true) or on. Benchmarks use it to
// measure the agent's own latency apart from the disk's; never in production.
func (j *Journal) SetNoSync(v bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.noSync = v
	j.db.NoSync = v
}

// Close closes the file and, when every commit of this run succeeded,
// stamps it clean so that the next Open need not check it (clean.go).
// Closing twice is harmless.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	if err := j.db.Close(); err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	if j.suspect.Load() {
		return nil
	}
	if err := stampClean(j.path); err != nil {
		j.log.Warn("journal: could not mark the journal closed cleanly: the next start checks the whole file", "error", err)
	}
	return nil
}

// update runs fn in a write transaction. A commit that fails after fn
// succeeded (the disk's error) marks the run's file as not known good; a
// damaged page is ErrDamaged (caught), the transaction rolled back.
func (j *Journal) update(fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer j.caught(&err)
	var fnErr error
	err = j.db.Update(func(tx *bolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	if err != nil && fnErr == nil {
		j.suspect.Store(true)
	}
	return err
}

// ErrDamaged means a page of the journal file could not be read: bbolt
// panicked or faulted on it.
var ErrDamaged = errors.New("the journal file is damaged")

// caught turns a panic or memory fault in a transaction — bbolt meeting a
// damaged page: it trusts its file — into ErrDamaged, and marks the file
// as not known good, so that the next start checks it whole and salvages
// it. Deferred by view, update and startReads, with
// debug.SetPanicOnFault on.
func (j *Journal) caught(err *error) {
	p := recover()
	if p == nil {
		return
	}
	j.suspect.Store(true)
	*err = fmt.Errorf("%w: %v (restart the agent: it checks the whole file at start and salvages every record it can read)", ErrDamaged, p)
	j.log.Error("journal: a page could not be read", "error", *err, "stack", string(debug.Stack()))
}

// Put writes r durably (bbolt fsyncs on commit) and stamps Updated; its
// index entries change in the same transaction.
func (j *Journal) Put(r Record) error {
	_, _, err := j.write(r, false)
	return err
}

// Create writes r only if no record holds its transaction_api_id, in one
// transaction: of two callers with one id exactly one creates it. It
// returns the record that holds the id and whether r is that record.
func (j *Journal) Create(r Record) (Record, bool, error) {
	return j.write(r, true)
}

func (j *Journal) write(r Record, create bool) (Record, bool, error) {
	if r.TransactionAPIID == "" {
		return Record{}, false, errors.New("journal: record without transaction_api_id")
	}
	if r.Created.IsZero() {
		r.Created = time.Now().UTC()
	}
	r.Updated = time.Now().UTC()
	b, err := encode(&r)
	if err != nil {
		return Record{}, false, err
	}
	j.mu.RLock()
	defer j.mu.RUnlock()
	var prev Record
	created := true
	err = j.update(func(tx *bolt.Tx) error {
		old, err := getTx(tx, r.TransactionAPIID)
		if err != nil {
			return err
		}
		if old != nil && create {
			prev, created = *old, false
			return nil
		}
		return putTx(tx, old, &r, b)
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("journal: %w", err)
	}
	if !created {
		return prev, false, nil
	}
	return r, true, nil
}

// PutAll writes recs in one transaction (one fsync): for importing and
// seeding many records at once, not for the sale path, where each change
// must be durable on its own. Keep recs to a few thousand: bbolt splits
// its pages only at commit, so one huge transaction moves memory in
// quadratic time.
func (j *Journal) PutAll(recs []Record) error {
	now := time.Now().UTC()
	enc := make([][]byte, len(recs))
	for i := range recs {
		r := &recs[i]
		if r.TransactionAPIID == "" {
			return errors.New("journal: record without transaction_api_id")
		}
		if r.Created.IsZero() {
			r.Created = now
		}
		r.Updated = now
		var err error
		if enc[i], err = encode(r); err != nil {
			return err
		}
	}
	j.mu.RLock()
	defer j.mu.RUnlock()
	err := j.update(func(tx *bolt.Tx) error {
		for i := range recs {
			old, err := getTx(tx, recs[i].TransactionAPIID)
			if err != nil {
				return err
			}
			if err := putTx(tx, old, &recs[i], enc[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// encode is r as stored, refused if it would hold card data.
func encode(r *Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if hasCardNumber(b) {
		return nil, fmt.Errorf("%w (transaction %s)", ErrCardData, r.TransactionAPIID)
	}
	return b, nil
}

// getTx reads a record within tx: nil when absent, an error when it does
// not decode.
func getTx(tx *bolt.Tx, apiID string) (*Record, error) {
	v := tx.Bucket(bucketTx).Get([]byte(apiID))
	if v == nil {
		return nil, nil
	}
	var r Record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("record %q does not decode: %w", card.RedactPANs(apiID), err)
	}
	return &r, nil
}

// putTx replaces old (nil: none) with r, whose encoding is b, and moves
// the index entries.
func putTx(tx *bolt.Tx, old, r *Record, b []byte) error {
	if err := indexDelete(tx, old); err != nil {
		return err
	}
	if err := tx.Bucket(bucketTx).Put([]byte(r.TransactionAPIID), b); err != nil {
		return err
	}
	return indexPut(tx, r)
}

// Get returns the record of a transaction_api_id. A record that is
// there but does not decode is found, with an error.
func (j *Journal) Get(apiID string) (Record, bool, error) {
	var r *Record
	var found bool
	err := j.view(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketTx).Get([]byte(apiID)) != nil
		var err error
		if r, err = getTx(tx, apiID); err != nil {
			j.unreadable([]byte(apiID), err)
		}
		return err
	})
	if err != nil {
		return Record{}, found, fmt.Errorf("journal: %w", err)
	}
	if r == nil {
		return Record{}, false, nil
	}
	return *r, true, nil
}

// view runs fn in a read transaction, never during a compaction. A
// damaged page is ErrDamaged (caught).
func (j *Journal) view(fn func(tx *bolt.Tx) error) (err error) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer j.caught(&err)
	return j.db.View(fn)
}

// readTx reads a record within tx for the read paths (recovery, status,
// history): a record that does not decode is skipped — logged once and
// counted — so that one damaged value never blocks status or recovery.
func (j *Journal) readTx(tx *bolt.Tx, apiID string) *Record {
	r, err := getTx(tx, apiID)
	if err != nil {
		j.unreadable([]byte(apiID), err)
		return nil
	}
	return r
}

// unreadable logs a record that does not decode, once per record.
func (j *Journal) unreadable(k []byte, err error) {
	j.badMu.Lock()
	first := !j.bad[string(k)]
	j.bad[string(k)] = true
	n := len(j.bad)
	j.badMu.Unlock()
	if first {
		j.log.Error("journal record does not decode: skipped (the sale it belonged to must be checked in the gateway portal)",
			"transaction_api_id", card.RedactPANs(string(k)), "error", err, "unreadable_records", n)
	}
}

// Unreadable counts the records found so far that do not decode.
func (j *Journal) Unreadable() int {
	j.badMu.Lock()
	defer j.badMu.Unlock()
	return len(j.bad)
}

// ErrNotFound means no record holds the transaction_api_id.
var ErrNotFound = errors.New("no such transaction")

// Ack marks a transaction's result as received by a client, in one
// transaction. A transaction the journal does not hold is ErrNotFound;
// any other error is the disk's.
func (j *Journal) Ack(apiID string) error {
	j.mu.RLock()
	defer j.mu.RUnlock()
	err := j.update(func(tx *bolt.Tx) error {
		old, err := getTx(tx, apiID)
		if err != nil {
			return err
		}
		if old == nil {
			return fmt.Errorf("%w: %q", ErrNotFound, apiID)
		}
		if old.Acked {
			return nil
		}
		r := *old
		r.Acked = true
		r.Updated = time.Now().UTC()
		b, err := encode(&r)
		if err != nil {
			return err
		}
		return putTx(tx, old, &r, b)
	})
	if err != nil {
		return fmt.Errorf("journal: ack: %w", err)
	}
	return nil
}

// hasCardNumber reports whether b holds a clear card number or track under
// the card-data policy (card.ContainsCardData).
func hasCardNumber(b []byte) bool {
	return card.ContainsCardData(string(b))
}

// fileKind names what a file that is not a regular one is.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file (" + m.Type().String() + ")"
}
