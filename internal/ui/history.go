//go:build !headless

package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/posagent/posagent/internal/sale"
)

// history is the list of past and in-flight sales with search and detail.
type history struct {
	u *UI

	content fyne.CanvasObject
	search  *widget.Entry
	list    *widget.List
	items   []HistoryItem
	empty   *widget.Label
	// query is the search the list shows, in pages pages; next and more
	// continue it. older loads the next page, shown while there is one.
	query string
	pages int
	next  sale.Cursor
	more  bool
	older *widget.Button

	selected   int // index into items, -1 for none
	detail     *widget.Label
	receiptBtn *widget.Button
	refundBtn  *widget.Button
	voidBtn    *widget.Button
	completeBt *widget.Button
	tipBtn     *widget.Button
	// incrementBtn and reduceBtn: authincrement and partialreversal.
	incrementBtn, reduceBtn *widget.Button
}

func newHistory(u *UI) *history {
	h := &history{u: u, selected: -1}
	h.search = widget.NewEntry()
	h.search.SetPlaceHolder("Search: last four, amount ($12.34), date (2006-01-02) or transaction id")
	h.search.OnChanged = func(string) { h.reload() }
	h.empty = widget.NewLabel("No sales yet.")
	h.empty.Hide()

	h.list = widget.NewList(
		func() int { return len(h.items) },
		func() fyne.CanvasObject { return widget.NewLabel("12:00 APPROVED $000.00 Mastercard ****0000") },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(h.items) {
				o.(*widget.Label).SetText(historyLine(h.items[i]))
			}
		},
	)
	h.list.OnSelected = func(i widget.ListItemID) { h.selectItem(i) }
	// A button, not loading on scroll: widget.List tells nothing when its
	// end is reached, and a click is one page, never a burst of them.
	h.older = widget.NewButtonWithIcon("Show older sales", theme.MoveDownIcon(), h.loadOlder)
	h.older.Hide()

	h.detail = widget.NewLabel("Choose a sale to see its details.")
	h.detail.Wrapping = fyne.TextWrapWord
	h.receiptBtn = widget.NewButtonWithIcon("Receipt", theme.DocumentPrintIcon(), func() {
		if it, ok := h.current(); ok {
			u.showReceipt(it.Result)
		}
	})
	follow := func(action string) func() {
		return func() {
			if it, ok := h.current(); ok {
				amount := it.Result.Amount
				if action == "tipadjust" || changesAmount(action) {
					amount = ""
				}
				u.reg.askFollowUp(action, it.Result.TransactionID, amount)
			}
		}
	}
	h.refundBtn = widget.NewButton("Refund", follow("refund"))
	h.voidBtn = widget.NewButton("Void", follow("void"))
	h.completeBt = widget.NewButton("Complete", follow("complete"))
	h.tipBtn = widget.NewButton("Tip adjust", follow("tipadjust"))
	h.incrementBtn = widget.NewButton("Increase auth", follow("authincrement"))
	h.reduceBtn = widget.NewButton("Reduce", follow("partialreversal"))
	h.setActions(HistoryItem{}, false)

	actions := container.NewGridWithColumns(3, h.receiptBtn, h.refundBtn, h.voidBtn, h.completeBt, h.tipBtn, h.incrementBtn, h.reduceBtn)
	right := container.NewBorder(nil, actions, nil, nil, container.NewVScroll(h.detail))
	left := container.NewBorder(container.NewVBox(h.search, h.empty), h.older, nil, nil, h.list)
	split := container.NewHSplit(left, container.NewPadded(right))
	split.Offset = 0.55
	h.content = split
	return h
}

// reload lists the first page of the current search again.
func (h *history) reload() {
	h.query = strings.TrimSpace(h.search.Text)
	p := h.u.b.History(h.query, sale.Cursor{})
	h.items, h.pages = p.Items, 1
	h.setMore(p)
	if len(h.items) == 0 {
		if h.search.Text != "" {
			h.empty.SetText("No sale matches “" + h.search.Text + "”.")
		} else {
			h.empty.SetText("No sales yet.")
		}
		h.empty.Show()
	} else {
		h.empty.Hide()
	}
	h.list.UnselectAll()
	h.selected = -1
	h.detail.SetText("Choose a sale to see its details.")
	h.setActions(HistoryItem{}, false)
	h.list.Refresh()
}

// changed follows a sale's result: the list starts over with the newest,
// unless the cashier has loaded older sales to read them; then the list
// stays, and a new search or a return to the tab brings the newest back.
func (h *history) changed() {
	if !h.paged() {
		h.reload()
	}
}

// paged reports whether the list holds more than its first page.
func (h *history) paged() bool { return h.pages > 1 }

// loadOlder appends the next page of the same search. The selection
// stays: appending moves no index.
func (h *history) loadOlder() {
	if !h.more {
		return
	}
	p := h.u.b.History(h.query, h.next)
	h.items = append(h.items, p.Items...)
	h.pages++
	h.setMore(p)
	h.list.Refresh()
}

func (h *history) setMore(p HistoryPage) {
	h.next, h.more = p.Next, p.More
	if p.More {
		h.older.Show()
	} else {
		h.older.Hide()
	}
}

func (h *history) current() (HistoryItem, bool) {
	if h.selected < 0 || h.selected >= len(h.items) {
		return HistoryItem{}, false
	}
	return h.items[h.selected], true
}

func (h *history) selectItem(i int) {
	if i < 0 || i >= len(h.items) {
		return
	}
	h.selected = i
	it := h.items[i]
	h.detail.SetText(safeText(historyDetail(it)))
	h.setActions(it, true)
}

// setActions enables only the follow-ups that make sense for it.
func (h *history) setActions(it HistoryItem, on bool) {
	set := func(b *widget.Button, ok bool) {
		if on && ok {
			b.Enable()
		} else {
			b.Disable()
		}
	}
	done := !it.Resolving() && it.Result.TransactionID != ""
	approved := done && it.Result.Outcome == sale.OutcomeApproved
	set(h.receiptBtn, done)
	sale := it.Result.Action == "sale" || it.Result.Action == "force" || it.Result.Action == ""
	set(h.refundBtn, approved && (sale || it.Result.Action == "complete"))
	set(h.voidBtn, approved && it.Result.Action != "void" && it.Result.Action != "refund" && it.Result.Action != "avsonly")
	set(h.completeBt, approved && it.Result.Action == "authonly")
	set(h.tipBtn, approved && (it.Result.Action == "sale" || it.Result.Action == ""))
	set(h.incrementBtn, approved && it.Result.Action == "authonly")
	set(h.reduceBtn, approved && (sale || it.Result.Action == "authonly"))
}

func historyState(it HistoryItem) string {
	switch {
	case it.State == "sending":
		return "SENDING"
	case it.Resolving():
		return "RESOLVING"
	}
	return strings.ToUpper(string(it.Result.Outcome))
}

func historyLine(it HistoryItem) string {
	r := it.Result
	parts := []string{}
	if !r.Updated.IsZero() {
		parts = append(parts, r.Updated.Local().Format("01-02 15:04"))
	}
	parts = append(parts, historyState(it))
	if r.Action != "" && r.Action != "sale" {
		parts = append(parts, r.Action)
	}
	if r.Amount != "" {
		parts = append(parts, "$"+r.Amount)
	}
	if l4 := lastFourOf(r); l4 != "" {
		parts = append(parts, brandName(r.Brand)+" "+l4)
	}
	return safeText(strings.Join(parts, "  "))
}

func historyDetail(it HistoryItem) string {
	r := it.Result
	var b strings.Builder
	b.WriteString(historyState(it) + "\n")
	if it.Resolving() {
		b.WriteString("The gateway has not confirmed this sale yet. The agent looks it up by its id and never sends it twice; do not charge the customer again.\n")
	}
	kv := func(k, v string) {
		if v != "" {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	if !r.Updated.IsZero() {
		kv("Time", r.Updated.Local().Format("2006-01-02 15:04:05"))
	}
	kv("Action", r.Action)
	if r.Amount != "" {
		kv("Amount", "$"+r.Amount)
	}
	kv("Card", cardLine(r.Brand, r.MaskedPAN, r.LastFour, r.EntryMode))
	kv("Auth code", r.AuthCode)
	kv("AVS", r.AVS)
	kv("Transaction", r.TransactionID)
	kv("Sale id", it.SaleID)
	kv("Status", idText(r.StatusID))
	kv("Reason", idText(r.ReasonCodeID))
	kv("Gateway says", r.Verbiage)
	kv("Note", r.Error)
	if e := emvLine(r.Receipt); e != "" {
		kv("EMV", e)
	}
	return b.String()
}
