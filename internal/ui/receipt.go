//go:build !headless

package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/posagent/posagent/internal/sale"
)

// receiptWidth is the column count of a 58 mm thermal printer.
const receiptWidth = 32

// receiptText renders a result as a plain-text receipt: what a thermal
// printer or a file gets. Chip receipts carry the EMV fields card brands
// require (AID, application label, TVR, TSI, TC, CVM).
func receiptText(res sale.Result, title string) string {
	var b strings.Builder
	center := func(s string) {
		pad := max(0, (receiptWidth-len([]rune(s)))/2)
		b.WriteString(strings.Repeat(" ", pad) + s + "\n")
	}
	line := func(k, v string) {
		if v == "" {
			return
		}
		gap := max(1, receiptWidth-len([]rune(k))-len([]rune(v)))
		b.WriteString(k + strings.Repeat(" ", gap) + v + "\n")
	}
	rule := strings.Repeat("-", receiptWidth) + "\n"
	center(title)
	when := res.Updated
	if when.IsZero() {
		when = time.Now()
	}
	center(when.Format("2006-01-02 15:04:05"))
	b.WriteString(rule)
	action := strings.ToUpper(res.Action)
	if action == "" || action == "AUTHONLY" {
		action = map[bool]string{true: "AUTH ONLY", false: "SALE"}[res.Action == "authonly"]
	}
	line(action, "")
	if res.Amount != "" {
		line("AMOUNT", "$"+res.Amount)
	}
	line("CARD", strings.TrimSpace(brandName(res.Brand)+" "+lastFourOf(res)))
	line("ENTRY", strings.ToUpper(entryName(res.EntryMode)))
	line("AUTH CODE", res.AuthCode)
	line("TRANS ID", res.TransactionID)
	for _, f := range receiptFields(res.Receipt) {
		line(f[0], f[1])
	}
	b.WriteString(rule)
	center(outcomeTitle(res))
	if res.Verbiage != "" && !strings.EqualFold(res.Verbiage, outcomeTitle(res)) {
		center(res.Verbiage)
	}
	if res.Outcome == sale.OutcomeApproved && res.Action != "refund" && res.Action != "void" {
		b.WriteString("\n\n" + strings.Repeat("_", receiptWidth) + "\n")
		center("SIGNATURE")
	}
	center("CUSTOMER COPY")
	return safeText(b.String())
}

// lastFourOf prints the card as "****1234": a receipt carries the last
// four digits only.
func lastFourOf(res sale.Result) string {
	l4 := res.LastFour
	if l4 == "" && len(res.MaskedPAN) >= 4 {
		l4 = res.MaskedPAN[len(res.MaskedPAN)-4:]
	}
	if l4 == "" {
		return ""
	}
	return "****" + l4
}

// showReceipt opens the printable receipt in a dialog with Copy and Save.
func (u *UI) showReceipt(res sale.Result) {
	text := receiptText(res, u.opts.Title)
	body := widget.NewLabel(text)
	body.TextStyle = fyne.TextStyle{Monospace: true}
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(text)
	})
	saveBtn := widget.NewButtonWithIcon("Save to file…", theme.DocumentSaveIcon(), func() {
		u.saveReceipt(text, res)
	})
	content := container.NewBorder(nil, container.NewHBox(copyBtn, saveBtn), nil, nil, container.NewVScroll(body))
	d := dialog.NewCustom("Receipt", "Close", content, u.win)
	d.Resize(fyne.NewSize(420, 540))
	d.Show()
}

// saveReceipt asks where to write the receipt, for printing from another
// program (many counter PCs print through a PDF or text spooler).
func (u *UI) saveReceipt(text string, res sale.Result) {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		defer w.Close()
		if _, err := w.Write([]byte(text)); err != nil {
			u.reg.showError("The receipt was not saved", fmt.Errorf("write %s: %w", w.URI(), err))
		}
	}, u.win)
	name := "receipt.txt"
	if res.TransactionID != "" {
		name = "receipt-" + res.TransactionID + ".txt"
	}
	d.SetFileName(name)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".txt"}))
	d.Show()
}
