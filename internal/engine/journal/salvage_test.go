package journal

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/sale"
	bolt "go.etcd.io/bbolt"
)

// writeJournal fills a journal with n records spread over many pages
// (a branch page, many leaves) and returns them by id.
func writeJournal(t testing.TB, path string, n int) map[string]Record {
	t.Helper()
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	want := map[string]Record{}
	for i := 0; i < n; i++ {
		r := Record{TransactionAPIID: fmt.Sprintf("tx-%04d", i), Action: "sale", Amount: fmt.Sprintf("%d.00", i+1),
			State: sale.StateDone, Outcome: "approved", Description: strings.Repeat("d", 150), LastFour: "0254"}
		if i%10 == 0 {
			r.State, r.Outcome = sale.StateSending, ""
		}
		if err := j.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range allRecords(t, j) {
		want[r.TransactionAPIID] = r
	}
	// Compacted, every record is in one page, which pageOf finds: an
	// earlier version of a leaf left in a freed page (copy-on-write) is
	// one bbolt never reads, and damaging it damages nothing.
	if _, _, err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	return want
}

// pageOf returns the index of the page (of size ps) holding needle's
// first occurrence at or after page 2.
func pageOf(t *testing.T, b []byte, ps int, needle string) int {
	t.Helper()
	i := bytes.Index(b[2*ps:], []byte(needle))
	if i < 0 {
		t.Fatalf("%q not in the file", needle)
	}
	return (2*ps + i) / ps
}

// TestDamagedJournalSalvaged damages a journal in the ways a disk, a
// copy or a kill mid-grow does. Every pattern made bbolt panic, fault or
// refuse before: now Open never panics, keeps the damaged file aside,
// starts a usable journal, and salvages every record whose page survived
// — each exactly as it was written.
func TestDamagedJournalSalvaged(t *testing.T) {
	cases := []struct {
		name string
		// damage changes the file's bytes; it returns them and whether
		// every record must come back (no page holding one was hit).
		damage func(t *testing.T, b []byte, m *meta) ([]byte, bool)
	}{
		{"zeroed freelist page", func(t *testing.T, b []byte, m *meta) ([]byte, bool) {
			clear(b[int(m.freelist)*m.pageSize : int(m.freelist+1)*m.pageSize])
			return b, true
		}},
		{"garbage freelist ids", func(t *testing.T, b []byte, m *meta) ([]byte, bool) {
			p := b[int(m.freelist)*m.pageSize:]
			ne.PutUint16(p[10:], 0xFFFF)
			ne.PutUint64(p[pageHeaderSize:], 1<<40)
			return b, true
		}},
		{"zeroed root page", func(t *testing.T, b []byte, m *meta) ([]byte, bool) {
			clear(b[int(m.root)*m.pageSize : int(m.root+1)*m.pageSize])
			return b, true
		}},
		{"branch points past the file", func(t *testing.T, b []byte, m *meta) ([]byte, bool) {
			p := b[int(txRoot(t, b, m))*m.pageSize:]
			if ne.Uint16(p[8:]) != flagBranch {
				t.Fatal("the transactions bucket's root is not a branch page")
			}
			for i := 0; i < int(ne.Uint16(p[10:])); i++ {
				ne.PutUint64(p[pageHeaderSize+i*elementSize+8:], 1<<30+uint64(i))
			}
			return b, true
		}},
		{"truncated to half", func(t *testing.T, b []byte, m *meta) ([]byte, bool) {
			return b[:len(b)/2], false
		}},
		{"truncated mid-page", func(t *testing.T, b []byte, m *meta) ([]byte, bool) {
			return b[:int(m.high-1)*m.pageSize+100], false
		}},
		{"random bytes in a data page", func(t *testing.T, b []byte, m *meta) ([]byte, bool) {
			pg := pageOf(t, b, m.pageSize, `"transaction_api_id":"tx-0150"`)
			rng := rand.New(rand.NewPCG(1, 2))
			p := b[pg*m.pageSize : (pg+1)*m.pageSize]
			for i := range p {
				p[i] = byte(rng.UintN(256))
			}
			return b, false
		}},
		{"both meta pages zeroed", func(t *testing.T, b []byte, m *meta) ([]byte, bool) {
			clear(b[:2*m.pageSize])
			return b, true
		}},
		{"every page past the metas zeroed", func(t *testing.T, b []byte, m *meta) ([]byte, bool) {
			clear(b[2*m.pageSize:])
			return b, false
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			want := writeJournal(t, path, 300)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m := currentMeta(b)
			if m == nil || checkPages(b) != nil {
				t.Fatalf("the undamaged file fails the page check: %v", checkPages(b))
			}
			damaged, all := tc.damage(t, b, m)
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}

			j, err := Open(path, nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer j.Close()
			rep := j.Report()
			if !strings.HasPrefix(rep.MovedAside, path+".damaged-") || rep.Damage == "" {
				t.Fatalf("report %+v: the damage went unnoticed", rep)
			}
			if kept, err := os.ReadFile(rep.MovedAside); err != nil || !bytes.Equal(kept, damaged) {
				t.Fatalf("the damaged file was not kept as it was: %v", err)
			}
			got := allRecords(t, j)
			if rep.Salvaged != len(got) {
				t.Errorf("report says %d salvaged, journal holds %d", rep.Salvaged, len(got))
			}
			for _, r := range got {
				w, ok := want[r.TransactionAPIID]
				if !ok || !sameRecord(r, w) {
					t.Fatalf("salvaged %+v, written %+v", r, w)
				}
			}
			if all && len(got) != len(want) {
				t.Errorf("salvaged %d of %d records, all pages with records survived", len(got), len(want))
			}
			if !all && len(got) == 0 && tc.name != "every page past the metas zeroed" {
				t.Errorf("nothing salvaged")
			}
			t.Logf("%s: %s; salvaged %d of %d", tc.name, rep.Damage, len(got), len(want))
			// The new journal works and is clean the next time.
			if err := j.Put(Record{TransactionAPIID: "after", State: sale.StatePending}); err != nil {
				t.Fatal(err)
			}
			j.Close()
			j2, err := Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer j2.Close()
			if r := j2.Report(); r.MovedAside != "" {
				t.Fatalf("the rebuilt journal was taken for damaged: %s", r.Damage)
			}
		})
	}
}

// txRoot is the root page of the transactions bucket, from the root
// bucket's leaf.
func txRoot(t *testing.T, b []byte, m *meta) uint64 {
	t.Helper()
	p := b[int(m.root)*m.pageSize:]
	for i := 0; i < int(ne.Uint16(p[10:])); i++ {
		e := pageHeaderSize + i*elementSize
		pos, ksize := int(ne.Uint32(p[e+4:])), int(ne.Uint32(p[e+8:]))
		if string(p[e+pos:e+pos+ksize]) == string(bucketTx) {
			return ne.Uint64(p[e+pos+ksize:])
		}
	}
	t.Fatal("no transactions bucket in the root page")
	return 0
}

func sameRecord(a, b Record) bool {
	return a.TransactionAPIID == b.TransactionAPIID && a.State == b.State && a.Amount == b.Amount &&
		a.Outcome == b.Outcome && a.Updated.Equal(b.Updated) && a.Created.Equal(b.Created)
}

// An undamaged journal — including a fresh one and one with a single
// small record — is never taken for damaged.
func TestHealthyJournalNotDamaged(t *testing.T) {
	for _, n := range []int{0, 1, 300} {
		path := filepath.Join(t.TempDir(), "journal.db")
		writeJournal(t, path, n)
		j, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		// A record larger than a page (overflow pages) and a rewrite.
		big := Record{TransactionAPIID: "big", State: sale.StateDone, Description: strings.Repeat("b", 3*os.Getpagesize())}
		if err := j.Put(big); err != nil {
			t.Fatal(err)
		}
		if err := j.Put(Record{TransactionAPIID: "tx-0000", State: sale.StateDone, Acked: true}); err != nil {
			t.Fatal(err)
		}
		j.Close()
		if j, err = Open(path, nil); err != nil {
			t.Fatal(err)
		}
		if rep := j.Report(); rep != (OpenReport{}) {
			t.Errorf("%d records: report %+v", n, rep)
		}
		j.Close()
	}
}

// One value that does not decode, among good records: every read skips
// it, says so once, and counts it; status and recovery see the rest.
func TestUndecodableRecordSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{
		{TransactionAPIID: "good-done", State: sale.StateDone, Outcome: "approved"},
		{TransactionAPIID: "good-unk", State: sale.StateUnknown},
		// Written whole, with its index entries; its value is damaged below,
		// as a bad sector or a bad copy would.
		{TransactionAPIID: "bad", State: sale.StateDone, Outcome: "approved"},
		{TransactionAPIID: "bad-open", State: sale.StateUnknown},
	} {
		if err := j.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.db.Update(func(tx *bolt.Tx) error {
		for _, id := range []string{"bad", "bad-open"} {
			if err := tx.Bucket(bucketTx).Put([]byte(id), []byte("\x00{not json")); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	un, _, err := j.Unacked("", 0, nil)
	if err != nil || len(un) != 1 || un[0].TransactionAPIID != "good-done" {
		t.Fatalf("Unacked = %+v, %v", un, err)
	}
	unf, err := j.Unfinished()
	if err != nil || len(unf) != 1 || unf[0].TransactionAPIID != "good-unk" {
		t.Fatalf("Unfinished = %+v, %v", unf, err)
	}
	if _, found, err := j.Get("bad"); !found || err == nil {
		t.Errorf("Get(bad) = found %v, err %v: want found with an error", found, err)
	}
	if n := j.Unreadable(); n != 2 {
		t.Errorf("Unreadable = %d, want 2", n)
	}
	j.Close()
	j, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	// At open only the open index is read (start must not read history):
	// the unfinished one is counted, the unacknowledged one when its page
	// asks.
	if rep := j.Report(); rep.Unreadable != 1 || rep.MovedAside != "" {
		t.Errorf("report at open %+v: want 1 unreadable (the unfinished one), the file kept", rep)
	}
	if _, _, err := j.Unacked("", 0, nil); err != nil || j.Unreadable() != 2 {
		t.Errorf("after reading the unacknowledged: Unreadable = %d (%v), want 2", j.Unreadable(), err)
	}
}

// FuzzSalvage: salvage and the page check read any bytes without
// panicking, and salvage only ever returns whole records.
func FuzzSalvage(f *testing.F) {
	path := filepath.Join(f.TempDir(), "journal.db")
	writeJournal(f, path, 40)
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, 0, byte(0))
	f.Add(b, 8192, byte(0xFF))
	f.Fuzz(func(t *testing.T, b []byte, at int, v byte) {
		if len(b) > 0 {
			b = bytes.Clone(b)
			b[(at%len(b)+len(b))%len(b)] = v
		}
		_ = checkPages(b)
		for _, r := range salvage(b) {
			if r.TransactionAPIID == "" {
				t.Fatalf("salvaged a record without id: %+v", r)
			}
		}
	})
}

// allRecords pages through the whole history, newest first.
func allRecords(t testing.TB, j *Journal) []Record {
	t.Helper()
	var out []Record
	q := sale.Query{Limit: maxPage}
	for {
		p, err := j.History(q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Records...)
		if !p.More {
			return out
		}
		q.Before = p.Next
	}
}

// A crash between salvage's two renames leaves no journal.db: the damaged
// file is already aside, the salvaged journal still at journal.db.salvaging.
// The next start must take the salvaged journal (its unfinished sales still
// need their lookup), not begin an empty one beside it and lose them.
func TestCrashMidSalvageKeepsTheSalvagedJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	want := writeJournal(t, path+".salvaging", 20)
	if err := os.WriteFile(asideName(path, time.Now()), []byte("the damaged file"), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for id, w := range want {
		got, found, err := j.Get(id)
		if err != nil || !found || !sameRecord(got, w) {
			t.Fatalf("record %s after the crash mid-salvage: found %v, %v, %+v", id, found, err, got)
		}
	}
	if _, err := os.Stat(path + ".salvaging"); !os.IsNotExist(err) {
		t.Errorf("journal.db.salvaging still there: %v", err)
	}
}

// A directory where the journal file belongs is no damaged journal to
// move aside: Open refuses it saying what it is and what to do.
func TestJournalPathIsADirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, nil)
	if err == nil || strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("Open on a directory: %v, want an error saying it is a directory, not that it is damaged", err)
	}
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		t.Errorf("the directory was touched: %v", err)
	}
}
