//go:build !headless

package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/posagent/posagent/internal/sale"
)

// Harness exposes the window's widgets to the external tests.
type Harness struct {
	U *UI
	W fyne.Window
}

// NewHarness builds the window in a (a test app) and starts its event pump.
func NewHarness(a fyne.App, b Backend) *Harness {
	u := New(b, Options{Title: "posagent test"})
	w := u.build(a)
	u.start(context.Background())
	return &Harness{U: u, W: w}
}

// ProgressShown reports whether the sale's progress bar is in the window,
// visible and animating.
func (h *Harness) ProgressShown() bool {
	p := h.U.reg.progress
	return p != nil && p.Visible() && p.Running()
}

// Animating reports whether any infinite progress bar in the window's
// content runs its animation.
func (h *Harness) Animating() bool {
	found := false
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.ProgressBarInfinite:
			found = found || o.Running()
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		}
		if w, ok := o.(fyne.Widget); ok {
			if _, isBar := o.(*widget.ProgressBarInfinite); !isBar {
				for _, c := range test.WidgetRenderer(w).Objects() {
					walk(c)
				}
			}
		}
	}
	walk(h.W.Content())
	return found
}

// Handled is the number of events the window has applied.
func (h *Harness) Handled() int64 { return h.U.handled.Load() }

// Close stops the event pump.
func (h *Harness) Close() { h.U.shutdown() }

func (h *Harness) Amount() *widget.Entry { return h.U.reg.amount }

// Extra is the "Sale details" entry of a protocol field (order_num, …).
func (h *Harness) Extra(name string) *widget.Entry { return h.U.reg.extras[name] }

// Requires is the line naming what the merchant settings require.
func (h *Harness) Requires() *widget.Label       { return h.U.reg.requires }
func (h *Harness) AmountError() *widget.Label    { return h.U.reg.amountOK }
func (h *Harness) Sale() *widget.Button          { return h.U.reg.saleBtn }
func (h *Harness) Auth() *widget.Button          { return h.U.reg.authBtn }
func (h *Harness) Refund() *widget.Button        { return h.U.reg.refundBtn }
func (h *Harness) Void() *widget.Button          { return h.U.reg.voidBtn }
func (h *Harness) Cancel() *widget.Button        { return h.U.reg.cancelBtn }
func (h *Harness) Prompt() *widget.Label         { return h.U.reg.prompt }
func (h *Harness) Outcome() *widget.Label        { return h.U.reg.outcome }
func (h *Harness) Card() *widget.Label           { return h.U.reg.card }
func (h *Harness) Details() *widget.Label        { return h.U.reg.details }
func (h *Harness) EMV() *widget.Label            { return h.U.reg.emv }
func (h *Harness) ReceiptButton() *widget.Button { return h.U.reg.receiptBtn }
func (h *Harness) Readers() *widget.Label        { return h.U.reg.readers }
func (h *Harness) Gateway() *widget.Label        { return h.U.reg.gateway }
func (h *Harness) Warning() *widget.Label        { return h.U.reg.warning }
func (h *Harness) SimBox() *fyne.Container       { return h.U.reg.simBox }
func (h *Harness) FollowTxn() *widget.Entry      { return h.U.reg.followTxn }
func (h *Harness) FollowAmount() *widget.Entry   { return h.U.reg.followAmount }

func (h *Harness) SelectTab(i int)                    { h.U.tabs.SelectIndex(i) }
func (h *Harness) Tabs() fyne.CanvasObject            { return h.U.tabs }
func (h *Harness) RegisterContent() fyne.CanvasObject { return h.U.reg.content }
func (h *Harness) HistoryContent() fyne.CanvasObject  { return h.U.hist.content }
func (h *Harness) SettingsContent() fyne.CanvasObject { return h.U.sett.content }

func (h *Harness) HistorySearch() *widget.Entry    { return h.U.hist.search }
func (h *Harness) HistoryLen() int                 { return len(h.U.hist.items) }
func (h *Harness) HistoryList() *widget.List       { return h.U.hist.list }
func (h *Harness) HistoryDetail() *widget.Label    { return h.U.hist.detail }
func (h *Harness) HistoryRefund() *widget.Button   { return h.U.hist.refundBtn }
func (h *Harness) HistoryVoid() *widget.Button     { return h.U.hist.voidBtn }
func (h *Harness) HistoryComplete() *widget.Button { return h.U.hist.completeBt }
func (h *Harness) HistoryOlder() *widget.Button    { return h.U.hist.older }

// HistoryIDs lists the sale ids the history list holds, in order.
func (h *Harness) HistoryIDs() []string {
	ids := make([]string, len(h.U.hist.items))
	for i, it := range h.U.hist.items {
		ids[i] = it.SaleID
	}
	return ids
}

func (h *Harness) SettingsURL() *widget.Entry                { return h.U.sett.url }
func (h *Harness) SettingsAPIKey() *widget.Entry             { return h.U.sett.apiKey }
func (h *Harness) SettingsAPIKeyState() *widget.Label        { return h.U.sett.apiKeyState }
func (h *Harness) SettingsKind() *widget.Select              { return h.U.sett.kind }
func (h *Harness) SettingsSave() *widget.Button              { return h.U.sett.saveBtn }
func (h *Harness) SettingsMessage() *widget.Label            { return h.U.sett.formMsg }
func (h *Harness) SettingsFieldError(f string) *widget.Label { return h.U.sett.errs[f] }
func (h *Harness) SettingsLoad()                             { h.U.sett.load() }
func (h *Harness) SettingsDiscover() *widget.Button          { return h.U.sett.discoverBtn }
func (h *Harness) Paired() *fyne.Container                   { return h.U.sett.paired }

func SafeText(s string) string { return safeText(s) }

// NormalizeAmount exposes the amount check.
func NormalizeAmount(s string) (string, error) { return normalizeAmount(s) }

// ReceiptText exposes the receipt renderer.
func ReceiptText(r sale.Result) string { return receiptText(r, "posagent") }

// TrayState is what the desktop offers the tray icon, for SetTray.
type TrayState = trayState

const (
	TrayNone   = trayNone
	TrayHidden = trayHidden
	TrayShown  = trayShown
)

// SetTray makes the desktop report st until the returned func restores
// the real probe.
func SetTray(st trayState) (restore func()) {
	old := probeTray
	probeTray = func(context.Context) (trayState, error) { return st, nil }
	return func() { probeTray = old }
}

// RequestClose is the window's close button.
func (h *Harness) RequestClose() { h.U.onClose() }

func (h *Harness) Force() *widget.Button           { return h.U.reg.forceBtn }
func (h *Harness) Verify() *widget.Button          { return h.U.reg.verifyBtn }
func (h *Harness) AuthCode() *widget.Entry         { return h.U.reg.authCode }
func (h *Harness) BillingZip() *widget.Entry       { return h.U.reg.billingZip }
func (h *Harness) BillingStreet() *widget.Entry    { return h.U.reg.billingStreet }
func (h *Harness) HistoryIncrease() *widget.Button { return h.U.hist.incrementBtn }
func (h *Harness) HistoryReduce() *widget.Button   { return h.U.hist.reduceBtn }
func (h *Harness) HistoryTip() *widget.Button      { return h.U.hist.tipBtn }
