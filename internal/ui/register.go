//go:build !headless

package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
)

// SimCards are the demo buttons: a brand (the simulated reader makes up a
// fresh test number of it, so the window never holds a card number) and an
// entry mode.
var SimCards = []struct {
	Label, PAN, EntryMode string
}{
	{"Visa swipe", "visa", "S"},
	{"Mastercard chip", "mc", "C"},
	{"Visa tap", "visa", "P"},
	{"Discover swipe", "disc", "S"},
}

// register is the main screen: status, amount keypad, actions, prompt and
// result.
type register struct {
	u *UI

	content fyne.CanvasObject

	readers *widget.Label
	gateway *widget.Label
	paused  *widget.Label
	warning *widget.Label

	amount   *widget.Entry
	amountOK *widget.Label // inline amount problem

	saleBtn, authBtn, refundBtn, voidBtn, cancelBtn *widget.Button
	// forceBtn and verifyBtn start a force and an avsonly (actions.go).
	forceBtn, verifyBtn *widget.Button

	prompt *widget.Label
	// progress is in progressSlot only while a sale runs: fyne's infinite
	// progress bar starts its animation whenever its renderer is made,
	// hidden or not, and a hidden one then ticks sixty times a second for
	// as long as the window is open.
	progress     *widget.ProgressBarInfinite
	progressSlot *fyne.Container

	outcome    *widget.Label
	card       *widget.Label
	details    *widget.Label
	emv        *widget.Label
	receiptBtn *widget.Button
	simBox     *fyne.Container
	// right is the status/prompt/result column; it is refreshed after
	// widgets in it are shown or hidden so the column lays out again.
	right *fyne.Container

	current    string // id of the sale in progress, "" when idle
	lastCard   *sale.Card
	lastResult *sale.Result

	// The sale's optional fields (order number, what the merchant
	// account's settings require), in the "Sale details" section, which
	// opens by itself when the settings require any.
	extras     map[string]*widget.Entry // by protocol name
	extrasBox  *widget.Accordion
	requires   *widget.Label
	requireSig string // the SaleRequires last shown

	// The follow-up dialog's entries, kept for tests.
	followTxn, followAmount *widget.Entry
	followDialog            dialog.Dialog
	// The force / verify dialog's entries, kept for tests.
	authCode, billingZip, billingStreet *widget.Entry
}

func newRegister(u *UI) *register {
	r := &register{u: u}

	r.readers = widget.NewLabel("Looking for card readers…")
	r.readers.Wrapping = fyne.TextWrapWord
	r.gateway = widget.NewLabel("")
	r.gateway.Wrapping = fyne.TextWrapWord
	r.paused = widget.NewLabel("Paused: new sales are refused until you resume from the tray menu.")
	r.paused.Importance = widget.WarningImportance
	r.paused.Hide()
	r.warning = widget.NewLabel("")
	r.warning.Importance = widget.WarningImportance
	r.warning.Wrapping = fyne.TextWrapWord
	r.warning.Hide()

	r.amount = widget.NewEntry()
	r.amount.SetPlaceHolder("0.00")
	r.amount.TextStyle = fyne.TextStyle{Monospace: true}
	r.amount.OnSubmitted = func(string) { r.startSale("sale") }
	r.amountOK = widget.NewLabel("")
	r.amountOK.Importance = widget.DangerImportance
	r.amountOK.Hide()

	keys := container.NewGridWithColumns(3)
	for _, k := range []string{"7", "8", "9", "4", "5", "6", "1", "2", "3", "00", "0", "."} {
		keys.Add(widget.NewButton(k, func() { r.press(k) }))
	}
	keys.Add(widget.NewButtonWithIcon("Clear", theme.ContentClearIcon(), func() { r.amount.SetText("") }))
	keys.Add(layout.NewSpacer())
	keys.Add(widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { r.press("⌫") }))

	r.saleBtn = widget.NewButtonWithIcon("Sale", theme.ConfirmIcon(), func() { r.startSale("sale") })
	r.saleBtn.Importance = widget.HighImportance
	r.authBtn = widget.NewButton("Auth", func() { r.startSale("authonly") })
	r.refundBtn = widget.NewButton("Refund", func() { r.askFollowUp("refund", r.lastTxn(), r.amount.Text) })
	r.voidBtn = widget.NewButton("Void", func() { r.askFollowUp("void", r.lastTxn(), "") })
	r.forceBtn = widget.NewButton("Force", r.askForce)
	r.verifyBtn = widget.NewButton("Verify card", r.askVerify)
	r.cancelBtn = widget.NewButtonWithIcon("Cancel sale", theme.CancelIcon(), r.cancel)
	r.cancelBtn.Importance = widget.DangerImportance
	r.cancelBtn.Disable()

	left := container.NewVBox(
		widget.NewLabelWithStyle("Amount ($)", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		r.amount, r.amountOK, keys,
		container.NewGridWithColumns(2, r.saleBtn, r.authBtn, r.refundBtn, r.voidBtn, r.forceBtn, r.verifyBtn),
		r.cancelBtn,
		r.newExtras(),
	)

	r.prompt = widget.NewLabel("Ready. Enter an amount and press Sale.")
	r.prompt.TextStyle = fyne.TextStyle{Bold: true}
	r.prompt.SizeName = theme.SizeNameSubHeadingText
	r.prompt.Wrapping = fyne.TextWrapWord
	r.progressSlot = container.NewStack()

	r.outcome = widget.NewLabel("")
	r.outcome.SizeName = theme.SizeNameHeadingText
	r.outcome.TextStyle = fyne.TextStyle{Bold: true}
	r.card = widget.NewLabel("")
	r.details = widget.NewLabel("")
	r.details.Wrapping = fyne.TextWrapWord
	r.emv = widget.NewLabel("")
	r.emv.TextStyle = fyne.TextStyle{Monospace: true}
	r.emv.Wrapping = fyne.TextWrapWord
	r.receiptBtn = widget.NewButtonWithIcon("Receipt", theme.DocumentPrintIcon(), func() {
		if r.lastResult != nil {
			u.showReceipt(*r.lastResult)
		}
	})
	r.receiptBtn.Hide()

	r.simBox = container.NewGridWithColumns(len(SimCards))
	for _, c := range SimCards {
		r.simBox.Add(widget.NewButton(c.Label, func() { r.simulate(c.PAN, c.EntryMode) }))
	}
	simCard := widget.NewCard("", "Demo: simulated cards", r.simBox)
	if u.b.Simulator() == nil {
		simCard.Hide()
	}

	statusCard := widget.NewCard("", "", container.NewVBox(r.readers, r.gateway, r.paused))
	resultBox := container.NewVBox(r.outcome, r.card, r.details, r.emv, container.NewHBox(r.receiptBtn))
	r.right = container.NewVBox(
		statusCard,
		r.warning,
		r.prompt, r.progressSlot,
		widget.NewSeparator(),
		resultBox,
		simCard,
	)
	split := container.NewHSplit(container.NewPadded(left), container.NewVScroll(container.NewPadded(r.right)))
	split.Offset = 0.36
	r.content = split
	return r
}

// press handles one keypad key.
func (r *register) press(k string) {
	t := r.amount.Text
	switch k {
	case "⌫":
		if t != "" {
			_, size := lastRune(t)
			t = t[:len(t)-size]
		}
	case ".":
		if !strings.Contains(t, ".") {
			t += "."
		}
	default:
		// No more than two decimals: a third digit would be refused
		// anyway, better not to let the cashier type it.
		if i := strings.IndexByte(t, '.'); i >= 0 && len(t)-i-1+len(k) > 2 {
			return
		}
		t += k
	}
	r.amount.SetText(t)
	r.amountOK.Hide()
}

func lastRune(s string) (rune, int) {
	rs := []rune(s)
	last := rs[len(rs)-1]
	return last, len(string(last))
}

// errAmount explains an amount the cashier must fix.
var errAmount = errors.New("enter an amount like 12.34")

// normalizeAmount checks a typed amount and returns it with two decimals.
func normalizeAmount(s string) (string, error) {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "$"))
	if s == "" {
		return "", errAmount
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if (whole == "" && frac == "") || len(frac) > 2 || (hasDot && frac == "" && whole == "") {
		return "", errAmount
	}
	for _, c := range whole + frac {
		if !isDigit(c) {
			return "", errAmount
		}
	}
	if whole == "" {
		whole = "0"
	}
	for len(frac) < 2 {
		frac += "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || len(whole) > 7 {
		return "", fmt.Errorf("the amount is too large: %w", errAmount)
	}
	if n == 0 {
		return "", errors.New("the amount must be more than 0.00")
	}
	return fmt.Sprintf("%d.%02d", n/100, n%100), nil
}

// typedAmount is the register's amount in canonical form, written back to
// the field; ok is false when it is not an amount, and the field says why.
func (r *register) typedAmount() (amount string, ok bool) {
	amount, err := normalizeAmount(r.amount.Text)
	if err != nil {
		r.amountOK.SetText(capitalize(err.Error()))
		r.amountOK.Show()
		return "", false
	}
	r.amountOK.Hide()
	r.amount.SetText(amount)
	return amount, true
}

// startSale starts a sale or authorization of the typed amount.
func (r *register) startSale(action string) {
	if r.current != "" {
		return
	}
	amount, ok := r.typedAmount()
	if !ok {
		return
	}
	ctx, cancel := commandContext()
	defer cancel()
	id, err := r.u.b.Sale(ctx, action, amount, r.saleFields())
	if err != nil {
		r.u.log.Warn("sale refused", "action", action, "err", err)
		r.showError("The sale could not start", err)
		return
	}
	// The details belong to this sale: the next one (a new order number,
	// another stay) starts empty.
	for _, e := range r.extras {
		e.SetText("")
	}
	r.clearResult()
	r.setBusy(id, "Starting…", true)
}

// cancel cancels the sale in progress.
func (r *register) cancel() {
	if r.current == "" {
		return
	}
	ctx, done := commandContext()
	defer done()
	if err := r.u.b.Cancel(ctx, r.current); err != nil {
		r.showError("The sale could not be cancelled", err)
	}
}

// lastTxn is the transaction a Refund/Void button offers by default.
func (r *register) lastTxn() string {
	if r.lastResult != nil {
		return r.lastResult.TransactionID
	}
	return ""
}

// askFollowUp asks for the transaction (and amount) of a follow-up and runs
// it.
func (r *register) askFollowUp(action, txn, amount string) {
	r.followTxn = widget.NewEntry()
	r.followTxn.SetText(txn)
	r.followTxn.SetPlaceHolder("transaction id")
	r.followAmount = widget.NewEntry()
	r.followAmount.SetText(amount)
	r.followAmount.SetPlaceHolder("full amount")
	items := []*widget.FormItem{widget.NewFormItem("Transaction", r.followTxn)}
	if action != "void" {
		items = append(items, widget.NewFormItem("Amount", r.followAmount))
	}
	if changesAmount(action) {
		r.followAmount.SetPlaceHolder("new total")
	}
	title := map[string]string{"refund": "Refund", "void": "Void", "complete": "Complete authorization", "tipadjust": "Adjust tip",
		"authincrement": "Increase authorization", "partialreversal": "Reduce amount"}[action]
	d := dialog.NewForm(title, title, "Back", items, func(ok bool) {
		if ok {
			r.followUp(action, r.followTxn.Text, r.followAmount.Text)
		}
	}, r.u.win)
	d.Resize(fyne.NewSize(460, 0))
	r.followDialog = d
	d.Show()
}

// followUp runs a refund/void/complete/tipadjust.
func (r *register) followUp(action, txn, amount string) {
	txn = strings.TrimSpace(txn)
	if txn == "" {
		r.showError("Nothing to "+action, errors.New("choose a transaction from History or enter its id"))
		return
	}
	if action == "void" {
		amount = ""
	} else if strings.TrimSpace(amount) != "" {
		a, err := normalizeAmount(amount)
		if err != nil {
			r.showError("Check the amount", err)
			return
		}
		amount = a
	}
	ctx, cancel := commandContext()
	defer cancel()
	id, err := r.u.b.FollowUp(ctx, action, txn, amount)
	if err != nil {
		r.showError("The "+action+" could not start", err)
		return
	}
	r.clearResult()
	r.setBusy(id, "Processing…", false)
	r.u.tabs.SelectIndex(0)
}

// simulate presents a test card to the simulated reader.
func (r *register) simulate(pan, mode string) {
	sim := r.u.b.Simulator()
	if sim == nil {
		return
	}
	ctx, cancel := commandContext()
	defer cancel()
	if err := sim.Simulate(ctx, pan, mode); err != nil {
		r.showError("The simulated card was not read", err)
	}
}

// setBusy shows a sale in progress.
func (r *register) setBusy(id, prompt string, cancellable bool) {
	r.current = id
	r.prompt.SetText(prompt)
	if r.progress == nil {
		r.progress = widget.NewProgressBarInfinite()
		r.progressSlot.Add(r.progress)
	}
	r.saleBtn.Disable()
	r.authBtn.Disable()
	r.refundBtn.Disable()
	r.voidBtn.Disable()
	r.forceBtn.Disable()
	r.verifyBtn.Disable()
	if cancellable {
		r.cancelBtn.Enable()
	} else {
		r.cancelBtn.Disable()
	}
}

// setIdle ends the busy state.
func (r *register) setIdle() {
	r.current = ""
	if r.progress != nil {
		r.progress.Stop()
		r.progressSlot.RemoveAll()
		r.progress = nil
	}
	r.saleBtn.Enable()
	r.authBtn.Enable()
	r.refundBtn.Enable()
	r.voidBtn.Enable()
	r.forceBtn.Enable()
	r.verifyBtn.Enable()
	r.cancelBtn.Disable()
}

// promptText is what the screen says for a prompt.
func promptText(p sale.Prompt) string {
	switch p {
	case sale.PromptPresentCard:
		return "Swipe, insert or tap card"
	case sale.PromptUseChip:
		return "Use chip: insert the card"
	case sale.PromptRetry:
		return "Card not read. Try again"
	case sale.PromptProcessing:
		return "Processing…"
	case sale.PromptRemoveCard:
		return "Remove card"
	}
	return string(p)
}

// onPrompt shows a prompt of any sale, the window's own or the POS page's.
func (r *register) onPrompt(id string, p sale.Prompt) {
	if r.current != id {
		// A sale started from the POS page: show it too, the cashier
		// is the one who hands the reader to the customer.
		r.clearResult()
	}
	// Once the request is out it can no longer be cancelled.
	r.setBusy(id, promptText(p), p != sale.PromptProcessing && p != sale.PromptRemoveCard)
}

// onCard shows the masked card as soon as it is read.
func (r *register) onCard(_ string, c sale.Card) {
	r.lastCard = &c
	r.card.SetText(safeText(cardLine(string(c.Brand), string(c.MaskedPAN), c.LastFour, string(c.EntryMode))))
}

// onResult shows how a sale ended.
func (r *register) onResult(id string, res sale.Result) {
	if res.MaskedPAN == "" && r.lastCard != nil && (r.current == id || r.current == "") {
		res.MaskedPAN, res.Brand = string(r.lastCard.MaskedPAN), string(r.lastCard.Brand)
		if res.LastFour == "" {
			res.LastFour = r.lastCard.LastFour
		}
	}
	r.setIdle()
	r.lastResult = &res
	r.lastCard = nil
	r.outcome.SetText(outcomeTitle(res))
	r.outcome.Importance = outcomeImportance(res.Outcome)
	r.outcome.Refresh()
	r.prompt.SetText(outcomePrompt(res))
	r.card.SetText(safeText(cardLine(res.Brand, res.MaskedPAN, res.LastFour, res.EntryMode)))
	r.details.SetText(safeText(resultDetails(res)))
	r.emv.SetText(safeText(emvLine(res.Receipt)))
	if res.TransactionID != "" || res.Outcome == sale.OutcomeApproved || res.Outcome == sale.OutcomeDeclined {
		r.receiptBtn.Show()
	} else {
		r.receiptBtn.Hide()
	}
	r.right.Refresh()
}

func (r *register) clearResult() {
	r.outcome.SetText("")
	r.card.SetText("")
	r.details.SetText("")
	r.emv.SetText("")
	r.receiptBtn.Hide()
	r.right.Refresh()
}

func (r *register) warn(msg string) {
	if msg == "" {
		r.warning.Hide()
		r.right.Refresh()
		return
	}
	r.warning.SetText(safeText(msg))
	r.warning.Show()
	r.right.Refresh()
}

func (r *register) showError(title string, err error) {
	var ve *ValidationError
	msg := err.Error()
	if errors.As(err, &ve) && len(ve.Problems) > 0 {
		msg = ve.Problems[0].Message
	}
	r.warn(title + ": " + msg)
}

// showStatus paints the reader and gateway lines.
func (r *register) showStatus(st Status) {
	r.readers.SetText(safeText(readersText(st.Readers)))
	switch {
	case len(st.Readers) == 0:
		r.readers.Importance = widget.DangerImportance
	case anyReady(st.Readers):
		r.readers.Importance = widget.MediumImportance
	default:
		r.readers.Importance = widget.DangerImportance
	}
	r.readers.Refresh()
	r.gateway.SetText(safeText(gatewayText(st.Gateway)))
	if st.Gateway.Reachable {
		r.gateway.Importance = widget.MediumImportance
	} else {
		r.gateway.Importance = widget.DangerImportance
	}
	r.gateway.Refresh()
	r.showRequires(st.SaleRequires)
	if st.Paused != r.paused.Visible() {
		if st.Paused {
			r.paused.Show()
		} else {
			r.paused.Hide()
		}
		r.right.Refresh()
	}
}

func anyReady(rs []sale.Reader) bool {
	for _, rd := range rs {
		if rd.Status == sale.ReaderOK {
			return true
		}
	}
	return false
}

func readersText(rs []sale.Reader) string {
	if len(rs) == 0 {
		return "No card reader found. Plug in the reader, or check the reader choice in Settings."
	}
	lines := make([]string, 0, len(rs))
	for _, rd := range rs {
		name := strings.TrimSpace(rd.Device.Model)
		if name == "" {
			name = "Card reader"
		}
		if rd.Device.Serial != "" {
			name += " · SN " + rd.Device.Serial
		}
		if rd.Device.Transport != "" {
			name += " (" + rd.Device.Transport + ")"
		}
		switch rd.Status {
		case sale.ReaderOK:
			lines = append(lines, name+": connected")
		case sale.ReaderDetached:
			lines = append(lines, name+": unplugged. Plug it back in.")
		default:
			fix := rd.Detail
			if fix == "" {
				fix = "not working. Unplug it and plug it back in."
			}
			lines = append(lines, name+": "+fix)
		}
	}
	return strings.Join(lines, "\n")
}

func gatewayName(kind string) string {
	switch kind {
	case "paya":
		return "Paya Connect"
	case "paidyet":
		return "PaidYET"
	case "sandbox":
		return "Sandbox (test gateway, no real money)"
	case "":
		return "No gateway configured"
	}
	return kind
}

func gatewayText(g Gateway) string {
	s := "Gateway: " + gatewayName(g.Kind)
	if g.URL != "" {
		s += " · " + g.URL
	}
	if g.Reachable {
		return s + ": reachable"
	}
	if g.Detail != "" {
		return s + ": not reachable (" + g.Detail + ")"
	}
	return s + ": not reachable. Check the network and the gateway address in Settings."
}

func brandName(b string) string {
	switch strings.ToLower(b) {
	case "visa":
		return "Visa"
	case "mc", "mastercard":
		return "Mastercard"
	case "amex":
		return "American Express"
	case "disc", "discover":
		return "Discover"
	case "":
		return "Card"
	}
	return b
}

func entryName(m string) string {
	switch m {
	case "S":
		return "swiped"
	case "C":
		return "chip"
	case "P":
		return "tapped"
	case "F":
		return "fallback swipe"
	case "K":
		return "keyed"
	}
	return m
}

func cardLine(brand, masked, last4, mode string) string {
	if masked == "" && last4 == "" {
		return ""
	}
	num := masked
	if num == "" {
		num = "•••• " + last4
	}
	s := brandName(brand) + " " + num
	if e := entryName(mode); e != "" {
		s += " (" + e + ")"
	}
	return s
}

func outcomeTitle(res sale.Result) string {
	switch res.Outcome {
	case sale.OutcomeApproved:
		return "APPROVED"
	case sale.OutcomeDeclined:
		return "DECLINED"
	case sale.OutcomeCancelled:
		return "CANCELLED"
	case sale.OutcomeUnknown:
		return "CHECKING WITH THE GATEWAY"
	}
	return "ERROR"
}

func outcomeImportance(o sale.Outcome) widget.Importance {
	switch o {
	case sale.OutcomeApproved:
		return widget.SuccessImportance
	case sale.OutcomeDeclined, sale.OutcomeError:
		return widget.DangerImportance
	case sale.OutcomeUnknown:
		return widget.WarningImportance
	}
	return widget.MediumImportance
}

func outcomePrompt(res sale.Result) string {
	switch res.Outcome {
	case sale.OutcomeApproved:
		return "Approved. Ready for the next sale."
	case sale.OutcomeDeclined:
		return "Declined. Ask for another card."
	case sale.OutcomeCancelled:
		return "Sale cancelled."
	case sale.OutcomeUnknown:
		return "The gateway did not answer in time. The agent is checking; see History. Do not charge again."
	}
	return "The sale failed. See the message below."
}

func resultDetails(res sale.Result) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+" "+v)
		}
	}
	if res.Amount != "" {
		add("Amount", "$"+res.Amount)
	}
	add("Auth", res.AuthCode)
	add("AVS", res.AVS)
	add("Transaction", res.TransactionID)
	add("Status", idText(res.StatusID))
	add("Reason", idText(res.ReasonCodeID))
	s := strings.Join(parts, " · ")
	for _, m := range []string{res.Verbiage, res.Error} {
		if m != "" {
			s += "\n" + m
		}
	}
	return s
}

func emvLine(rc card.Receipt) string {
	var parts []string
	for _, f := range receiptFields(rc) {
		if f[1] != "" {
			parts = append(parts, f[0]+" "+f[1])
		}
	}
	return strings.Join(parts, "  ")
}

func receiptFields(rc card.Receipt) [][2]string {
	return [][2]string{
		{"APPLAB", rc.APPLAB}, {"APPN", rc.APPN}, {"AID", rc.AID}, {"TVR", rc.TVR},
		{"TSI", rc.TSI}, {"TC", rc.TC}, {"ATC", rc.ATC}, {"CVM", rc.CVM},
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// saleExtras are the optional sale fields the window offers: protocol name
// and label.
var saleExtras = []struct{ name, label, hint string }{
	{"order_num", "Order number", "letters and digits"},
	{"subtotal_amount", "Subtotal", "0.00"},
	{"surcharge_amount", "Surcharge", "0.00"},
	{"tax", "Tax", "0.00"},
	{"checkin_date", "Check-in", "yyyy-mm-dd"},
	{"checkout_date", "Check-out", "yyyy-mm-dd"},
	{"room_rate", "Room rate", "0.00"},
}

// newExtras builds the "Sale details" section.
func (r *register) newExtras() fyne.CanvasObject {
	r.extras = map[string]*widget.Entry{}
	form := widget.NewForm()
	for _, x := range saleExtras {
		e := widget.NewEntry()
		e.SetPlaceHolder(x.hint)
		r.extras[x.name] = e
		form.Append(x.label, e)
	}
	r.requires = widget.NewLabel("")
	r.requires.Wrapping = fyne.TextWrapWord
	r.requires.Importance = widget.WarningImportance
	r.requires.Hide()
	r.extrasBox = widget.NewAccordion(widget.NewAccordionItem("Sale details", container.NewVBox(r.requires, form)))
	return r.extrasBox
}

// saleFields reads the section's entries.
func (r *register) saleFields() SaleFields {
	v := func(name string) string { return strings.TrimSpace(r.extras[name].Text) }
	return SaleFields{OrderNum: v("order_num"), SubtotalAmount: v("subtotal_amount"), SurchargeAmount: v("surcharge_amount"),
		Tax: v("tax"), CheckinDate: v("checkin_date"), CheckoutDate: v("checkout_date"), RoomRate: v("room_rate")}
}

// showRequires says which details the merchant account's settings require
// and opens the section when there are any.
func (r *register) showRequires(fields []string) {
	sig := strings.Join(fields, ",")
	if sig == r.requireSig {
		return
	}
	r.requireSig = sig
	if len(fields) == 0 {
		r.requires.Hide()
		return
	}
	labels := make([]string, 0, len(fields))
	for _, f := range fields {
		for _, x := range saleExtras {
			if x.name == f {
				labels = append(labels, x.label)
			}
		}
	}
	r.requires.SetText("This merchant account needs with every sale: " + strings.Join(labels, ", ") + ".")
	r.requires.Show()
	r.extrasBox.Open(0)
}

// idText is a gateway's numeric id as the window shows it: nothing for 0
// (not given).
func idText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
