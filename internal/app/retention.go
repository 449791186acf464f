package app

import (
	"context"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
)

// retainEvery is how often the agent moves old sales out of the journal:
// once at start, then daily.
const retainEvery = 24 * time.Hour

// retain keeps the journal to [journal] keep_days (docs/reliability.md,
// Retention): finished, acknowledged sales older than that go to the
// daily archive files, and the file is compacted when what they freed is
// a quarter of it or more. Until ctx ends; App.Stop waits for it before
// closing the journal.
func (a *App) retain(ctx context.Context, j *journal.Journal, keepDays int) {
	if keepDays <= 0 {
		return
	}
	for {
		a.retainOnce(ctx, j, time.Now().AddDate(0, 0, -keepDays))
		select {
		case <-ctx.Done():
			return
		case <-time.After(retainEvery):
		}
	}
}

func (a *App) retainOnce(ctx context.Context, j *journal.Journal, cutoff time.Time) {
	moved, err := j.Retain(ctx, cutoff, journal.ArchiveDir(j.Path()))
	if err != nil {
		if ctx.Err() == nil {
			a.log.Error("journal retention failed: the journal keeps its old sales until the next try", "error", err)
		}
		return
	}
	if moved == 0 {
		a.log.Info("journal retention: nothing to move", "cutoff", cutoff.Format(time.DateOnly))
		return
	}
	st, err := j.Stats()
	if err != nil || st.FreeBytes < st.FileBytes/4 || ctx.Err() != nil {
		a.log.Info("journal retention: archived old sales", "records", moved, "cutoff", cutoff.Format(time.DateOnly))
		return
	}
	a.log.Info("journal retention: compacting the journal", "bytes", st.FileBytes, "free_bytes", st.FreeBytes)
	before, after, err := j.Compact()
	if err != nil {
		a.log.Error("journal compaction failed", "error", err)
		return
	}
	a.log.Info("journal retention: archived old sales and compacted the journal", "records", moved,
		"cutoff", cutoff.Format(time.DateOnly), "bytes_before", before, "bytes_after", after)
}
