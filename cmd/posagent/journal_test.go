package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
	bolt "go.etcd.io/bbolt"
)

func runJournalCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), append([]string{"journal"}, args...), nil, &out, &errb)
	return code, out.String(), errb.String()
}

// seedJournal writes a day of sales around day (local): finished ones,
// one in flight, one the day before, one the day after.
func seedJournal(t *testing.T, path string, day time.Time) {
	t.Helper()
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var recs []journal.Record
	for i := range 5 {
		recs = append(recs, journal.Record{TransactionAPIID: fmt.Sprintf("day-%d", i), Action: "sale", Amount: "10.00",
			State: sale.StateDone, Outcome: "approved", TransactionID: fmt.Sprintf("tx%d", i), MaskedPAN: "4111********1111",
			LastFour: "1111", Created: day.Add(time.Duration(i+9) * time.Hour), OrderNum: "=HYPERLINK(\"http://x\")"})
	}
	recs = append(recs,
		journal.Record{TransactionAPIID: "inflight", Action: "sale", State: sale.StateUnknown, Created: day.Add(12 * time.Hour)},
		journal.Record{TransactionAPIID: "before", Action: "sale", State: sale.StateDone, Created: day.Add(-time.Hour)},
		journal.Record{TransactionAPIID: "after", Action: "sale", State: sale.StateDone, Created: day.AddDate(0, 0, 1)})
	if err := j.PutAll(recs); err != nil {
		t.Fatal(err)
	}
}

func TestJournalCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	day := time.Date(2026, 12, 4, 0, 0, 0, 0, time.Local)
	seedJournal(t, path, day)

	code, out, errs := runJournalCmd("stats", "--state-dir", dir)
	if code != 0 || !strings.Contains(out, "records     8") || !strings.Contains(out, "in flight   1") {
		t.Fatalf("stats: %d %q %s", code, out, errs)
	}

	code, out, errs = runJournalCmd("export", "--journal", path, "--since", "2026-12-04")
	if code != 0 {
		t.Fatalf("export: %d %s", code, errs)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || rows[0][1] != "transaction_api_id" {
		t.Fatalf("csv: the header and the day's 5 finished sales, got %d rows:\n%s", len(rows), out)
	}
	for i, r := range rows[1:] {
		if r[1] != fmt.Sprintf("day-%d", i) {
			t.Errorf("row %d is %s: want oldest first", i, r[1])
		}
		if strings.HasPrefix(r[15], "=") {
			t.Errorf("a formula reaches the spreadsheet: %q", r[15])
		}
	}

	code, out, errs = runJournalCmd("export", "--journal", path, "--since", "2026-12-03", "--until", "2026-12-06", "--format", "json")
	if code != 0 {
		t.Fatalf("export json: %d %s", code, errs)
	}
	var ids []string
	for line := range strings.Lines(out) {
		var e exported
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("json line %q: %v", line, err)
		}
		ids = append(ids, e.TransactionAPIID)
	}
	if len(ids) != 7 || ids[0] != "before" || ids[6] != "after" {
		t.Errorf("json export %v: want the 7 finished over three days", ids)
	}

	code, out, errs = runJournalCmd("compact", "--journal", path)
	if code != 0 || !strings.Contains(out, "compacted") {
		t.Fatalf("compact: %d %q %s", code, out, errs)
	}
	if code, out, _ := runJournalCmd("stats", "--journal", path); code != 0 || !strings.Contains(out, "records     8") {
		t.Fatalf("stats after compact: %q", out)
	}
}

func TestJournalCommandRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	for _, args := range [][]string{
		{},
		{"shrink"},
		{"export", "--journal", path, "--format", "xml"},
		{"export", "--journal", path, "--since", "yesterday"},
		{"export", "--journal", path, "--since", "2026-12-04", "--until", "2026-12-03"},
		{"stats", "--journal", path, "--since", "2026-12-04"},
	} {
		if code, _, _ := runJournalCmd(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := runJournalCmd("stats", "--journal", path); code != 1 || !strings.Contains(errs, "--journal") {
		t.Errorf("missing journal: %d %s", code, errs)
	}
	// A running agent holds the journal: say so, and what to do.
	seedJournal(t, path, time.Now())
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if code, _, errs := runJournalCmd("compact", "--journal", path); code != 1 || !strings.Contains(errs, "in use by a running agent") {
		t.Errorf("compact of a journal in use: %d %s", code, errs)
	}
}

// An export of days older than keep_days reads them from the archive
// retention moved them to: every finished transaction of the range once,
// oldest first. A record both live and archived (a crash mid-retention)
// is exported once; an archive line that does not decode or that holds a
// card number is reported with its line and not exported, and the export
// says it is incomplete.
func TestJournalExportArchive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	first := time.Date(2026, 12, 1, 0, 0, 0, 0, time.Local)
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs []journal.Record
	var want []string
	for d := range 4 {
		for i := range 3 {
			id := fmt.Sprintf("d%d-%d", d, i)
			recs = append(recs, journal.Record{TransactionAPIID: id, Action: "sale", Amount: "10.00", State: sale.StateDone,
				Outcome: "approved", Acked: true, TransactionID: "tx-" + id, MaskedPAN: "411111******1111", LastFour: "1111",
				Created: first.AddDate(0, 0, d).Add(time.Duration(10+i) * time.Hour)})
			want = append(want, id)
		}
	}
	// Not acknowledged: stays live, however old.
	recs = append(recs, journal.Record{TransactionAPIID: "d0-unacked", Action: "sale", State: sale.StateDone, Outcome: "approved",
		Created: first.Add(20 * time.Hour)})
	want = slices.Insert(want, 3, "d0-unacked")
	if err := j.PutAll(recs); err != nil {
		t.Fatal(err)
	}
	if n, err := j.Retain(context.Background(), first.AddDate(0, 0, 2), journal.ArchiveDir(path)); err != nil || n != 6 {
		t.Fatalf("Retain: %d %v", n, err)
	}
	live, _, err := j.Get("d3-1")
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	dayFile := func(t time.Time) string {
		return filepath.Join(journal.ArchiveDir(path), "journal-"+t.UTC().Format(time.DateOnly)+".jsonl")
	}
	appendTo := func(file string, lines ...string) {
		f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, l := range lines {
			fmt.Fprintln(f, l)
		}
	}

	code, out, errs := runJournalCmd("stats", "--journal", path)
	if code != 0 || !strings.Contains(out, " 6 records, ") {
		t.Fatalf("stats: the 6 archived records: %d %q %s", code, out, errs)
	}

	// Archived days only, clean: complete.
	code, out, errs = runJournalCmd("export", "--journal", path, "--since", "2026-12-01", "--until", "2026-12-03")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || code != 0 || errs != "" {
		t.Fatalf("export of archived days: %d %v %s", code, err, errs)
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[1])
	}
	if !slices.Equal(got, want[:7]) {
		t.Fatalf("export of archived days: %v, want %v", got, want[:7])
	}

	// The crash: d3-1 live and archived. The damage: a line that does not
	// decode and one with a card number, in an archived day of the range.
	b, _ := json.Marshal(live)
	appendTo(dayFile(live.Created), string(b))
	damaged := dayFile(recs[4].Created) // a day 1 sale's file
	old, err := os.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(string(old), "\n")
	pan := `{"transaction_api_id":"leak","action":"sale","state":"done","outcome":"approved","masked_pan":"4111111111111111","created":"` +
		recs[4].Created.UTC().Format(time.RFC3339) + `"}`
	appendTo(damaged, `{"transaction_api_id":"torn-in-the-middle","sta`, pan)

	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			code, out, errs := runJournalCmd("export", "--journal", path, "--since", "2026-12-01", "--until", "2026-12-05", "--format", format)
			if code != 1 {
				t.Errorf("exit %d, want 1 (incomplete)", code)
			}
			var got []string
			if format == "csv" {
				rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows[1:] {
					got = append(got, r[1])
				}
			} else {
				for line := range strings.Lines(out) {
					var e exported
					if err := json.Unmarshal([]byte(line), &e); err != nil {
						t.Fatalf("json line %q: %v", line, err)
					}
					got = append(got, e.TransactionAPIID)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("export: %v\nwant every finished transaction once, oldest first: %v", got, want)
			}
			for _, s := range []string{out, errs} {
				if strings.Contains(s, "4111111111111111") || strings.Contains(s, "leak") {
					t.Errorf("the tampered line reaches the output:\n%s", s)
				}
			}
			for _, l := range []string{fmt.Sprintf("%s:%d: does not decode", damaged, n+1), fmt.Sprintf("%s:%d: holds card data", damaged, n+2), "incomplete"} {
				if !strings.Contains(errs, l) {
					t.Errorf("stderr does not say %q:\n%s", l, errs)
				}
			}
		})
	}
}

// The export's last guard: whatever the journal or archive held, a field
// with a card number under the card-data policy is named and refused.
func TestExportedCardData(t *testing.T) {
	for _, tc := range []struct {
		e    exported
		want string
	}{
		{exported{TransactionAPIID: "a", MaskedPAN: "411111******1111", Amount: "10.00", OrderNum: "=1+1"}, ""},
		{exported{TransactionAPIID: "a", OrderNum: "4111 1111 1111 1111"}, "order_num"},
		{exported{TransactionAPIID: "a", MaskedPAN: "5454545454545454"}, "masked_pan"},
		{exported{TransactionAPIID: "t4111111111111111"}, "transaction_api_id"},
	} {
		if got := tc.e.cardData(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}

// TestJournalExportOfDamagedJournal: the export's Open salvages a damaged
// journal like the agent's (moves it aside, keeps what it can read). The
// records on the damaged pages are then missing from the export, so it
// must say so and exit 1 — it printed nothing and exited 0, a
// reconciliation short of records without a word. Stats says so too.
func TestJournalExportOfDamagedJournal(t *testing.T) {
	for _, sub := range []string{"export", "stats"} {
		t.Run(sub, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "journal.db")
			day := time.Date(2026, 12, 4, 0, 0, 0, 0, time.Local)
			seedJournal(t, path, day)
			// Both meta pages zeroed: damaged beyond bbolt's reach.
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(make([]byte, 8192), 0); err != nil {
				t.Fatal(err)
			}
			f.Close()
			args := []string{sub, "--journal", path}
			if sub == "export" {
				args = append(args, "--since", "2026-12-04")
			}
			code, _, errs := runJournalCmd(args...)
			aside, _ := filepath.Glob(path + ".damaged-*")
			if len(aside) != 1 {
				t.Fatalf("the damaged journal was not salvaged: %v", aside)
			}
			if !strings.Contains(errs, filepath.Base(aside[0])) {
				t.Errorf("%s: stderr does not say the journal was damaged and kept as %s:\n%s", sub, filepath.Base(aside[0]), errs)
			}
			if sub == "export" && code != 1 {
				t.Errorf("export of a salvaged journal: exit %d, want 1 (records on the damaged pages may be missing)", code)
			}
		})
	}
}

// TestJournalExportUndecodableRecord: a live record whose value no longer
// decodes (a bad sector, a bad copy) is skipped by the journal's reads; the
// export was then one sale short and exited 0.
func TestJournalExportUndecodableRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	seedJournal(t, path, time.Date(2026, 12, 4, 0, 0, 0, 0, time.Local))
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("transactions")).Put([]byte("day-2"), []byte("\x00{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, errs := runJournalCmd("export", "--journal", path, "--since", "2026-12-04")
	if strings.Contains(out, "day-2") {
		t.Fatalf("the damaged record was exported:\n%s", out)
	}
	if code != 1 || !strings.Contains(errs, "incomplete") {
		t.Errorf("export missing an undecodable record: exit %d, stderr %q: want 1 and \"incomplete\"", code, errs)
	}
}
