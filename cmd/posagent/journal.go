package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
)

func init() {
	register(command{name: "journal", summary: "the sales journal: stats, export (csv|json for end-of-day reconciliation), compact", run: runJournal})
}

const journalUsage = `usage: posagent journal stats|export|compact [flags]

  stats     counts (records, in flight, unacknowledged) and sizes, of the
            live journal and of its archive
  export    finished transactions created in [--since, --until), masked, as
            csv or json (one object a line): for reconciling the day against
            the gateway's batch. It reads the live journal and the daily
            archive files retention moved older sales to ([journal]
            keep_days), each transaction once. An archive line that does not
            decode or holds card data is not exported: it is reported on
            stderr (file and line) and the exit status is 1, the rest written.
  compact   rewrite the file to what it holds (the agent does this after its
            daily retention; bbolt never shrinks a file by itself)

The journal is locked by a running agent: these commands wait 2 s for it,
then stop with "in use" — stop the agent (posagent service stop) first.
Export and stats hold that lock while they read the archive too, so no
retention moves records meanwhile.

`

func runJournal(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "stats" && args[0] != "export" && args[0] != "compact") {
		fmt.Fprint(stderr, journalUsage)
		return 2
	}
	sub := args[0]
	fs := newFlags("journal "+sub, stderr)
	path := fs.String("journal", "", "the journal file (default: journal.db in the state directory)")
	stateDir := fs.String("state-dir", "", "the agent's state directory (default: per-OS state directory, the service's when run as root)")
	demo := fs.Bool("demo", false, "use the state directory of `posagent demo`")
	since := fs.String("since", "", "export: first day (2006-01-02, local time) or instant (RFC 3339); default today")
	until := fs.String("until", "", "export: end, exclusive (a day is its start); default the day after --since")
	format := fs.String("format", "csv", "export: csv or json")
	fs.Usage = func() { fmt.Fprint(stderr, journalUsage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (sub != "export" && (*since != "" || *until != "")) || (*format != "csv" && *format != "json") {
		fs.Usage()
		return 2
	}
	var from, to time.Time
	if sub == "export" {
		var err error
		if from, to, err = exportRange(*since, *until, time.Now()); err != nil {
			fmt.Fprintf(stderr, "posagent journal export: %v\n", err)
			return 2
		}
	}
	if *path == "" {
		*path = filepath.Join(stateDirFor(*stateDir, *demo), "journal.db")
	}
	if _, err := os.Stat(*path); err != nil {
		fmt.Fprintf(stderr, "posagent journal: %v (give --journal, --state-dir or --demo)\n", err)
		return 1
	}
	j, err := journal.Open(*path, nil)
	if err != nil {
		if errors.Is(err, journal.ErrInUse) {
			fmt.Fprintf(stderr, "posagent journal: %s is in use by a running agent: stop it first (posagent service stop, or quit the window)\n", *path)
			return 1
		}
		fmt.Fprintf(stderr, "posagent journal: %v\n", err)
		return 1
	}
	defer j.Close()
	// Open salvages a damaged journal as the agent's start does: the
	// records on its damaged pages are gone from the live journal, so say
	// so, and an export is incomplete.
	salvaged := false
	if rep := j.Report(); rep.MovedAside != "" {
		salvaged = true
		fmt.Fprintf(stderr, "posagent journal: the journal was damaged (%s): it was kept as %s and a new one started with the %d records that could be read; records on the damaged pages may be missing: check the gateway portal\n",
			rep.Damage, rep.MovedAside, rep.Salvaged)
	}
	switch sub {
	case "stats":
		err = journalStats(j, stdout)
	case "export":
		var complete bool
		if complete, err = journalExport(ctx, j, from, to, *format, stdout, stderr); err == nil && (!complete || salvaged) {
			if complete {
				fmt.Fprintln(stderr, "posagent journal export: incomplete: the journal was salvaged (above): check the export against the gateway's batch")
			}
			return 1
		}
	case "compact":
		var before, after int64
		if before, after, err = j.Compact(); err == nil {
			fmt.Fprintf(stdout, "compacted %s: %d -> %d bytes\n", *path, before, after)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "posagent journal %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// exportRange reads --since and --until: a day is its local midnight.
func exportRange(since, until string, now time.Time) (from, to time.Time, err error) {
	parse := func(flag, s string) (time.Time, bool, error) {
		if t, err := time.ParseInLocation(time.DateOnly, s, now.Location()); err == nil {
			return t, true, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("--%s %q: give a day (2006-01-02) or an instant (2006-01-02T15:04:05Z)", flag, s)
		}
		return t, false, nil
	}
	from = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	if since != "" {
		if from, _, err = parse("since", since); err != nil {
			return
		}
	}
	to = from.AddDate(0, 0, 1)
	if until != "" {
		if to, _, err = parse("until", until); err != nil {
			return
		}
	}
	if !to.After(from) {
		err = fmt.Errorf("--until %s is not after --since %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return
}

func journalStats(j *journal.Journal, w io.Writer) error {
	st, err := j.Stats()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "journal     %s\nrecords     %d\nin flight   %d (not finished: looked up by the agent)\nunacked     %d (finished, no client has acknowledged)\n",
		j.Path(), st.Records, st.InFlight, st.Unacked)
	if st.Records > 0 {
		fmt.Fprintf(w, "oldest      %s\nnewest      %s\n", st.Oldest.Local().Format(time.RFC3339), st.Newest.Local().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "file        %d bytes (%d free for reuse; posagent journal compact returns them)\n", st.FileBytes, st.FreeBytes)
	if st.Records > 0 {
		fmt.Fprintf(w, "per record  %d bytes\n", st.FileBytes/int64(st.Records))
	}
	a, err := journal.ArchiveSizes(journal.ArchiveDir(j.Path()))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "archive     %d files, %d records, %d bytes in %s\n", a.Files, a.Records, a.Bytes, a.Dir)
	if a.Files > 0 {
		fmt.Fprintf(w, "            days %s to %s (posagent journal export reads them too)\n", a.Oldest.Format(time.DateOnly), a.Newest.Format(time.DateOnly))
	}
	return nil
}

// exported is one finished transaction in an export: masked card data and
// gateway ids only.
type exported struct {
	Created          time.Time `json:"created"`
	TransactionAPIID string    `json:"transaction_api_id"`
	TransactionID    string    `json:"transaction_id"`
	Action           string    `json:"action"`
	Outcome          string    `json:"outcome"`
	Amount           string    `json:"amount"`
	TipAmount        string    `json:"tip_amount"`
	AuthAmount       string    `json:"auth_amount"`
	AuthCode         string    `json:"auth_code"`
	OrigTransaction  string    `json:"orig_transaction_id"`
	Brand            string    `json:"brand"`
	MaskedPAN        string    `json:"masked_pan"`
	EntryMode        string    `json:"entry_mode"`
	StatusID         int       `json:"status_id"`
	ReasonCodeID     int       `json:"reason_code_id"`
	OrderNum         string    `json:"order_num"`
	Origin           string    `json:"origin"`
}

var exportColumns = []string{"created", "transaction_api_id", "transaction_id", "action", "outcome", "amount", "tip_amount",
	"auth_amount", "auth_code", "orig_transaction_id", "brand", "masked_pan", "entry_mode", "status_id", "reason_code_id", "order_num", "origin"}

func (e exported) row() []string {
	row := []string{e.Created.Format(time.RFC3339), e.TransactionAPIID, e.TransactionID, e.Action, e.Outcome, e.Amount, e.TipAmount,
		e.AuthAmount, e.AuthCode, e.OrigTransaction, e.Brand, e.MaskedPAN, e.EntryMode, strconv.Itoa(e.StatusID), strconv.Itoa(e.ReasonCodeID),
		e.OrderNum, e.Origin}
	for i, v := range row {
		row[i] = cell(v)
	}
	return row
}

// cell defuses a value a spreadsheet would run as a formula: order_num
// comes from the POS page, and the export is opened in one.
func cell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// journalExport writes the finished transactions created in [from, to),
// live and archived, each once, oldest first. complete is false when a
// record may be missing from it — an archive line that does not decode or
// holds card data, a record refused here — each reported on stderr, so a
// reconciliation is never short without saying so.
func journalExport(ctx context.Context, j *journal.Journal, from, to time.Time, format string, w, stderr io.Writer) (complete bool, err error) {
	recs, arch, err := j.Between(ctx, from, to)
	if err != nil {
		return false, err
	}
	for _, p := range arch.Problems {
		fmt.Fprintf(stderr, "posagent journal export: archive %s\n", p)
	}
	if n := arch.Damaged + arch.CardData + arch.Torn - len(arch.Problems); n > 0 {
		fmt.Fprintf(stderr, "posagent journal export: and %d more archive lines like these\n", n)
	}
	refused := 0
	cw := csv.NewWriter(w)
	enc := json.NewEncoder(w)
	if format == "csv" {
		cw.Write(exportColumns)
	}
	for _, r := range recs {
		if r.State != sale.StateDone {
			continue
		}
		e := exported{Created: r.Created.Local(), TransactionAPIID: r.TransactionAPIID, TransactionID: r.TransactionID, Action: r.Action,
			Outcome: string(r.Outcome), Amount: r.Amount, TipAmount: r.TipAmount, AuthAmount: r.AuthAmount, AuthCode: r.AuthCode,
			OrigTransaction: r.OrigTransaction, Brand: r.Brand, MaskedPAN: r.MaskedPAN, EntryMode: r.EntryMode,
			StatusID: r.StatusID, ReasonCodeID: r.ReasonCodeID, OrderNum: r.OrderNum, Origin: r.Origin}
		if f := e.cardData(); f != "" {
			refused++
			fmt.Fprintf(stderr, "posagent journal export: transaction %s created %s: %s holds card data: refused, not exported\n",
				card.RedactPANs(r.TransactionAPIID), r.Created.Local().Format(time.RFC3339), f)
			continue
		}
		if format == "csv" {
			cw.Write(e.row())
			continue
		}
		if err := enc.Encode(e); err != nil {
			return false, err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return false, err
	}
	// A live record that does not decode is skipped by the journal's
	// reads: a record the export is missing too.
	if unreadable := j.Unreadable(); arch.Incomplete() || refused > 0 || unreadable > 0 {
		fmt.Fprintf(stderr, "posagent journal export: incomplete: %d archive lines do not decode, %d hold card data, %d records refused, %d journal records do not decode: check them against the gateway's batch\n",
			arch.Damaged, arch.CardData, refused, unreadable)
		return false, nil
	}
	return true, nil
}

// cardData names the first field of e that holds card data under the
// card-data policy the journal applies, "" when none does: live records
// passed it when written and archived lines when read, but a tampered
// file must still not make an export print a card number.
func (e exported) cardData() string {
	for i, v := range e.row() {
		if card.ContainsCardData(v) {
			return exportColumns[i]
		}
	}
	return ""
}
