//go:build !headless

package ui_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/ui"
)

// The history lists one page; "Show older sales" appends the next page of
// the same search from the previous page's cursor and hides after the
// last; a new search starts over from the first page; a sale's result
// does not throw away the older pages the cashier is reading.
func TestHistoryShowOlder(t *testing.T) {
	h, b := setup(t)
	b.HistoryPageSize = 2
	now := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	var all []ui.HistoryItem
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("s%d", 5-i)
		l4 := "1111"
		if i%2 == 1 {
			l4 = "2222"
		}
		all = append(all, ui.HistoryItem{SaleID: id, State: "done", Result: sale.Result{Outcome: sale.OutcomeApproved,
			Action: "sale", Amount: "1.00", LastFour: l4, TransactionID: "tx" + id, Created: now.Add(-time.Duration(i) * time.Hour)}})
		want = append(want, id)
	}
	b.SetHistory(all)
	fyne.DoAndWait(func() { h.SelectTab(1) })
	ids := func() (got []string) { fyne.DoAndWait(func() { got = h.HistoryIDs() }); return got }
	shown := func() (v bool) { fyne.DoAndWait(func() { v = h.HistoryOlder().Visible() }); return v }

	if got := ids(); !slices.Equal(got, want[:2]) || !shown() {
		t.Fatalf("first page %v (older button shown %v), want %v and the button", got, shown(), want[:2])
	}
	fyne.DoAndWait(func() { h.HistoryList().Select(1) })
	for _, n := range []int{4, 5} {
		fyne.DoAndWait(func() { test.Tap(h.HistoryOlder()) })
		if got := ids(); !slices.Equal(got, want[:n]) {
			t.Fatalf("after a click: %v, want %v", got, want[:n])
		}
	}
	if shown() {
		t.Error("the older button is still shown after the last page")
	}
	calls := b.HistoryCalls()
	if len(calls) < 3 || calls[len(calls)-2].Before.ID != "s4" || calls[len(calls)-1].Before.ID != "s2" {
		t.Errorf("pages asked from %+v, want each from the previous page's last sale", calls)
	}
	var detail string
	fyne.DoAndWait(func() { detail = h.HistoryDetail().Text })
	if !strings.Contains(detail, "txs4") {
		t.Errorf("the selection did not survive a page: %q", detail)
	}

	// A result while the cashier reads older sales keeps the list.
	b.Emit(ui.Event{Kind: ui.EventResult, SaleID: "s5", Result: &all[0].Result})
	eventually(t, h, b, "result", func() bool { return true })
	if got := ids(); len(got) != 5 {
		t.Errorf("a result dropped the older pages: %v", got)
	}

	// A search starts from its first page.
	fyne.DoAndWait(func() { h.HistorySearch().SetText("1111") })
	if got := ids(); !slices.Equal(got, []string{"s5", "s3"}) || !shown() {
		t.Errorf("search: %v (button %v), want [s5 s3] and the button", got, shown())
	}
	if c := b.HistoryCalls(); !c[len(c)-1].Before.IsZero() || c[len(c)-1].Query != "1111" {
		t.Errorf("search asked %+v, want the first page", c[len(c)-1])
	}
	fyne.DoAndWait(func() { test.Tap(h.HistoryOlder()) })
	if got := ids(); !slices.Equal(got, []string{"s5", "s3", "s1"}) || shown() {
		t.Errorf("search, older: %v (button %v), want [s5 s3 s1] and no button", got, shown())
	}
}
