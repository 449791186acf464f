package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/ui"
)

// A journal that is not a journal any more: the agent starts, and every
// cashier window that opens is told first, in words that say what to do.
func TestDamagedJournalWarnsCashier(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "journal.db"), []byte(strings.Repeat("\x00garbage", 4096)), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: testConfig(), StateDir: dir, Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatalf("start on a damaged journal: %v", err)
	}
	defer a.Stop()
	for range 2 { // a second window (or a reopened one) is told too
		ev, stop := a.UIBackend().Updates()
		e := <-ev
		stop()
		if e.Kind != ui.EventWarning || !strings.Contains(e.Message, "journal was damaged") ||
			!strings.Contains(e.Message, "journal.db.damaged-") || !strings.Contains(e.Message, "gateway portal") {
			t.Fatalf("first event %+v, want the damaged-journal warning", e)
		}
	}
}

func TestJournalNotice(t *testing.T) {
	for _, tc := range []struct {
		r    journal.OpenReport
		want string
	}{
		{journal.OpenReport{}, ""},
		{journal.OpenReport{MovedAside: "/x/journal.db.damaged-1", Salvaged: 7}, "kept as journal.db.damaged-1 and a new one started with the 7 records"},
		{journal.OpenReport{Unreadable: 2}, "2 sales journal record(s) could not be read"},
	} {
		got := journalNotice(tc.r)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
}
