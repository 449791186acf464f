package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
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
