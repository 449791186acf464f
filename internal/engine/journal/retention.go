package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/statedir"
	bolt "go.etcd.io/bbolt"
)

// crashAt, when set (tests only), is called at each step of retention and
// compaction where a crash must lose and duplicate nothing; the crash tests
// make it exit the process there.
var crashAt func(step string)

func step(name string) {
	if crashAt != nil {
		crashAt(name)
	}
}

// ArchiveDir is where Retain writes archive files for the journal at path:
// a directory "archive" beside it.
func ArchiveDir(path string) string { return filepath.Join(filepath.Dir(path), "archive") }

// archiveFile is the archive of the records created on day (UTC).
func archiveFile(dir string, day time.Time) string {
	return filepath.Join(dir, "journal-"+day.UTC().Format("2006-01-02")+".jsonl")
}

// retainBatch bounds the records one pass of Retain archives and deletes.
const retainBatch = 2000

// Retain moves the finished, acknowledged records created before cutoff out
// of the live journal, into one archive file per day of creation in dir:
// JSON lines, one record each, as the journal stores them (masked data
// only; the journal's card-data guard already held for them). It returns
// how many records it moved.
//
// A crash at any moment loses nothing and duplicates nothing: a record's
// line is appended and fsynced before the record is deleted, and a run
// after a crash skips the lines an archive already holds (by
// transaction_api_id) and drops a torn last line, whose record is still in
// the journal.
//
// ctx ends it between passes (each pass is whole).
func (j *Journal) Retain(ctx context.Context, cutoff time.Time, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("journal: archive: %w", err)
	}
	moved := 0
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return moved, err
		}
		batch, next, err := j.retainable(cutoff, after)
		if err != nil {
			return moved, err
		}
		if len(batch) > 0 {
			if err := archive(dir, batch); err != nil {
				return moved, err
			}
			n, err := j.deleteArchived(batch)
			moved += n
			if err != nil {
				return moved, err
			}
		}
		if next == nil {
			return moved, nil
		}
		after = next
	}
}

// retainable reads up to retainBatch records that Retain moves, walking the
// time index from after (exclusive) to cutoff; next is where to go on, nil
// at the end.
func (j *Journal) retainable(cutoff time.Time, after []byte) (batch []stored, next []byte, err error) {
	end := timeKey(cutoff)
	err = j.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTime).Cursor()
		k, _ := c.First()
		if after != nil {
			if k, _ = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, _ = c.Next()
			}
		}
		walked := 0
		var last []byte
		for ; k != nil && bytes.Compare(k[:8], end) < 0; k, _ = c.Next() {
			if walked == 4*retainBatch || len(batch) == retainBatch {
				next = append([]byte{}, last...) // the next pass starts after it
				return nil
			}
			walked++
			last = k
			id := k[8:]
			v := tx.Bucket(bucketTx).Get(id)
			if v == nil {
				continue
			}
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("record %q: %w", id, err)
			}
			if r.State == sale.StateDone && r.Acked {
				batch = append(batch, stored{rec: r, raw: append([]byte{}, v...)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	return batch, next, nil
}

type stored struct {
	rec Record
	raw []byte // as the journal holds it
}

// archive appends the records' lines to their day's files, each line once,
// and fsyncs every file it wrote (and the directory, for a new file).
func archive(dir string, batch []stored) error {
	byDay := map[string][]stored{}
	var days []string
	for _, s := range batch {
		f := archiveFile(dir, s.rec.Created)
		if byDay[f] == nil {
			days = append(days, f)
		}
		byDay[f] = append(byDay[f], s)
	}
	for _, path := range days {
		if err := appendLines(path, byDay[path]); err != nil {
			return fmt.Errorf("journal: archive %s: %w", path, err)
		}
	}
	return nil
}

func appendLines(path string, recs []stored) error {
	have, size, err := archivedIDs(path)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	// Past the last whole line: a torn line from a crash mid-append is
	// overwritten (its record is still in the journal).
	if err := f.Truncate(size); err != nil {
		return err
	}
	w := bufio.NewWriter(io.NewOffsetWriter(f, size))
	for _, s := range recs {
		if have[s.rec.TransactionAPIID] {
			continue
		}
		// The journal's own guard, once more: an archive is as masked as
		// the journal.
		if hasCardNumber(s.raw) {
			return fmt.Errorf("%w (transaction %s)", ErrCardData, s.rec.TransactionAPIID)
		}
		w.Write(s.raw)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	step("archive-written")
	if err := f.Sync(); err != nil {
		return err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(filepath.Dir(path)); err != nil {
			return err
		}
	}
	step("archive-synced")
	return nil
}

// archivedIDs reads the ids an archive file holds and the length of its
// whole lines.
func archivedIDs(path string) (map[string]bool, int64, error) {
	have := map[string]bool{}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return have, 0, nil
	}
	if err := regularFile(path); err != nil {
		return nil, 0, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	whole := bytes.LastIndexByte(b, '\n') + 1
	for line := range bytes.Lines(b[:whole]) {
		var r struct {
			ID string `json:"transaction_api_id"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, 0, fmt.Errorf("a line does not decode (%w): move the file aside and run again", err)
		}
		have[r.ID] = true
	}
	return have, int64(whole), nil
}

// deleteArchived deletes the archived records in one transaction, each
// only if it is still what was archived.
func (j *Journal) deleteArchived(batch []stored) (int, error) {
	n := 0
	j.mu.RLock()
	defer j.mu.RUnlock()
	err := j.update(func(tx *bolt.Tx) error {
		n = 0
		for _, s := range batch {
			id := []byte(s.rec.TransactionAPIID)
			if !bytes.Equal(tx.Bucket(bucketTx).Get(id), s.raw) {
				continue // changed since: archived again next time
			}
			if err := indexDelete(tx, &s.rec); err != nil {
				return err
			}
			if err := tx.Bucket(bucketTx).Delete(id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("journal: delete archived records: %w", err)
	}
	step("deleted")
	return n, nil
}

// syncDirFails, when set (tests only), stands for a directory fsync that
// fails.
var syncDirFails func(dir string) error

func syncDir(dir string) error {
	if syncDirFails != nil {
		return syncDirFails(dir)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Compact rewrites the journal into a new file holding only what it keeps
// and puts it in place of the old one: bbolt reuses freed pages but never
// shortens its file, so after Retain the size on disk follows what is kept
// only through this. Reads and writes wait meanwhile.
//
// A crash at any moment loses nothing: the copy is written and fsynced
// under path.compact, then renamed over path (atomic), then the directory is
// fsynced; until the rename the old file is the journal, after it the new
// one is, whole. A leftover path.compact is removed by the next Compact.
func (j *Journal) Compact() (before, after int64, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	// bbolt's copy reads every page: a damaged one is an error.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer j.caught(&err)
	if fi, err := os.Stat(j.path); err == nil {
		before = fi.Size()
	}
	tmp := j.path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return before, before, fmt.Errorf("journal: compact: %w", err)
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: openTimeout, NoSync: true})
	if err != nil {
		return before, before, fmt.Errorf("journal: compact: %w", err)
	}
	if err := bolt.Compact(dst, j.db, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return before, before, fmt.Errorf("journal: compact: %w", err)
	}
	step("compact-written")
	dst.NoSync = false
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return before, before, fmt.Errorf("journal: compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return before, before, fmt.Errorf("journal: compact: %w", err)
	}
	step("compact-synced")
	if err := statedir.MatchOwner(tmp); err != nil {
		os.Remove(tmp)
		return before, before, fmt.Errorf("journal: compact: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		os.Remove(tmp)
		return before, before, fmt.Errorf("journal: compact: %w", err)
	}
	// From the rename on the new file is the journal, whatever fails
	// next: the old one is unlinked, and a write to it would go to a file
	// no restart opens. So the journal moves to the new file before a
	// failed directory fsync is reported (the rename may then not survive
	// a power cut, which leaves the old file, whole, as the journal).
	old := j.db
	syncErr := syncDir(filepath.Dir(j.path))
	step("compact-renamed")
	db, err := bolt.Open(j.path, 0o600, &bolt.Options{Timeout: openTimeout})
	old.Close()
	if err != nil {
		return before, before, fmt.Errorf("journal: reopen after compact: %w", err)
	}
	db.NoSync = j.noSync
	j.db = db
	if syncErr != nil {
		j.suspect.Store(true)
		return before, before, fmt.Errorf("journal: compact: %w", syncErr)
	}
	if fi, err := os.Stat(j.path); err == nil {
		after = fi.Size()
	}
	return before, after, nil
}
