package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
)

// The agent's retention pass: old finished, acknowledged sales leave the
// journal for its archive, and the file shrinks once they freed a quarter
// of it; everything else stays.
func TestRetainOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	old := time.Now().AddDate(0, 0, -100)
	var recs []journal.Record
	for i := range 4000 {
		r := journal.Record{TransactionAPIID: fmt.Sprintf("old-%d", i), Origin: "ui", Action: "sale", Amount: "1.00",
			State: sale.StateDone, Outcome: "approved", Acked: true, Created: old, Description: "padding padding padding padding"}
		if i%100 == 0 {
			r.Acked = false // a page never took it: kept
		}
		recs = append(recs, r)
	}
	recs = append(recs, journal.Record{TransactionAPIID: "new", State: sale.StateDone, Acked: true})
	if err := j.PutAll(recs); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	a := &App{log: slog.New(slog.DiscardHandler)}
	a.retainOnce(context.Background(), j, time.Now().AddDate(0, 0, -90))
	st, err := j.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 41 {
		t.Errorf("%d records kept, want 41 (40 unacknowledged + 1 recent)", st.Records)
	}
	if st.FileBytes >= fi.Size() {
		t.Errorf("journal not compacted: %d -> %d bytes", fi.Size(), st.FileBytes)
	}
	files, _ := filepath.Glob(filepath.Join(journal.ArchiveDir(path), "journal-*.jsonl"))
	if len(files) != 1 {
		t.Errorf("archive files %v", files)
	}
}
