package journal

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/sale"
)

// between is Between of [since, until) computed the slow way from every
// record ever written (latest version), oldest first.
func between(all []Record, since, until time.Time) []string {
	var out []Record
	for _, r := range all {
		if !r.Created.Before(since) && r.Created.Before(until) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Record) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.TransactionAPIID, b.TransactionAPIID)
	})
	ids := make([]string, len(out))
	for i, r := range out {
		ids[i] = r.TransactionAPIID
	}
	return ids
}

// appendLine writes line (and a newline) to the archive file of day.
func appendLine(t *testing.T, dir string, day time.Time, line string) {
	t.Helper()
	f, err := os.OpenFile(archiveFile(dir, day), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

// A range spanning the retention cutoff is read from the live journal and
// the archive, every record once, in the time index's order, as written.
func TestBetweenLiveAndArchived(t *testing.T) {
	j, path := openTemp(t)
	all := seeded(3000, 11)
	if err := j.PutAll(all); err != nil {
		t.Fatal(err)
	}
	cutoff := epoch.Add(2000 * time.Minute)
	moved, err := j.Retain(context.Background(), cutoff, ArchiveDir(path))
	if err != nil || moved == 0 {
		t.Fatalf("Retain: %d %v", moved, err)
	}
	byID := map[string]Record{}
	for _, r := range all {
		byID[r.TransactionAPIID] = r
	}
	for _, tc := range []struct {
		name         string
		since, until time.Time
	}{
		{"everything", epoch.Add(-time.Hour), epoch.Add(4000 * time.Minute)},
		{"across the cutoff", epoch.Add(1500 * time.Minute), epoch.Add(2500 * time.Minute)},
		{"archived only", epoch.Add(100 * time.Minute), epoch.Add(900 * time.Minute)},
		{"live only", epoch.Add(2100 * time.Minute), epoch.Add(2200 * time.Minute)},
		{"open bounds", time.Time{}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			until := tc.until
			if until.IsZero() {
				until = epoch.AddDate(1, 0, 0)
			}
			got, res, err := j.Between(context.Background(), tc.since, tc.until)
			if err != nil {
				t.Fatal(err)
			}
			if res.Incomplete() || res.Torn > 0 || len(res.Problems) > 0 {
				t.Errorf("archive read: %+v", res)
			}
			want := between(all, tc.since, until)
			if g := ids(got); !slices.Equal(g, want) {
				t.Fatalf("Between: %d records, want %d (first difference at %d)", len(g), len(want), firstDiff(g, want))
			}
			for _, r := range got {
				a, _ := json.Marshal(r)
				b, _ := json.Marshal(byID[r.TransactionAPIID])
				if string(a) != string(b) {
					t.Fatalf("%s read back as\n%s\nwritten\n%s", r.TransactionAPIID, a, b)
				}
			}
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A crash between Retain's archive write and its delete leaves a record
// both live and archived: it is read once, the live one. One archived
// twice is read once, the one updated last.
func TestBetweenDuplicates(t *testing.T) {
	j, path := openTemp(t)
	dir := ArchiveDir(path)
	recs := []Record{
		{TransactionAPIID: "old", State: sale.StateDone, Outcome: "approved", Acked: true, Amount: "1.00", Created: epoch},
		{TransactionAPIID: "live", State: sale.StateDone, Outcome: "approved", Acked: true, Amount: "2.00", Created: epoch.AddDate(0, 0, 2)},
	}
	if err := j.PutAll(recs); err != nil {
		t.Fatal(err)
	}
	if n, err := j.Retain(context.Background(), epoch.AddDate(0, 0, 1), dir); err != nil || n != 1 {
		t.Fatalf("Retain: %d %v", n, err)
	}
	live, _, err := j.Get("live")
	if err != nil {
		t.Fatal(err)
	}
	// The crash: the live record's line in its day's archive, as Retain
	// writes it, but with what an archive copy may differ in.
	stale := live
	stale.Amount = "9.99"
	stale.Updated = live.Updated.Add(time.Hour) // even a later one
	b, _ := json.Marshal(stale)
	appendLine(t, dir, live.Created, string(b)+"\n")
	// "old" archived twice (by hand): the later update wins.
	old := recs[0]
	old.Amount = "1.50"
	old.Updated = time.Now().UTC().Add(time.Hour)
	b, _ = json.Marshal(old)
	appendLine(t, dir, old.Created, string(b)+"\n")

	got, res, err := j.Between(context.Background(), epoch.Add(-time.Hour), epoch.AddDate(0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	if res.Incomplete() {
		t.Errorf("archive read: %+v", res)
	}
	if g := ids(got); !slices.Equal(g, []string{"old", "live"}) {
		t.Fatalf("Between: %v, want old and live once each", g)
	}
	if got[1].Amount != "2.00" {
		t.Errorf("both live and archived: got the archived copy (amount %s), want the live one", got[1].Amount)
	}
	if got[0].Amount != "1.50" {
		t.Errorf("archived twice: got amount %s, want the later update's 1.50", got[0].Amount)
	}
}

// An archive line that does not decode, is too long to be a record, or
// holds card data (as written, or hidden behind a JSON escape) is counted
// and reported by file and line, never returned; the lines after it are
// read; an unfinished last line is a crash mid-append, not a loss.
func TestReadArchiveBadLines(t *testing.T) {
	dir := t.TempDir()
	good := func(id string, min int) string {
		b, _ := json.Marshal(Record{TransactionAPIID: id, State: sale.StateDone, Outcome: "approved", MaskedPAN: "411111******1111",
			LastFour: "1111", Created: epoch.Add(time.Duration(min) * time.Minute)})
		return string(b) + "\n"
	}
	lines := []string{
		good("a", 1),                          // 1
		`{"transaction_api_id":"bad",` + "\n", // 2: does not decode
		`{"transaction_api_id":"pan","state":"done","created":"2026-01-01T09:03:00Z","description":"4111111111111111"}` + "\n",        // 3
		`{"transaction_api_id":"escaped","state":"done","created":"2026-01-01T09:04:00Z","order_num":"\u0034111111111111111"}` + "\n", // 4
		`{"state":"done","created":"2026-01-01T09:05:00Z"}` + "\n",                                                                    // 5: no id
		`{"transaction_api_id":"long","description":"` + strings.Repeat("x", maxArchiveLine+10) + `"}` + "\n",                         // 6
		good("b", 7),                        // 7
		`{"transaction_api_id":"torn","sta`, // 8: no newline
	}
	for _, l := range lines {
		appendLine(t, dir, epoch, l)
	}
	var got []string
	res, err := ReadArchive(context.Background(), dir, time.Time{}, time.Time{}, func(r Record) error {
		got = append(got, r.TransactionAPIID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("returned %v, want a and b only", got)
	}
	if res.Damaged != 3 || res.CardData != 2 || res.Torn != 1 || !res.Incomplete() || res.Records != 2 || res.Files != 1 {
		t.Errorf("counts: %+v", res)
	}
	var at []int
	for _, p := range res.Problems {
		if p.File != archiveFile(dir, epoch) {
			t.Errorf("problem in %s", p.File)
		}
		if strings.Contains(p.String(), "4111") || strings.Contains(p.String(), "xxxx") {
			t.Errorf("a problem shows the line: %s", p)
		}
		at = append(at, p.Line)
	}
	if !slices.Equal(at, []int{2, 3, 4, 5, 6, 8}) {
		t.Errorf("problems at lines %v, want 2 3 4 5 6 8: %v", at, res.Problems)
	}
}

// Only the day files that can hold a record of the range are opened.
func TestReadArchiveDays(t *testing.T) {
	dir := t.TempDir()
	for d := range 5 {
		day := epoch.AddDate(0, 0, d)
		b, _ := json.Marshal(Record{TransactionAPIID: fmt.Sprintf("d%d", d), State: sale.StateDone, Created: day})
		appendLine(t, dir, day, string(b)+"\n")
	}
	// Damage in a day outside the range is not read, so not reported:
	// the day after the range's last.
	appendLine(t, dir, epoch.AddDate(0, 0, 3), "garbage\n")
	os.WriteFile(dir+"/journal-notaday.jsonl", []byte("garbage\n"), 0o600)
	var got []string
	midnight := epoch.Truncate(24 * time.Hour)
	res, err := ReadArchive(context.Background(), dir, midnight.AddDate(0, 0, 1), midnight.AddDate(0, 0, 3), func(r Record) error {
		got = append(got, r.TransactionAPIID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"d1", "d2"}) || res.Files != 2 || res.Incomplete() {
		t.Errorf("got %v, %+v: want d1 and d2 from 2 files", got, res)
	}
	s, err := ArchiveSizes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Files != 5 || s.Records != 6 || s.Bytes == 0 || !s.Oldest.Equal(midnight) || !s.Newest.Equal(midnight.AddDate(0, 0, 4)) {
		t.Errorf("ArchiveSizes: %+v", s)
	}
}

// TestArchiveNotARegularFile: a day file that is a symlink to a device or
// a FIFO (or any file that is not a regular one) is not read: the export,
// stats and retention read /dev/zero forever (ignoring the interrupt:
// there is no line to stop at), blocked on a FIFO, or followed a link out
// of the state directory. It is reported, and the export is incomplete.
func TestArchiveNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	day := epoch
	b, _ := json.Marshal(Record{TransactionAPIID: "real", State: sale.StateDone, Acked: true, Created: day})
	appendLine(t, dir, day, string(b)+"\n")
	zero := archiveFile(dir, day.AddDate(0, 0, 1))
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var res ArchiveRead
	var got []string
	go func() {
		defer close(done)
		res, _ = ReadArchive(context.Background(), dir, time.Time{}, time.Time{}, func(r Record) error {
			got = append(got, r.TransactionAPIID)
			return nil
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ReadArchive of a day file linked to /dev/zero has not ended in 10 s")
	}
	if !slices.Equal(got, []string{"real"}) || !res.Incomplete() || len(res.Problems) != 1 || res.Problems[0].File != zero {
		t.Errorf("got %v, %+v: want the real record and the link reported", got, res)
	}
	sized := make(chan ArchiveSize)
	go func() {
		s, _ := ArchiveSizes(dir)
		sized <- s
	}()
	select {
	case s := <-sized:
		if s.Files != 1 || s.Records != 1 {
			t.Errorf("ArchiveSizes %+v: want the one regular file", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ArchiveSizes of a day file linked to /dev/zero has not ended in 10 s")
	}
	// Retention into that day refuses it rather than read it whole.
	j, _ := openTemp(t)
	if err := j.Put(Record{TransactionAPIID: "next-day", State: sale.StateDone, Acked: true, Created: day.AddDate(0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	retained := make(chan error)
	go func() {
		_, err := j.Retain(context.Background(), day.AddDate(0, 0, 3), dir)
		retained <- err
	}()
	select {
	case err := <-retained:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Retain into a day file linked to /dev/zero: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Retain into a day file linked to /dev/zero has not ended in 10 s")
	}
}
