package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
)

// Reading the archive that Retain writes (retention.go), for the export
// that reconciles a day against the gateway's batch: a range older than
// keep_days lives only there, so an export of the live journal alone
// would be short without saying so.

// maxArchiveLine bounds one archive line. A record is a couple of
// kilobytes; a longer line is damage, skipped (and reported) without
// holding more than this in memory.
const maxArchiveLine = 1 << 20

// maxProblems bounds the problem lines an ArchiveRead lists (all are
// counted): a file of garbage must not fill the memory with reports.
const maxProblems = 100

// Problem is an archive line a read did not return. It never holds the
// line's content, which may be what a tampered archive wants printed.
type Problem struct {
	File   string // the archive file
	Line   int    // 1-based
	Reason string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Reason) }

// ArchiveRead is what ReadArchive read.
type ArchiveRead struct {
	Files   int // day files read
	Records int // records returned
	// Damaged counts the lines that do not decode as a record (or are too
	// long to be one); CardData the lines refused because they hold card
	// data. Both are records an export may be missing: the caller must
	// say so.
	Damaged  int
	CardData int
	// Torn counts unfinished last lines: a crash while Retain appended,
	// before it deleted anything, so their records are still live (and
	// the next retention overwrites the line). Not a loss.
	Torn int
	// Problems lists the lines counted above, the first maxProblems.
	Problems []Problem
}

// Incomplete reports whether a line that may hold a record was skipped.
func (a *ArchiveRead) Incomplete() bool { return a.Damaged+a.CardData > 0 }

func (a *ArchiveRead) problem(file string, line int, reason string) {
	if len(a.Problems) < maxProblems {
		a.Problems = append(a.Problems, Problem{File: file, Line: line, Reason: reason})
	}
}

// archiveDays lists the archive files in dir with the day each holds,
// oldest first; a file whose name is not a day's is not the archive's.
func archiveDays(dir string) (files []string, days []time.Time, err error) {
	names, err := filepath.Glob(filepath.Join(dir, "journal-*.jsonl"))
	if err != nil {
		return nil, nil, fmt.Errorf("journal: archive: %w", err)
	}
	for _, f := range names { // Glob sorts: the oldest day first
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "journal-"), ".jsonl")
		day, err := time.Parse(time.DateOnly, name)
		if err != nil || archiveFile(dir, day) != f {
			continue
		}
		files, days = append(files, f), append(days, day)
	}
	return files, days, nil
}

// ReadArchive calls fn, oldest day file first and in each file's order,
// with every archived record in dir created in [since, until) (a zero
// bound is open). It opens only the day files whose day can hold such a
// record and reads them line by line.
//
// A line is returned only if it decodes as a record with a
// transaction_api_id and holds no card data under the journal's policy
// (card.ContainsCardData), checked on the line as written and on the
// record as the journal would encode it (a JSON escape such as \u0034
// must not hide a digit): an archive is masked data only, and a tampered
// one must not make an export print a card number. Every other line is
// counted and listed in the result, never returned, never a panic. An
// error is one of reading (or ctx's, or fn's): the result then holds what
// was read until then.
func ReadArchive(ctx context.Context, dir string, since, until time.Time, fn func(Record) error) (ArchiveRead, error) {
	var res ArchiveRead
	files, days, err := archiveDays(dir)
	if err != nil {
		return res, err
	}
	for i, f := range files {
		if (!until.IsZero() && !days[i].Before(until)) || (!since.IsZero() && !days[i].AddDate(0, 0, 1).After(since)) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		res.Files++
		if err := readArchiveFile(ctx, f, since, until, &res, fn); err != nil {
			return res, err
		}
	}
	return res, nil
}

func readArchiveFile(ctx context.Context, path string, since, until time.Time, res *ArchiveRead, fn func(Record) error) error {
	if err := regularFile(path); err != nil {
		res.Damaged++
		res.problem(path, 0, err.Error())
		return nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("journal: archive: %w", err)
	}
	defer fh.Close()
	split := lineSplitter{max: maxArchiveLine}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 0, 64<<10), maxArchiveLine)
	sc.Split(split.split)
	for n := 1; sc.Scan(); n++ {
		if n%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch {
		case split.overlong:
			res.Damaged++
			res.problem(path, n, fmt.Sprintf("longer than %d bytes: not a record", maxArchiveLine))
			continue
		case split.torn:
			// Torn only if it is not a whole record: a kill between the
			// last byte and the newline leaves a whole one, still live
			// too; then it is read like any other line.
			var r Record
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				res.Torn++
				res.problem(path, n, "unfinished last line (retention stopped while writing it; its record is still in the live journal)")
				continue
			}
		}
		r, reason := decodeArchived(sc.Bytes())
		if reason != "" {
			if reason == reasonCardData {
				res.CardData++
			} else {
				res.Damaged++
			}
			res.problem(path, n, reason)
			continue
		}
		if (!since.IsZero() && r.Created.Before(since)) || (!until.IsZero() && !r.Created.Before(until)) {
			continue
		}
		res.Records++
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("journal: archive %s: %w", path, err)
	}
	return nil
}

const reasonCardData = "holds card data: refused, not exported (the archive was written with masked data only: it has been altered)"

// decodeArchived decodes one archive line; reason says why it is not a
// record to return.
func decodeArchived(line []byte) (r Record, reason string) {
	if card.ContainsCardData(string(line)) {
		return Record{}, reasonCardData
	}
	if err := json.Unmarshal(line, &r); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Record{}, fmt.Sprintf("does not decode (JSON syntax error at byte %d)", se.Offset)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Record{}, fmt.Sprintf("does not decode (field %q has the wrong type)", card.RedactPANs(te.Field))
		}
		return Record{}, "does not decode"
	}
	if r.TransactionAPIID == "" {
		return Record{}, "no transaction_api_id: not a record"
	}
	if b, err := json.Marshal(&r); err != nil || card.ContainsCardData(string(b)) {
		return Record{}, reasonCardData
	}
	return r, ""
}

// lineSplitter is bufio.ScanLines that neither stops at a line longer than
// max (it skips it, and says so) nor hides a last line with no newline
// (it returns it, and says so).
type lineSplitter struct {
	max      int
	skipping bool // inside an overlong line
	overlong bool // the token returned stands for an overlong line
	torn     bool // the token returned is a last line with no newline
}

func (s *lineSplitter) split(data []byte, atEOF bool) (int, []byte, error) {
	s.overlong, s.torn = false, false
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		if s.skipping {
			s.skipping, s.overlong = false, true
			return i + 1, []byte{}, nil
		}
		return i + 1, bytes.TrimSuffix(data[:i], []byte{'\r'}), nil
	}
	switch {
	case atEOF && s.skipping:
		s.skipping, s.overlong = false, true
		return len(data), []byte{}, nil
	case atEOF && len(data) > 0:
		s.torn = true
		return len(data), data, nil
	case len(data) >= s.max:
		s.skipping = true
		return len(data), nil, nil // dropped; the scanner reads on
	}
	return 0, nil, nil
}

// Between returns the finished and unfinished records created in [since,
// until) from the live journal and its archive (ArchiveDir), each
// transaction once, oldest first (by creation, then transaction_api_id:
// the time index's order). A record both live and archived — a crash
// between Retain's archive write and its delete — is the live one; one in
// two archive lines is the one updated last. The ArchiveRead says which
// archive lines were skipped and why.
func (j *Journal) Between(ctx context.Context, since, until time.Time) ([]Record, ArchiveRead, error) {
	byID := map[string]int{} // index in out
	var out []Record
	q := sale.Query{Since: since, Until: until, Limit: maxPage}
	for {
		if err := ctx.Err(); err != nil {
			return nil, ArchiveRead{}, err
		}
		p, err := j.History(q)
		if err != nil {
			return nil, ArchiveRead{}, err
		}
		for _, r := range p.Records {
			if _, dup := byID[r.TransactionAPIID]; !dup {
				byID[r.TransactionAPIID] = len(out)
				out = append(out, r)
			}
		}
		if !p.More {
			break
		}
		q.Before = p.Next
	}
	live := len(out)
	res, err := ReadArchive(ctx, ArchiveDir(j.path), since, until, func(r Record) error {
		i, dup := byID[r.TransactionAPIID]
		switch {
		case !dup:
			byID[r.TransactionAPIID] = len(out)
			out = append(out, r)
		case i >= live && r.Updated.After(out[i].Updated):
			out[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, res, err
	}
	slices.SortFunc(out, func(a, b Record) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.TransactionAPIID, b.TransactionAPIID)
	})
	return out, res, nil
}

// regularFile refuses an archive file that is not a regular file: Retain
// writes only regular files, and a link to /dev/zero would be read for
// ever (it has no line to stop at), a FIFO block the open, a link out of
// the state directory be read or appended to.
func regularFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("journal: archive: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("is a %s, not a regular file: not read (retention writes only regular files; move it away)", fileKind(fi.Mode()))
	}
	return nil
}

// ArchiveSize is the archive's files, records and bytes.
type ArchiveSize struct {
	Dir     string
	Files   int
	Records int // whole lines: one a record
	Bytes   int64
	// Oldest and Newest are the first and last day with a file.
	Oldest, Newest time.Time
}

// ArchiveSizes measures the archive in dir (ArchiveDir) without decoding
// it: its records are its lines.
func ArchiveSizes(dir string) (ArchiveSize, error) {
	s := ArchiveSize{Dir: dir}
	files, days, err := archiveDays(dir)
	if err != nil {
		return s, err
	}
	buf := make([]byte, 64<<10)
	for i, f := range files {
		if regularFile(f) != nil {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			return s, fmt.Errorf("journal: archive: %w", err)
		}
		for {
			n, err := fh.Read(buf)
			s.Records += bytes.Count(buf[:n], []byte{'\n'})
			s.Bytes += int64(n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				fh.Close()
				return s, fmt.Errorf("journal: archive %s: %w", f, err)
			}
		}
		fh.Close()
		s.Files++
		if i == 0 {
			s.Oldest = days[i]
		}
		s.Newest = days[i]
	}
	return s, nil
}
