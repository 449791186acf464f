package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/sale"
)

// retainable says whether Retain must move r at cutoff.
func movable(r *Record, cutoff time.Time) bool {
	return r.State == sale.StateDone && r.Acked && r.Created.Before(cutoff)
}

// archived reads every line of every archive file in dir: id -> count.
func archived(t *testing.T, dir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "journal-*.jsonl"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var r Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: a line does not decode: %v", f, err)
			}
			if want := archiveFile(dir, r.Created); want != f {
				t.Errorf("%s is in %s, want %s", r.TransactionAPIID, f, want)
			}
			out[r.TransactionAPIID]++
		}
		fh.Close()
	}
	return out
}

// checkMoved: every record is in exactly one place — the journal or one
// archive line — and where Retain must have put it.
func checkMoved(t *testing.T, j *Journal, dir string, all []Record, cutoff time.Time) {
	t.Helper()
	arch := archived(t, dir)
	for _, r := range all {
		_, inJournal, err := j.Get(r.TransactionAPIID)
		if err != nil {
			t.Fatal(err)
		}
		n := arch[r.TransactionAPIID]
		switch {
		case n > 1:
			t.Errorf("%s archived %d times", r.TransactionAPIID, n)
		case n == 1 && inJournal:
			t.Errorf("%s both archived and in the journal", r.TransactionAPIID)
		case n == 0 && !inJournal:
			t.Errorf("%s lost", r.TransactionAPIID)
		case movable(&r, cutoff) != (n == 1):
			t.Errorf("%s (state %s acked %v created %s): archived=%v", r.TransactionAPIID, r.State, r.Acked, r.Created, n == 1)
		}
	}
	if len(arch) > 0 {
		// Gone from every index too.
		for id := range arch {
			for _, q := range []sale.Query{{Limit: maxPage}} {
				p, err := j.History(q)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range p.Records {
					if r.TransactionAPIID == id {
						t.Fatalf("archived %s still in History", id)
					}
				}
			}
			break
		}
		st, err := j.Stats()
		if err != nil || st.Records+len(arch) != len(all) {
			t.Errorf("stats %+v (%v): %d archived of %d", st, err, len(arch), len(all))
		}
	}
}

func TestRetainAndCompact(t *testing.T) {
	j, path := openTemp(t)
	all := seeded(3000, 11)
	if err := j.PutAll(all); err != nil {
		t.Fatal(err)
	}
	dir := ArchiveDir(path)
	cutoff := epoch.Add(2000 * time.Minute)
	n, err := j.Retain(context.Background(), cutoff, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range all {
		if movable(&all[i], cutoff) {
			want++
		}
	}
	if n != want || n == 0 {
		t.Fatalf("Retain moved %d, want %d", n, want)
	}
	checkMoved(t, j, dir, all, cutoff)
	// Again: nothing more to move, nothing archived twice.
	if n, err := j.Retain(context.Background(), cutoff, dir); err != nil || n != 0 {
		t.Fatalf("second Retain: %d %v", n, err)
	}
	// A torn last line (a crash mid-append) is dropped and the record it
	// began, still in the journal, archived once.
	var victim Record
	for _, r := range all {
		if _, ok, _ := j.Get(r.TransactionAPIID); ok && r.State == sale.StateDone && r.Created.Before(cutoff) {
			victim = r
			break
		}
	}
	if victim.TransactionAPIID == "" {
		t.Fatal("no record left to tear")
	}
	f, err := os.OpenFile(archiveFile(dir, victim.Created), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `{"transaction_api_id":"%s","sta`, victim.TransactionAPIID)
	f.Close()
	if err := j.Ack(victim.TransactionAPIID); err != nil {
		t.Fatal(err)
	}
	all = refresh(t, j, all)
	if _, err := j.Retain(context.Background(), cutoff, dir); err != nil {
		t.Fatal(err)
	}
	checkMoved(t, j, dir, all, cutoff)

	before, after, err := j.Compact()
	if err != nil {
		t.Fatal(err)
	}
	if after >= before {
		t.Errorf("Compact: %d -> %d bytes", before, after)
	}
	checkMoved(t, j, dir, all, cutoff)
	if err := j.Put(Record{TransactionAPIID: "after-compact", State: sale.StatePending}); err != nil {
		t.Fatalf("journal unusable after Compact: %v", err)
	}
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
}

// refresh re-reads the records still in the journal (Ack changed some).
func refresh(t *testing.T, j *Journal, all []Record) []Record {
	out := make([]Record, len(all))
	for i, r := range all {
		cur, ok, err := j.Get(r.TransactionAPIID)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			r = cur
		}
		out[i] = r
	}
	return out
}

// The archive holds no card data: a record that would is refused.
func TestArchiveGuard(t *testing.T) {
	dir := t.TempDir()
	err := archive(dir, []stored{{rec: Record{TransactionAPIID: "x", Created: epoch}, raw: []byte(`{"transaction_api_id":"x","description":"4111111111111111"}`)}})
	if !errors.Is(err, ErrCardData) {
		t.Fatalf("archive of card data: %v", err)
	}
	if b, _ := os.ReadFile(archiveFile(dir, epoch)); strings.Contains(string(b), "4111111111111111") {
		t.Fatal("card number written to the archive")
	}
}

// crashSteps are the points in Retain and Compact where a crash must lose
// nothing and duplicate nothing.
var crashSteps = []string{"archive-written", "archive-synced", "deleted", "compact-written", "compact-synced", "compact-renamed"}

// TestCrashAtEveryStep kills a process running Retain then Compact at each
// step (os.Exit: no deferred close, no flush of anything not yet written),
// then runs both again in a fresh process and checks every record is in
// exactly one place.
func TestCrashAtEveryStep(t *testing.T) {
	if os.Getenv("JOURNAL_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	all := seeded(2*retainBatch+700, 5) // several Retain passes
	cutoff := epoch.Add(time.Duration(len(all)*3/4) * time.Minute)
	for _, s := range crashSteps {
		t.Run(s, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			j, err := Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := j.PutAll(all); err != nil {
				t.Fatal(err)
			}
			j.Close()
			cmd := exec.Command(exe, "-test.run=^TestCrashAtEveryStep$")
			cmd.Env = append(os.Environ(), "JOURNAL_CRASH_CHILD="+s, "JOURNAL_PATH="+path,
				"JOURNAL_CUTOFF="+cutoff.Format(time.RFC3339Nano))
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 7 {
				t.Fatalf("child did not crash at %s: %v\n%s", s, err, out)
			}
			j, err = Open(path, nil)
			if err != nil {
				t.Fatalf("journal does not open after a crash at %s: %v", s, err)
			}
			defer j.Close()
			if j.Report().MovedAside != "" {
				t.Fatal("journal taken for damaged")
			}
			if _, err := j.Retain(context.Background(), cutoff, ArchiveDir(path)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := j.Compact(); err != nil {
				t.Fatal(err)
			}
			checkMoved(t, j, ArchiveDir(path), all, cutoff)
		})
	}
}

func crashChild() {
	target := os.Getenv("JOURNAL_CRASH_CHILD")
	crashAt = func(s string) {
		if s == target {
			os.Exit(7)
		}
	}
	cutoff, _ := time.Parse(time.RFC3339Nano, os.Getenv("JOURNAL_CUTOFF"))
	path := os.Getenv("JOURNAL_PATH")
	j, err := Open(path, nil)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	if _, err := j.Retain(context.Background(), cutoff, ArchiveDir(path)); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	if _, _, err := j.Compact(); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	os.Exit(0)
}

// Across passes (more records than one batch, some walked and left): not
// one movable record is skipped at a pass's edge.
func TestRetainAcrossBatches(t *testing.T) {
	j, path := openTemp(t)
	var all []Record
	for i := range 2*retainBatch + 123 {
		all = append(all, Record{TransactionAPIID: fmt.Sprintf("r%06d", i), State: sale.StateDone, Acked: i%7 != 0,
			Created: epoch.Add(time.Duration(i) * time.Second)})
	}
	for i := 0; i < len(all); i += 2000 {
		if err := j.PutAll(all[i:min(i+2000, len(all))]); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := epoch.Add(time.Hour * 24)
	if _, err := j.Retain(context.Background(), cutoff, ArchiveDir(path)); err != nil {
		t.Fatal(err)
	}
	checkMoved(t, j, ArchiveDir(path), all, cutoff)
}

// TestCompactDirSyncFailsKeepsWritingTheJournal: once the compacted copy
// is renamed over the journal, it is the journal, whatever fails next. A
// failed fsync of the directory used to return with the journal still open
// on the old file — unlinked by the rename — so every sale written after
// went to a file no restart would ever open: unfinished sales never
// looked up, unacknowledged results never replayed.
func TestCompactDirSyncFailsKeepsWritingTheJournal(t *testing.T) {
	j, path := openTemp(t)
	if err := j.PutAll(seeded(200, 5)); err != nil {
		t.Fatal(err)
	}
	failSync := errors.New("EIO")
	syncDirFails = func(string) error { return failSync }
	defer func() { syncDirFails = nil }()
	if _, _, err := j.Compact(); !errors.Is(err, failSync) {
		t.Fatalf("Compact with a failing directory sync: %v, want its error", err)
	}
	syncDirFails = nil
	in := Record{TransactionAPIID: "after-failed-compact", State: sale.StateUnknown}
	if err := j.Put(in); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if _, ok, err := j2.Get(in.TransactionAPIID); !ok || err != nil {
		t.Fatalf("a sale written after the compaction is not in the journal after a restart (%v): it went to the unlinked old file", err)
	}
}
