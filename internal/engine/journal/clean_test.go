package journal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/sale"
)

// writeSplitJournal writes 300 finished sales (done-*) and, in their own
// pages at the end of the key order, 20 unfinished ones (open-*): the
// finished sales' pages are not read at start.
func writeSplitJournal(t *testing.T, path string) {
	t.Helper()
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 320 {
		r := Record{TransactionAPIID: fmt.Sprintf("done-%04d", i), State: sale.StateDone, Outcome: "approved",
			Acked: true, Description: strings.Repeat("d", 150)}
		if i >= 300 {
			r = Record{TransactionAPIID: fmt.Sprintf("open-%04d", i), State: sale.StateUnknown, Description: strings.Repeat("d", 150)}
		}
		if err := j.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	// Compacted, every record is in one page: bbolt's copy-on-write
	// leaves earlier versions of a leaf in freed pages, and damaging one
	// of those (what damagePage found first) damaged nothing bbolt reads:
	// "a damaged page on the start path" passed or failed with where the
	// timestamps' lengths put the page boundaries.
	if _, _, err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// damagePage overwrites the page holding the record of id with random
// bytes, in place (same size), and returns the file's modification time
// before.
func damagePage(t *testing.T, path, id string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := currentMeta(b)
	pg := pageOf(t, b, m.pageSize, `"transaction_api_id":"`+id+`"`)
	rng := rand.New(rand.NewPCG(3, 4))
	p := b[pg*m.pageSize : (pg+1)*m.pageSize]
	for i := range p {
		p[i] = byte(rng.UintN(256))
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// reopen opens the journal at path as the next start does; it is closed
// when the test ends.
func reopen(t *testing.T, path string) *Journal {
	t.Helper()
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// TestCleanCloseStamp: a journal closed cleanly is not checked again at
// the next Open — start costs the same on a year of sales as on a day —
// and any change to the file since, a kill before Close, or a failed
// commit brings the check back.
func TestCleanCloseStamp(t *testing.T) {
	t.Run("clean close skips the check", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "journal.db")
		writeSplitJournal(t, path)
		if !stampedClean(path) {
			t.Fatal("a clean Close left no valid stamp")
		}
		// Damage a page start does not read and give the file back its
		// stamped time: the one change the stamp cannot see (clean.go).
		// Open takes the file as it is — proof that the whole check did
		// not run — and the page read later is an error, not a panic.
		mtime := damagePage(t, path, "done-0010")
		if err := os.Chtimes(path, time.Time{}, mtime); err != nil {
			t.Fatal(err)
		}
		j, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep := j.Report(); rep.MovedAside != "" {
			t.Fatalf("the stamped file was checked: %+v", rep)
		}
		if _, err := os.Stat(path + cleanSuffix); !os.IsNotExist(err) {
			t.Errorf("Open left the stamp in place (%v): it describes only the closed state", err)
		}
		if _, _, err := j.Get("done-0010"); !errors.Is(err, ErrDamaged) {
			t.Fatalf("Get on the damaged page: %v, want ErrDamaged", err)
		}
		if err := j.Put(Record{TransactionAPIID: "done-0011", State: sale.StateDone}); !errors.Is(err, ErrDamaged) {
			t.Fatalf("Put into the damaged page: %v, want ErrDamaged", err)
		}
		if _, err := j.Unfinished(); err != nil {
			t.Fatalf("the undamaged pages no longer read: %v", err)
		}
		j.Close()
		// A page met damaged leaves no stamp: the next start checks the
		// whole file and salvages it.
		j, err = Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if rep := j.Report(); rep.MovedAside == "" || rep.Salvaged < 300 {
			t.Fatalf("after a damaged page was met: %+v, want the file salvaged", rep)
		}
	})
	t.Run("a damaged page on the start path is checked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "journal.db")
		writeSplitJournal(t, path)
		mtime := damagePage(t, path, "open-0310")
		if err := os.Chtimes(path, time.Time{}, mtime); err != nil {
			t.Fatal(err)
		}
		j := reopen(t, path)
		if rep := j.Report(); rep.MovedAside == "" {
			t.Fatal("a stamped file whose start pages are damaged was not checked")
		}
		if un, err := j.Unfinished(); err != nil || len(un) == 0 {
			t.Fatalf("salvaged journal: Unfinished = %d, %v", len(un), err)
		}
	})
	t.Run("a damaged freelist is checked", func(t *testing.T) {
		// bbolt reads the freelist when it opens a file for writing, before
		// any transaction: a garbage count there (a bit rotted while the
		// agent was stopped) made it allocate terabytes — a fatal out of
		// memory no recover catches — at the start of a stamped file.
		path := filepath.Join(t.TempDir(), "journal.db")
		writeSplitJournal(t, path)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m := currentMeta(b)
		p := b[m.freelist*uint64(m.pageSize):]
		ne.PutUint16(p[10:], 0xFFFF)            // the count is in the first slot...
		ne.PutUint64(p[pageHeaderSize:], 1<<40) // ...and it is garbage
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, time.Time{}, fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		j := reopen(t, path)
		if rep := j.Report(); rep.MovedAside == "" || rep.Salvaged != 320 {
			t.Fatalf("a stamped file with a damaged freelist: %+v, want it salvaged whole", rep)
		}
	})
	t.Run("a change since the clean close is checked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "journal.db")
		writeSplitJournal(t, path)
		damagePage(t, path, "done-0010") // same size, the kernel's time
		j := reopen(t, path)
		if rep := j.Report(); rep.MovedAside == "" {
			t.Fatal("a file written after its clean close was not checked")
		}
	})
	t.Run("a kill before close is checked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "journal.db")
		writeSplitJournal(t, path)
		j, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Put(Record{TransactionAPIID: "late", State: "pending"}); err != nil {
			t.Fatal(err)
		}
		// No Close: the process was killed. Release the lock as the
		// kernel would, without Close's stamp.
		j.db.Close()
		damagePage(t, path, "done-0010")
		if rep := reopen(t, path).Report(); rep.MovedAside == "" {
			t.Fatal("a journal never closed cleanly was not checked")
		}
	})
	t.Run("a failed commit leaves no stamp", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "journal.db")
		j, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		j.suspect.Store(true) // as update does when the disk refuses a commit
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path + cleanSuffix); !os.IsNotExist(err) {
			t.Fatalf("stamped clean after a failed commit (%v)", err)
		}
	})
}
