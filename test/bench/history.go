package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
)

// The history phase (issue 17): the same binary on a baseline journal and
// on one seeded with many finished sales, side by side, so that what a big
// journal costs shows as a ratio. Goal: each measure on the large journal
// within 1.5x the baseline's, plus slack for noise (2 ms, 5 MB, 0.2 % of a
// core).
//
// The baseline holds one page of sales (histPage records, all with the same
// last four), not none: a page or a search of an empty journal returns
// nothing, so "within 1.5x of empty" would compare 50 decoded records with
// no work at all. Seeded so, every page and search on both journals returns
// exactly histPage records (checked), and the ratio is what the other
// 500,000 records cost. Status, start, CPU and memory compare with a
// journal of 50 records instead of 0, which changes their baseline by
// nothing measurable.
const (
	histRatio    = 1.5
	histSlackDur = 2 * time.Millisecond
	histSlackMem = 5_000_000
	histSlackCPU = 0.2 // percentage points of one core
	// histSeedBatch records go in one bbolt transaction while seeding: bbolt
	// splits a leaf only at commit, so a transaction of 50,000 inserts spends
	// its time moving memory (50x slower than 25 of 2,000).
	histSeedBatch = 2_000
	// histPage is a history page (the window's page size) and the size of
	// the baseline journal.
	histPage = 50
)

// histSide is what one journal measured.
type histSide struct {
	records       int
	start, status sample
	page, search  sample
	idle          idleResult
}

// historyResult is the history phase of one repetition.
type historyResult struct {
	empty, large               histSide
	seedTime                   time.Duration
	compactBefore, compactKept int64 // bytes of the seeded file before and after Compact
}

// measureHistory seeds the large journal, then measures both.
func measureHistory(o opts, bin, dir string, r *repetition) error {
	h := &historyResult{}
	emptyDir, largeDir := filepath.Join(dir, "hist-empty"), filepath.Join(dir, "hist-large")
	for _, d := range []string{emptyDir, largeDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := seedJournal(filepath.Join(emptyDir, "journal.db"), histPage); err != nil {
		return fmt.Errorf("seed the baseline: %w", err)
	}
	t0 := time.Now()
	if err := seedJournal(filepath.Join(largeDir, "journal.db"), o.histRecords); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	h.seedTime = time.Since(t0)
	j, err := journal.Open(filepath.Join(largeDir, "journal.db"), nil)
	if err != nil {
		return err
	}
	before, after, err := j.Compact()
	j.Close()
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	h.compactBefore, h.compactKept = before, after
	o.logf("history: seeded %d records in %s; %d -> %d bytes after compaction (%d bytes per record)",
		o.histRecords, h.seedTime.Round(time.Millisecond), before, after, after/int64(o.histRecords))
	// The agent's config: keep_days = 0 keeps everything, so the large
	// journal stays large (the default would archive sales older than 90
	// days at start).
	cfg := filepath.Join(dir, "hist.toml")
	for _, side := range []struct {
		name string
		dir  string
		s    *histSide
		n    int
	}{{"empty", emptyDir, &h.empty, histPage}, {"large", largeDir, &h.large, o.histRecords}} {
		side.s.records = side.n
		if err := measureHistorySide(o, bin, cfg, side.dir, side.name, side.s); err != nil {
			return fmt.Errorf("%s journal: %w", side.name, err)
		}
		o.logf("history %s (%d records): start p50 %s, status p99 %s, page p99 %s, search p99 %s, idle CPU %.2f %%, VmRSS %s",
			side.name, side.n, fmtDur(side.s.start.sorted().pct(0.5)), fmtDur(side.s.status.sorted().pct(0.99)),
			fmtDur(side.s.page.sorted().pct(0.99)), fmtDur(side.s.search.sorted().pct(0.99)), side.s.idle.cpuPct, fmtMB(side.s.idle.mem.rss))
	}
	r.history = h
	return nil
}

// seedJournal writes n finished sales over the two years before now, in
// big transactions without fsync (seeding, not the sale path): 99 % of
// them acknowledged, the rest waiting for another page's ack. The last
// fours take lastFours(n) values in turn, so a search for any of them finds
// at least one page.
func seedJournal(path string, n int) error {
	j, err := journal.Open(path, nil)
	if err != nil {
		return err
	}
	defer j.Close()
	j.SetNoSync(true)
	rng := rand.New(rand.NewPCG(17, 17))
	span := 2 * 365 * 24 * time.Hour
	now := time.Now().UTC()
	brands := []string{"visa", "mastercard", "amex", "discover"}
	batch := make([]journal.Record, 0, histSeedBatch)
	for i := range n {
		created := now.Add(-span + time.Duration(int64(i)*int64(span)/int64(n)))
		last4 := fmt.Sprintf("%04d", i%lastFours(n))
		r := journal.Record{
			TransactionAPIID: fmt.Sprintf("seed-%08d-%04x", i, rng.IntN(1<<16)),
			ClientID:         fmt.Sprintf("s%d", i), Origin: "https://pos.example.com", Action: "sale",
			Amount: fmt.Sprintf("%d.%02d", 1+rng.IntN(200), rng.IntN(100)), ReaderID: "sim:vp3300",
			State: sale.StateDone, Outcome: "approved", MaskedPAN: "4111********" + last4, LastFour: last4,
			Brand: brands[rng.IntN(len(brands))], EntryMode: "swiped", TransactionID: fmt.Sprintf("11f%013d", i),
			StatusID: 101, ReasonCodeID: 1000, AuthCode: fmt.Sprintf("A%05d", rng.IntN(100000)),
			Verbiage: "APPROVED", Attempts: 1, Created: created, Acked: rng.IntN(100) != 0,
		}
		if !r.Acked {
			r.Origin = "https://other.example.com"
		}
		batch = append(batch, r)
		if len(batch) == histSeedBatch || i == n-1 {
			if err := j.PutAll(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	j.SetNoSync(false)
	return nil
}

// lastFours is how many distinct last fours a journal of n seeded sales
// holds: n/histPage (so each has a page of sales), at most 10,000.
func lastFours(n int) int { return max(1, min(10_000, n/histPage)) }

func measureHistorySide(o opts, bin, cfg, state, name string, s *histSide) error {
	// allowed_origins names the agent's own page on the port tried: in
	// run the own page needs a token unless it is listed (as in
	// measureSerial).
	var cfgErr error
	args := func(p int) []string {
		cfgErr = os.WriteFile(cfg, fmt.Appendf(nil, "allowed_origins = [\"http://127.0.0.1:%d\"]\n[gateway]\nkind = \"sandbox\"\n\n[[readers]]\nkind = \"sim\"\n\n[journal]\nkeep_days = 0\n", p), 0o600)
		return []string{"run", "--headless", "--config", cfg, "--listen", fmt.Sprintf("127.0.0.1:%d", p), "--state-dir", state}
	}
	logPath := filepath.Join(filepath.Dir(state), "hist-"+name+".log")
	for range o.histStarts {
		a, err := startOnFreePort(bin, args, nil, logPath)
		if err != nil {
			return errors.Join(err, cfgErr)
		}
		s.start = append(s.start, a.healthyAt.Sub(a.exec))
		if err := errors.Join(cfgErr, a.stop()); err != nil {
			return err
		}
	}
	a, err := startOnFreePort(bin, args, nil, logPath)
	if err != nil {
		return err
	}
	defer a.kill()
	if cfgErr != nil {
		return cfgErr
	}
	c, err := dial(a.port)
	if err != nil {
		return err
	}
	defer c.close()
	// Status: what every page load and reconnect sends first.
	for i := -1; i < o.histStatus; i++ {
		id := fmt.Sprintf("st%d", i)
		t0 := time.Now()
		if err := c.send(msg{"type": "status", "id": id}); err != nil {
			return err
		}
		_, at, err := c.waitFor(func(m msg) bool { return m.is("status", id) }, id, resultTimeout)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		if i >= 0 {
			s.status = append(s.status, at.Sub(t0))
		}
	}
	time.Sleep(o.settle)
	if s.idle, err = measureIdle(a.pid(), o.histIdle); err != nil {
		return err
	}
	c.close()
	if err := a.stop(); err != nil {
		return err
	}
	// A history page: the newest 50, and a search by last four, as the
	// window asks for them (protocol v1 has no history message, so this is
	// the journal package on the file the agent just closed).
	j, err := journal.Open(filepath.Join(state, "journal.db"), nil)
	if err != nil {
		return err
	}
	defer j.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	// One untimed page first, as with status: the first read after Open
	// faults in the file's top pages.
	if _, err := j.History(sale.Query{Limit: histPage}); err != nil {
		return err
	}
	for range o.histStatus {
		t0 := time.Now()
		page, err := j.History(sale.Query{Limit: histPage})
		if err != nil {
			return err
		}
		s.page = append(s.page, time.Since(t0))
		last4 := fmt.Sprintf("%04d", rng.IntN(lastFours(s.records)))
		t0 = time.Now()
		found, err := j.History(sale.Query{LastFour: last4, Limit: histPage})
		if err != nil {
			return err
		}
		s.search = append(s.search, time.Since(t0))
		// Both journals must do the same work per query, or the ratio
		// compares nothing with something.
		if len(page.Records) != histPage || len(found.Records) != histPage {
			return fmt.Errorf("%s journal: a page returned %d records and a search for %s %d, want %d each", name, len(page.Records), last4, len(found.Records), histPage)
		}
	}
	return nil
}

// measureIdle is the CPU a process uses over window, then its memory.
func measureIdle(pid int, window time.Duration) (idleResult, error) {
	t0, err := readCPUTicks(pid)
	if err != nil {
		return idleResult{}, err
	}
	w0 := time.Now()
	time.Sleep(window)
	t1, err := readCPUTicks(pid)
	if err != nil {
		return idleResult{}, err
	}
	w := time.Since(w0)
	mem, err := readMem(pid)
	if err != nil {
		return idleResult{}, err
	}
	return idleResult{mem: mem, window: w, ticks: t1 - t0, cpuPct: float64(t1-t0) / float64(clockTicks()) / w.Seconds() * 100}, nil
}

// verdicts compares the large journal with the empty one.
func (h *historyResult) verdicts() []verdict {
	within := func(what string, e, l time.Duration) verdict {
		limit := time.Duration(float64(e)*histRatio) + histSlackDur
		return verdict{what, "≤ " + fmtDur(limit), fmtDur(l) + " (empty " + fmtDur(e) + ")", l <= limit}
	}
	p99 := func(s sample) time.Duration { return s.sorted().pct(0.99) }
	cpuLimit := h.empty.idle.cpuPct*histRatio + histSlackCPU
	memLimit := int64(float64(h.empty.idle.mem.rss)*histRatio) + histSlackMem
	return []verdict{
		within("history: status p99", p99(h.empty.status), p99(h.large.status)),
		within("history: page p99", p99(h.empty.page), p99(h.large.page)),
		within("history: search p99", p99(h.empty.search), p99(h.large.search)),
		within("history: start p99", p99(h.empty.start), p99(h.large.start)),
		{"history: idle CPU", fmt.Sprintf("≤ %.2f %%", cpuLimit), fmt.Sprintf("%.2f %% (empty %.2f %%)", h.large.idle.cpuPct, h.empty.idle.cpuPct), h.large.idle.cpuPct <= cpuLimit},
		{"history: idle VmRSS", "≤ " + fmtMB(memLimit), fmtMB(h.large.idle.mem.rss) + " (empty " + fmtMB(h.empty.idle.mem.rss) + ")", h.large.idle.mem.rss <= memLimit},
	}
}

func (h *historyResult) summary(w io.Writer) {
	fmt.Fprintf(w, "\nhistory phase: baseline of one page (%d records, \"empty\") vs %d records (seeded in %s); compacted file %s = %d bytes per kept record (%s before compaction)\n",
		h.empty.records, h.large.records, h.seedTime.Round(time.Millisecond), fmtMB(h.compactKept), h.compactKept/int64(max(1, h.large.records)), fmtMB(h.compactBefore))
	fmt.Fprintf(w, "%-44s %10s %10s %10s %10s\n", "", "empty p50", "empty p99", "large p50", "large p99")
	row := func(name string, e, l sample) {
		e, l = e.sorted(), l.sorted()
		fmt.Fprintf(w, "%-44s %10s %10s %10s %10s\n", name, fmtDur(e.pct(0.5)), fmtDur(e.pct(0.99)), fmtDur(l.pct(0.5)), fmtDur(l.pct(0.99)))
	}
	row("start: exec → first /healthz 200", h.empty.start, h.large.start)
	row("status round trip (websocket)", h.empty.status, h.large.status)
	row("history page: newest 50", h.empty.page, h.large.page)
	row("history search: last four, 50", h.empty.search, h.large.search)
	fmt.Fprintf(w, "(every page and search returns %d records on both journals: the baseline holds one page)\n", histPage)
	fmt.Fprintf(w, "idle over %s: empty CPU %.2f %%, VmRSS %s (anon %s, file %s); large CPU %.2f %%, VmRSS %s (anon %s, file %s)\n", h.large.idle.window.Round(time.Second),
		h.empty.idle.cpuPct, fmtMB(h.empty.idle.mem.rss), fmtMB(h.empty.idle.mem.anon), fmtMB(h.empty.idle.mem.file),
		h.large.idle.cpuPct, fmtMB(h.large.idle.mem.rss), fmtMB(h.large.idle.mem.anon), fmtMB(h.large.idle.mem.file))
	met := true
	for _, v := range h.verdicts() {
		met = met && v.met
	}
	if met {
		fmt.Fprintf(w, "history verdict: PASS — every measure on %d records within %.1fx the one-page baseline's (+2 ms / 5 MB / 0.2 %%)\n", h.large.records, histRatio)
	} else {
		fmt.Fprintf(w, "history verdict: MISS — see the MISS lines below\n")
	}
}

func (h *historyResult) bench(w io.Writer, name func(string) string) {
	intervals := func(n string, s sample) {
		s = s.sorted()
		fmt.Fprintf(w, "%s\t%d\t%d ns/op\t%d p50-ns\t%d p99-ns\n", name(n), len(s), s.mean().Nanoseconds(), s.pct(0.5).Nanoseconds(), s.pct(0.99).Nanoseconds())
	}
	for _, side := range []struct {
		n string
		s *histSide
	}{{"empty", &h.empty}, {"large", &h.large}} {
		intervals("history_"+side.n+"_start", side.s.start)
		intervals("history_"+side.n+"_status", side.s.status)
		intervals("history_"+side.n+"_page", side.s.page)
		intervals("history_"+side.n+"_search", side.s.search)
		fmt.Fprintf(w, "%s\t1\t%d rss-bytes\t%.3f cpu-pct\n", name("history_"+side.n+"_idle"), side.s.idle.mem.rss, side.s.idle.cpuPct)
	}
	fmt.Fprintf(w, "%s\t1\t%d bytes-per-record\n", name("history_compacted"), h.compactKept/int64(max(1, h.large.records)))
}
