package app

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
)

// When Start returns the bridge serves, so a page can start a sale at
// once: by then the sweep of the last run's unfinished records must be
// over, or this run's first sale could be taken for a leftover (the CI
// incident in docs/reliability.md). The sweep used to run in a goroutine
// started alongside the bridge.
func TestRecoverySweepBeforeServing(t *testing.T) {
	state := t.TempDir()
	j, err := journal.Open(filepath.Join(state, "journal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	j.SetNoSync(true) // seeding only
	const leftovers = 30
	for i := 0; i < leftovers; i++ {
		if err := j.Put(journal.Record{TransactionAPIID: fmt.Sprintf("left-%03d", i), Action: "sale", Amount: "1.00", State: sale.StatePending}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: testConfig(), StateDir: state, Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	open, err := a.Journal().InFlight()
	if err != nil {
		t.Fatal(err)
	}
	var pending []journal.Record
	for _, r := range open {
		if r.State == sale.StatePending {
			pending = append(pending, r)
		}
	}
	if len(pending) != 0 {
		t.Fatalf("the bridge serves with %d of the last run's %d pending records not yet taken over", len(pending), leftovers)
	}
}

// Stop may come twice, at once (a signal and a deferred Stop): both return,
// and each only once the journal is closed.
func TestStopTwice(t *testing.T) {
	a, err := New(Options{Config: testConfig(), StateDir: t.TempDir(), Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := a.Journal()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Stop()
			// The journal is closed when Stop returns, whichever call did it.
			errs <- j.Put(journal.Record{TransactionAPIID: "after-stop", Action: "sale", Amount: "1.00", State: sale.StatePending})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil {
			t.Error("a Stop returned before the journal was closed")
		}
	}
	a.Stop() // and once more, after both
}
