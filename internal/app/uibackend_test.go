package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/ui"
)

// The cashier window's backend on a real demo agent: a sale through it
// reaches the sandbox and comes back approved with a masked card only.
func TestUIBackendSale(t *testing.T) {
	a := startDemo(t)
	b := a.UIBackend()
	if st := b.Status(); len(st.Readers) != 1 || st.Readers[0].Status != sale.ReaderOK || st.Gateway.Kind != "sandbox" || st.AgentURL == "" {
		t.Fatalf("status %+v", st)
	}
	ev, stop := b.Updates()
	defer stop()
	id, err := b.Sale(context.Background(), "sale", "12.00", ui.SaleFields{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Simulator().Simulate(context.Background(), "4111111111111111", "S"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.Kind != ui.EventResult || e.SaleID != id {
				continue
			}
			r := e.Result
			if r.Outcome != sale.OutcomeApproved || r.MaskedPAN != "4111********1111" || r.StatusID != 101 || r.AuthCode == "" {
				t.Fatalf("result %+v", r)
			}
			h := b.History("1111", sale.Cursor{}).Items
			if len(h) != 1 || h[0].SaleID != id {
				t.Fatalf("history %+v", h)
			}
			// Searchable through the indexes: amount, gateway id, date,
			// and the sale's own id.
			for _, q := range []string{"12.00", "$12", "12", r.TransactionID, time.Now().Format("2006-01-02"), id} {
				if h := b.History(q, sale.Cursor{}).Items; len(h) == 0 || h[0].SaleID != id {
					t.Errorf("history %q: %+v", q, h)
				}
			}
			if h := b.History("9999", sale.Cursor{}).Items; len(h) != 0 {
				t.Errorf("history 9999: %+v", h)
			}
			// The window has shown the result: it is acknowledged, so it
			// does not wait for a client forever and retention can move it.
			if un, _, err := a.Engine().Unacked("", 0); err != nil || len(un) != 0 {
				t.Errorf("a window sale the window has shown is unacknowledged: %d %v", len(un), err)
			}
			var ve *ui.ValidationError
			if err := b.SaveSettings(b.Settings()); !errors.As(err, &ve) {
				t.Fatalf("the demo must refuse to save settings: %v", err)
			}
			if err := b.SetPaused(true); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Sale(context.Background(), "sale", "1.00", ui.SaleFields{}); err == nil {
				t.Fatal("a paused agent took a sale")
			}
			return
		case <-deadline:
			t.Fatal("no result")
		}
	}
}

// The window's history pages a year of sales to the oldest, for every
// sale and for a search, with no sale twice and none left out; every
// window sale it lists is acknowledged.
func TestUIBackendHistoryPages(t *testing.T) {
	state := t.TempDir()
	j, err := journal.Open(filepath.Join(state, "journal.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	j.SetNoSync(true) // seeding only
	// More than two pages of each, one sale a day back from yesterday;
	// every tenth pair shares its creation time, so the cursor's id
	// breaks the tie.
	const n = 2*historyPage*2 + 37
	start := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	var recs []journal.Record
	var wantAll, want4242 []string
	for i := range n {
		created := start.Add(-time.Duration(i) * 20 * time.Hour)
		if i%10 == 1 {
			created = recs[i-1].Created
		}
		r := journal.Record{TransactionAPIID: fmt.Sprintf("seed-%04d", i), Origin: "ui", Action: "sale", Amount: "3.00",
			State: sale.StateDone, Outcome: sale.OutcomeApproved, TransactionID: fmt.Sprintf("11ef%020d", i),
			LastFour: "1111", Created: created}
		if i%2 == 0 {
			r.LastFour = "4242"
		}
		if i%3 == 0 {
			r.Origin, r.Acked = "https://pos.example", true
		}
		recs = append(recs, r)
	}
	if err := j.PutAll(recs); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Newest first: by creation time, then by id, as the journal's time
	// index orders them (a tie lists the greater id first).
	sort.SliceStable(recs, func(a, b int) bool {
		if !recs[a].Created.Equal(recs[b].Created) {
			return recs[a].Created.After(recs[b].Created)
		}
		return recs[a].TransactionAPIID > recs[b].TransactionAPIID
	})
	for _, r := range recs {
		wantAll = append(wantAll, r.TransactionAPIID)
		if r.LastFour == "4242" {
			want4242 = append(want4242, r.TransactionAPIID)
		}
	}

	cfg := testConfig()
	cfg.Journal.KeepDays = 0 // a lane that keeps its year in the live journal
	a, err := New(Options{Config: cfg, StateDir: state, Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	b := a.UIBackend()
	for _, tc := range []struct {
		query string
		want  []string
	}{{"", wantAll}, {"4242", want4242}} {
		var got []string
		var before sale.Cursor
		pages := 0
		for {
			p := b.History(tc.query, before)
			pages++
			if len(p.Items) > historyPage {
				t.Fatalf("%q: a page of %d items, more than %d", tc.query, len(p.Items), historyPage)
			}
			for _, it := range p.Items {
				got = append(got, it.SaleID)
			}
			if !p.More {
				break
			}
			if pages > n {
				t.Fatalf("%q: the pages never end", tc.query)
			}
			before = p.Next
		}
		if pages < 3 {
			t.Errorf("%q: %d pages, want more than two", tc.query, pages)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: paged %d sales, want %d newest first, each once (first difference at %d)",
				tc.query, len(got), len(tc.want), firstDiff(got, tc.want))
		}
	}
	if un, _, err := a.Engine().Unacked("", 0); err != nil || len(un) != 0 {
		t.Errorf("window sales the history listed are unacknowledged: %d %v", len(un), err)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// The window's search text is one indexed query; text that could be two
// kinds is the first in historyQuery's order.
func TestHistoryQuery(t *testing.T) {
	loc := time.FixedZone("lane", -5*3600)
	day := time.Date(2026, 3, 9, 0, 0, 0, 0, loc)
	for _, tc := range []struct {
		text string
		want sale.Query
	}{
		{"", sale.Query{}},
		{"2026-03-09", sale.Query{Since: day, Until: day.AddDate(0, 0, 1)}},
		{"4242", sale.Query{LastFour: "4242"}},
		{"2024", sale.Query{LastFour: "2024"}}, // four digits: last four first
		{"$2024", sale.Query{Amount: "2024.00"}},
		{"2024.00", sale.Query{Amount: "2024.00"}},
		{"12.34", sale.Query{Amount: "12.34"}},
		{"$12", sale.Query{Amount: "12.00"}},
		{"7", sale.Query{Amount: "7.00"}},
		{"123456", sale.Query{Amount: "123456.00"}},
		{"1234567", sale.Query{TransactionID: "1234567"}}, // a numeric gateway id
		{"-12.00", sale.Query{TransactionID: "-12.00"}},
		{"2026-13-09", sale.Query{TransactionID: "2026-13-09"}},
		{"11ef0a1b2c3d4e5f6a7b8c9d", sale.Query{TransactionID: "11ef0a1b2c3d4e5f6a7b8c9d"}},
	} {
		if got := historyQuery(tc.text, loc); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.text, got, tc.want)
		}
	}
}
