package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
)

// Retention under fire (issue 17). The agent runs with [journal] keep_days
// = chaosKeepDays, and before every start the harness seeds the stopped
// agent's journal with a batch of old, finished, acknowledged sales. The
// agent moves them to its archive at start (internal/app/retention.go: once
// at start, then daily) and compacts the file (what they freed is well over
// a quarter of it), so every restart — after a kill during a sale, or a
// kill aimed at retention itself — runs retention and compaction while the
// agent recovers its own sales. No test-only interval is needed: the start
// is the moment retention runs.
//
// A kill aimed at retention happens between two sales: the agent is
// stopped, a batch seeded, the agent started and SIGKILLed a random moment
// later, before or after it listens: half the kills uniformly within
// retentionKillWindow, half near the end of retention, where compaction
// runs (the last quarter of how long the last observed retention took,
// from spawn to its log line, and a little after). Where the kill landed is
// classified from the state it left (classify). At the end every seeded
// record must be exactly once in journal ∪ archive.
const (
	chaosKeepDays       = 1
	retentionKillWindow = 1000 * time.Millisecond
)

// oldSales seeds and accounts for the old sales.
type oldSales struct {
	batch  int
	seeded []string // transaction_api_id of every seeded record
	// where retention kills landed: before retention moved anything,
	// during retention (records both archived and still live, or some of
	// the batch moved), during compaction (the compaction's copy on disk),
	// after (retention and compaction done).
	killedBefore, killedRetain, killedCompact, killedAfter int
	// reconciliation: seeded records found nowhere, found more than once.
	lost, dup int
	// took is how long the last observed retention took, from the
	// agent's exec to its "journal retention: archived" log line.
	took time.Duration
}

// observe waits (at most retentionKillWindow) for the started agent to log
// its retention and keeps how long it took from exec.
func (s *oldSales) observe(a *agent, logSize int64) {
	for deadline := time.Now().Add(retentionKillWindow); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for line := range strings.Lines(tail(a.log, logSize)) {
			var l struct {
				Time time.Time `json:"time"`
				Msg  string    `json:"msg"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Msg, "journal retention: archived") {
				if d := l.Time.Sub(a.spawned); d > 0 {
					s.took = d
				}
				return
			}
		}
	}
}

// compactingLine is what the agent logs as it starts a compaction
// (internal/app/retention.go).
const compactingLine = "journal retention: compacting the journal"

// waitCompacting waits (at most a few retention windows) for the agent to
// log that it starts compacting, so that a third of the kills aimed at
// retention land in the compaction itself: a compaction of the chaos
// journal takes tens of milliseconds, and a random delay alone almost
// never meets it (0 of 61 in a 2,000-sale run).
func waitCompacting(a *agent, logSize int64) {
	for deadline := time.Now().Add(5 * retentionKillWindow); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if strings.Contains(tail(a.log, logSize), compactingLine) {
			return
		}
	}
}

// waitRetention waits (at most a minute) for the agent's retention pass of
// this start to end: its log line after offset logSize.
func waitRetention(a *agent, logSize int64) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		t := tail(a.log, logSize)
		if strings.Contains(t, "journal retention: archived") || strings.Contains(t, "journal retention: nothing to move") ||
			strings.Contains(t, "journal retention failed") {
			return
		}
	}
}

// killDelay is when after exec a kill aimed at retention lands.
func (s *oldSales) killDelay(rng *rand.Rand) time.Duration {
	if s.took <= 0 || rng.Intn(2) == 0 {
		return time.Duration(rng.Int63n(int64(retentionKillWindow)))
	}
	return s.took*3/4 + time.Duration(rng.Int63n(int64(s.took/2)+1))
}

// seedLive puts n recent, finished, acknowledged sales into the journal
// once, before the first start: a lane's history, which retention keeps
// and every compaction copies, so that a compaction lasts long enough for
// kills to land in it (with only the run's own sales it copies a few
// hundred kilobytes in milliseconds).
func (s *oldSales) seedLive(rng *rand.Rand, state string, n int) error {
	if n == 0 || s.batch == 0 {
		return nil
	}
	saved := s.batch
	s.batch = n
	err := s.seedAged(rng, state, "live-", 0)
	s.batch = saved
	return err
}

// seed puts o.batch old records into the stopped agent's journal: created
// chaosKeepDays+1 to chaosKeepDays+5 days ago, so they span several
// archive files.
func (s *oldSales) seed(rng *rand.Rand, state string) error {
	return s.seedAged(rng, state, "old-", chaosKeepDays+1)
}

// seedAged seeds s.batch sales created minDays to minDays+5 days ago (0:
// within the last hour) with ids prefix+N; only "old-" ones are accounted
// for.
func (s *oldSales) seedAged(rng *rand.Rand, state, prefix string, minDays int) error {
	if s.batch == 0 {
		return nil
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	j, err := journal.Open(filepath.Join(state, "journal.db"), nil)
	if err != nil {
		return fmt.Errorf("seed old sales: %w", err)
	}
	defer j.Close()
	recs := make([]journal.Record, 0, s.batch)
	now := time.Now().UTC()
	for i := range s.batch {
		n := len(s.seeded)
		if prefix != "old-" {
			n = i
		}
		id := fmt.Sprintf("%s%07d", prefix, n)
		if prefix == "old-" {
			s.seeded = append(s.seeded, id)
		}
		last4 := fmt.Sprintf("%04d", rng.Intn(10000))
		recs = append(recs, journal.Record{
			TransactionAPIID: id, ClientID: "old", Origin: "https://pos.example.com", Action: "sale",
			OrderNum: strings.TrimSuffix(prefix, "-") + id[len(prefix):], Amount: "1.00", ReaderID: "sim:vp3300", State: sale.StateDone,
			Outcome: "approved", MaskedPAN: "4111********" + last4, LastFour: last4, Brand: "visa",
			EntryMode: "swiped", TransactionID: fmt.Sprintf("11e%013d", n), StatusID: 101, ReasonCodeID: 1000,
			AuthCode: "A00001", Verbiage: "APPROVED", Attempts: 1, Acked: true,
			Created: now.Add(-time.Duration(minDays+rng.Intn(5))*24*time.Hour - time.Duration(rng.Intn(3600))*time.Second),
		})
		if minDays == 0 {
			// Within keep_days: kept.
			recs[len(recs)-1].Created = now.Add(-time.Duration(rng.Intn(3600)) * time.Second)
		}
	}
	if err := j.PutAll(recs); err != nil {
		return fmt.Errorf("seed old sales: %w", err)
	}
	return nil
}

// killDuringRetention stops the agent, seeds a batch, starts it and kills
// it a random moment later, then classifies where the kill landed. The
// agent is left stopped.
func (s *oldSales) killDuringRetention(rng *rand.Rand, a *agent) error {
	a.stop()
	if err := s.seed(rng, a.state); err != nil {
		return err
	}
	live, err := s.liveOld(a.state)
	if err != nil {
		return err
	}
	logSize := fileSize(a.log)
	if err := a.spawn(); err != nil {
		return err
	}
	if rng.Intn(3) == 0 {
		waitCompacting(a, logSize)
		time.Sleep(time.Duration(rng.Int63n(int64(5 * time.Millisecond))))
	} else {
		time.Sleep(s.killDelay(rng))
	}
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	_ = a.cmd.Wait()
	return s.classify(a, live, logSize)
}

// classify tells where a kill landed from what it left: the seeded records
// still live, the archive's lines for records still live, the compaction's
// copy, and whether the agent logged that retention finished.
func (s *oldSales) classify(a *agent, liveBefore map[string]bool, logSize int64) error {
	live, err := s.liveOld(a.state)
	if err != nil {
		return err
	}
	archived, err := archivedIDs(a.state)
	if err != nil {
		return err
	}
	both := false
	for id := range live {
		if archived[id] > 0 {
			both = true
			break
		}
	}
	_, statErr := os.Stat(filepath.Join(a.state, "journal.db.compact"))
	copyOnDisk := statErr == nil
	logged := strings.Contains(tail(a.log, logSize), "journal retention: archived")
	switch {
	case copyOnDisk || (len(live) == 0 && !logged):
		s.killedCompact++
	case both || (len(live) > 0 && len(live) < len(liveBefore)):
		s.killedRetain++
	case len(live) == len(liveBefore) && len(live) > 0:
		s.killedBefore++
	default:
		s.killedAfter++
	}
	return nil
}

// liveOld is the seeded records in the live journal.
func (s *oldSales) liveOld(state string) (map[string]bool, error) {
	j, err := journal.Open(filepath.Join(state, "journal.db"), nil)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	live := map[string]bool{}
	for q := (sale.Query{Limit: 1000}); ; {
		p, err := j.History(q)
		if err != nil {
			return nil, err
		}
		for _, r := range p.Records {
			if strings.HasPrefix(r.TransactionAPIID, "old-") {
				live[r.TransactionAPIID] = true
			}
		}
		if !p.More {
			return live, nil
		}
		q.Before = p.Next
	}
}

// archivedIDs counts the archive's lines by transaction_api_id. A torn
// last line (a kill mid-append, with or without a whole JSON object) is not
// a record: its record is still live, and the next retention drops the
// line.
func archivedIDs(state string) (map[string]int, error) {
	files, err := filepath.Glob(filepath.Join(journal.ArchiveDir(filepath.Join(state, "journal.db")), "*.jsonl"))
	if err != nil {
		return nil, err
	}
	ids := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		// As the agent reads it: only whole lines; what follows the last
		// newline is torn, however it ends.
		data = data[:strings.LastIndexByte(string(data), '\n')+1]
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var r struct {
				ID string `json:"transaction_api_id"`
			}
			if json.Unmarshal(sc.Bytes(), &r) != nil || r.ID == "" {
				continue
			}
			ids[r.ID]++
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("archive %s: %w", f, err)
		}
	}
	return ids, nil
}

// reconcile checks every seeded record is exactly once in journal ∪
// archive (the agent stopped).
func (s *oldSales) reconcile(state string) error {
	if len(s.seeded) == 0 {
		return nil
	}
	live, err := s.liveOld(state)
	if err != nil {
		return err
	}
	archived, err := archivedIDs(state)
	if err != nil {
		return err
	}
	for _, id := range s.seeded {
		n := archived[id]
		if live[id] {
			n++
		}
		switch {
		case n == 0:
			s.lost++
		case n > 1:
			s.dup++
		}
	}
	return nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// tail is the text of path from offset on.
func tail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, offset, math.MaxInt64-offset))
	if err != nil {
		return ""
	}
	return string(data)
}
