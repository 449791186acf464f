//go:build !headless

package ui_test

import (
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/ui"
	"github.com/posagent/posagent/internal/ui/uitest"
)

// maskedMC is a Mastercard test number as the agent shows it.
const maskedMC = "541333******0254"

func setup(t *testing.T) (*ui.Harness, *uitest.Backend) {
	t.Helper()
	a := test.NewApp()
	b := uitest.New()
	b.Simulated = true
	var h *ui.Harness
	fyne.DoAndWait(func() { h = ui.NewHarness(a, b) })
	t.Cleanup(func() {
		h.Close()
		a.Quit()
	})
	return h, b
}

// eventually waits until the window has applied every event b emitted
// (they arrive through the window's own goroutine, and the test driver runs
// fyne.Do on it without a lock, so a half-applied event must not be read),
// then polls cond.
func eventually(t *testing.T, h *ui.Harness, b *uitest.Backend, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for h.Handled() < b.Emitted() {
		if time.Now().After(deadline) {
			t.Fatalf("window applied %d of %d events waiting for %s", h.Handled(), b.Emitted(), what)
		}
		time.Sleep(time.Millisecond)
	}
	for time.Now().Before(deadline) {
		ok := false
		fyne.DoAndWait(func() { ok = cond() })
		if ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// walk visits o and everything it renders.
func walk(o fyne.CanvasObject, visit func(fyne.CanvasObject)) {
	if o == nil {
		return
	}
	visit(o)
	switch v := o.(type) {
	case *fyne.Container:
		for _, c := range v.Objects {
			walk(c, visit)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(v).Objects() {
			walk(c, visit)
		}
	}
}

// allTexts is every string painted in the window and its overlays
// (dialogs), visible or not: hidden text must be safe too.
func allTexts(w fyne.Window) []string {
	var out []string
	visit := func(o fyne.CanvasObject) {
		switch v := o.(type) {
		case *canvas.Text:
			out = append(out, v.Text)
		case *widget.Label:
			out = append(out, v.Text)
		case *widget.Entry:
			if !v.Password {
				out = append(out, v.Text)
			}
		}
	}
	walk(w.Content(), visit)
	for _, ov := range w.Canvas().Overlays().List() {
		walk(ov, visit)
	}
	return out
}

// button finds a visible button labelled text in the top overlay (a
// dialog) or, without one, in the window.
func button(t *testing.T, w fyne.Window, text string) *widget.Button {
	t.Helper()
	var found *widget.Button
	root := w.Content()
	if top := w.Canvas().Overlays().Top(); top != nil {
		root = top
	}
	walk(root, func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == text && b.Visible() && found == nil {
			found = b
		}
	})
	if found == nil {
		t.Fatalf("no button %q", text)
	}
	return found
}

func approved() *sale.Result {
	return &sale.Result{
		Outcome: sale.OutcomeApproved, Action: "sale", TransactionID: "11ee0a1b2c3d4e5f6a7b8c9d", StatusID: 101,
		AuthCode: "A1B2C3", Amount: "12.34", EntryMode: "C", Brand: "mc", MaskedPAN: maskedMC, LastFour: "0254",
		Verbiage: "APPROVED",
		Receipt: card.Receipt{TC: "8A1B2C3D4E5F6071", TVR: "0000008000", AID: "A0000000041010", TSI: "E800",
			ATC: "0012", APPLAB: "MASTERCARD", APPN: "Debit Mastercard", CVM: "1E0300"},
	}
}

// An idle window animates nothing: fyne's infinite progress bar starts its
// animation whenever its renderer is made, hidden or not, and it would tick
// sixty times a second all day at an idle counter.
func TestIdleWindowDoesNotAnimate(t *testing.T) {
	h, b := setup(t)
	fyne.DoAndWait(func() {
		h.W.Resize(fyne.NewSize(1024, 600))
		h.W.Canvas().Refresh(h.W.Content())
	})
	busy := func() bool { return h.Animating() }
	ok := false
	fyne.DoAndWait(func() { ok = !busy() })
	if !ok {
		t.Fatal("the idle window runs a progress animation")
	}
	// A sale shows and animates it; its end stops it again.
	fyne.DoAndWait(func() {
		test.Type(h.Amount(), "3")
		test.Tap(h.Sale())
	})
	id := b.Calls()[0].ID
	b.Emit(ui.Event{Kind: ui.EventPrompt, SaleID: id, Prompt: sale.PromptPresentCard})
	eventually(t, h, b, "progress during the sale", busy)
	b.Emit(ui.Event{Kind: ui.EventResult, SaleID: id, Result: approved()})
	eventually(t, h, b, "result", func() bool { return h.Outcome().Text == "APPROVED" })
	fyne.DoAndWait(func() { ok = !busy() })
	if !ok {
		t.Error("the progress animation runs on after the sale")
	}
}

func TestSaleFlows(t *testing.T) {
	cases := []struct {
		name     string
		typed    string // typed amount
		action   func(h *ui.Harness) *widget.Button
		wantAct  string
		cancel   bool
		result   sale.Result
		outcome  string
		wantCard bool
		receipt  bool
	}{
		{name: "approved", typed: "12.34", action: (*ui.Harness).Sale, wantAct: "sale", result: *approved(),
			outcome: "APPROVED", wantCard: true, receipt: true},
		{name: "declined", typed: "5", action: (*ui.Harness).Auth, wantAct: "authonly",
			result:  sale.Result{Outcome: sale.OutcomeDeclined, Action: "authonly", TransactionID: "11eedecl", StatusID: 301, ReasonCodeID: 1000, Amount: "5.00", Verbiage: "DECLINED", EntryMode: "S", Brand: "mc", MaskedPAN: maskedMC, LastFour: "0254"},
			outcome: "DECLINED", wantCard: true, receipt: true},
		{name: "cancelled", typed: "7.50", action: (*ui.Harness).Sale, wantAct: "sale", cancel: true,
			result: sale.Result{Outcome: sale.OutcomeCancelled, Action: "sale", Error: "cancelled by the cashier"}, outcome: "CANCELLED"},
		{name: "unknown", typed: "20", action: (*ui.Harness).Sale, wantAct: "sale",
			result: sale.Result{Outcome: sale.OutcomeUnknown, Action: "sale", Amount: "20.00", Error: "gateway timeout; resolving by lookup"}, outcome: "CHECKING WITH THE GATEWAY",
			wantCard: true}, // the card event's masked number stays on screen
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, b := setup(t)
			fyne.DoAndWait(func() {
				test.Type(h.Amount(), tc.typed)
				test.Tap(tc.action(h))
			})
			calls := b.Calls()
			if len(calls) != 1 || calls[0].Method != "Sale" || calls[0].Action != tc.wantAct {
				t.Fatalf("calls = %+v, want one Sale %s", calls, tc.wantAct)
			}
			id := calls[0].ID
			want, _ := ui.NormalizeAmount(tc.typed)
			if calls[0].Amount != want {
				t.Errorf("amount sent = %q, want %q", calls[0].Amount, want)
			}
			if !h.Sale().Disabled() {
				t.Error("Sale stays enabled while a sale runs")
			}

			b.Emit(ui.Event{Kind: ui.EventPrompt, SaleID: id, Prompt: sale.PromptPresentCard})
			eventually(t, h, b, "present card prompt", func() bool { return h.Prompt().Text == "Swipe, insert or tap card" })
			if !h.ProgressShown() || h.Cancel().Disabled() {
				t.Error("while waiting for a card the progress shows and Cancel is enabled")
			}
			if tc.cancel {
				fyne.DoAndWait(func() { test.Tap(h.Cancel()) })
				if c := b.Calls(); c[len(c)-1].Method != "Cancel" || c[len(c)-1].ID != id {
					t.Fatalf("Cancel tap sent %+v", c[len(c)-1])
				}
			} else {
				b.Emit(ui.Event{Kind: ui.EventCard, SaleID: id, Card: &sale.Card{EntryMode: "C", Brand: "mc", MaskedPAN: maskedMC, LastFour: "0254"}})
				b.Emit(ui.Event{Kind: ui.EventPrompt, SaleID: id, Prompt: sale.PromptProcessing})
				eventually(t, h, b, "processing prompt", func() bool { return h.Prompt().Text == "Processing…" })
				if !h.Cancel().Disabled() {
					t.Error("Cancel must be disabled once the request is out")
				}
			}
			res := tc.result
			b.Emit(ui.Event{Kind: ui.EventResult, SaleID: id, Result: &res})
			eventually(t, h, b, "result", func() bool { return h.Outcome().Text == tc.outcome })

			if h.ProgressShown() || h.Animating() || h.Sale().Disabled() || !h.Cancel().Disabled() {
				t.Error("after the result the window must be idle again")
			}
			if got := strings.Contains(h.Card().Text, maskedMC); got != tc.wantCard {
				t.Errorf("card line %q, masked card shown = %v, want %v", h.Card().Text, got, tc.wantCard)
			}
			if tc.result.AuthCode != "" && !strings.Contains(h.Details().Text, "Auth "+tc.result.AuthCode) {
				t.Errorf("details %q miss the auth code", h.Details().Text)
			}
			if tc.result.Receipt.AID != "" && !strings.Contains(h.EMV().Text, "AID "+tc.result.Receipt.AID) {
				t.Errorf("EMV line %q misses the AID", h.EMV().Text)
			}
			if h.ReceiptButton().Visible() != tc.receipt {
				t.Errorf("receipt button visible = %v, want %v", h.ReceiptButton().Visible(), tc.receipt)
			}
			assertNoClearPAN(t, h.W)
			if tc.name == "approved" {
				capture(t, h.W, "main-approved.png")
				// The receipt dialog opens and carries the EMV fields.
				fyne.DoAndWait(func() { test.Tap(h.ReceiptButton()) })
				found := false
				for _, s := range allTexts(h.W) {
					if strings.Contains(s, "TVR") && strings.Contains(s, "****0254") && strings.Contains(s, "APPROVED") {
						found = true
					}
				}
				if !found {
					t.Error("receipt dialog does not show the receipt")
				}
				capture(t, h.W, "receipt.png")
				fyne.DoAndWait(func() { test.Tap(button(t, h.W, "Copy")) })
				if got := fyne.CurrentApp().Clipboard().Content(); !strings.Contains(got, "AUTH CODE") {
					t.Errorf("clipboard after Copy = %q", got)
				}
				assertNoClearPAN(t, h.W)
			}
		})
	}
}

func TestAmountValidation(t *testing.T) {
	h, b := setup(t)
	fyne.DoAndWait(func() {
		test.Type(h.Amount(), "12.3.4")
		test.Tap(h.Sale())
	})
	if len(b.Calls()) != 0 {
		t.Fatalf("an invalid amount reached the backend: %+v", b.Calls())
	}
	if !h.AmountError().Visible() || !strings.Contains(h.AmountError().Text, "12.34") {
		t.Errorf("amount error %q (visible %v)", h.AmountError().Text, h.AmountError().Visible())
	}
}

func TestKeypad(t *testing.T) {
	h, _ := setup(t)
	for _, k := range []string{"1", "2", ".", "3", "4", "5"} { // the 5 is a third decimal: ignored
		fyne.DoAndWait(func() { test.Tap(button(t, h.W, k)) })
	}
	if got := h.Amount().Text; got != "12.34" {
		t.Errorf("keypad typed %q, want 12.34", got)
	}
}

func TestSaleRefusedShowsWhy(t *testing.T) {
	h, b := setup(t)
	b.SaleErr = errors.New("sales are paused")
	fyne.DoAndWait(func() {
		test.Type(h.Amount(), "1")
		test.Tap(h.Sale())
	})
	if !h.Warning().Visible() || !strings.Contains(h.Warning().Text, "sales are paused") {
		t.Errorf("warning %q", h.Warning().Text)
	}
	if h.Sale().Disabled() {
		t.Error("Sale stays disabled after a refused sale")
	}
}

func TestRefundFromRegister(t *testing.T) {
	h, b := setup(t)
	res := approved()
	b.Emit(ui.Event{Kind: ui.EventResult, SaleID: "s9", Result: res})
	eventually(t, h, b, "result", func() bool { return h.Outcome().Text == "APPROVED" })
	fyne.DoAndWait(func() { test.Tap(h.Refund()) })
	if h.FollowTxn().Text != res.TransactionID {
		t.Fatalf("refund dialog offers %q, want the last transaction", h.FollowTxn().Text)
	}
	fyne.DoAndWait(func() {
		h.FollowAmount().SetText("2.5")
		test.Tap(button(t, h.W, "Refund"))
	})
	c := b.Calls()
	if len(c) != 1 || c[0].Method != "FollowUp" || c[0].Action != "refund" || c[0].ID != res.TransactionID || c[0].Amount != "2.50" {
		t.Fatalf("calls = %+v", c)
	}
}

func TestSimulatedCards(t *testing.T) {
	h, b := setup(t)
	if !h.SimBox().Visible() {
		t.Fatal("simulated-card buttons hidden with a simulator")
	}
	fyne.DoAndWait(func() { test.Tap(button(t, h.W, "Mastercard chip")) })
	if c := b.Calls(); len(c) != 1 || c[0].Method != "Simulate" || c[0].EntryMode != "C" {
		t.Fatalf("calls = %+v", c)
	}
	// Without a simulator the buttons are hidden.
	a := test.NewApp()
	defer a.Quit()
	plain := uitest.New()
	var h2 *ui.Harness
	fyne.DoAndWait(func() { h2 = ui.NewHarness(a, plain) })
	defer h2.Close()
	visible := false
	walk(h2.W.Content(), func(o fyne.CanvasObject) {
		if c, ok := o.(*widget.Card); ok && c.Subtitle == "Demo: simulated cards" {
			visible = c.Visible()
		}
	})
	if visible {
		t.Error("simulated-card buttons shown without a simulator")
	}
}

func TestReaderStatus(t *testing.T) {
	h, b := setup(t)
	b.SetStatus(ui.Status{
		Readers: []sale.Reader{
			{Device: card.DeviceInfo{Model: "ID TECH SREDKey 2", Serial: "SK123", Transport: "hid"}, Status: sale.ReaderBroken, Detail: "permission denied: install the udev rules (packaging/linux/99-posagent.rules)"},
		},
		Gateway: ui.Gateway{Kind: "paya", URL: "https://api.sandbox.payaconnect.com", Reachable: false, Detail: "connection refused"},
	})
	b.Emit(ui.Event{Kind: ui.EventReader})
	eventually(t, h, b, "reader status", func() bool { return strings.Contains(h.Readers().Text, "SREDKey") })
	for _, want := range []string{"SN SK123", "install the udev rules"} {
		if !strings.Contains(h.Readers().Text, want) {
			t.Errorf("reader line %q misses %q", h.Readers().Text, want)
		}
	}
	if h.Readers().Importance != widget.DangerImportance {
		t.Error("a broken reader is not shown as a problem")
	}
	if !strings.Contains(h.Gateway().Text, "Paya Connect") || !strings.Contains(h.Gateway().Text, "not reachable (connection refused)") {
		t.Errorf("gateway line %q", h.Gateway().Text)
	}
}

func TestPairingDialog(t *testing.T) {
	const origin = "https://pos.example.com"
	cases := []struct {
		button string
		want   ui.Decision
	}{
		{"Allow once", ui.DecisionOnce},
		{"Always allow", ui.DecisionAlways},
		{"Deny", ui.DecisionDeny},
	}
	for _, tc := range cases {
		t.Run(tc.want.String(), func(t *testing.T) {
			h, b := setup(t)
			type answer struct {
				d   ui.Decision
				err error
			}
			got := make(chan answer, 1)
			go func() {
				d, err := h.U.AskPairing(context.Background(), origin)
				got <- answer{d, err}
			}()
			eventually(t, h, b, "pairing dialog", func() bool { return h.W.Canvas().Overlays().Top() != nil })
			named := false
			for _, s := range allTexts(h.W) {
				named = named || strings.Contains(s, origin)
			}
			if !named {
				t.Error("the dialog does not name the origin")
			}
			fyne.DoAndWait(func() { test.Tap(button(t, h.W, tc.button)) })
			select {
			case a := <-got:
				if a.err != nil || a.d != tc.want {
					t.Fatalf("AskPairing = %v, %v; want %v", a.d, a.err, tc.want)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("AskPairing did not return after the tap")
			}
			if h.W.Canvas().Overlays().Top() != nil {
				t.Error("the dialog stays open after the answer")
			}
		})
	}
	t.Run("context ends", func(t *testing.T) {
		h, b := setup(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		d, err := h.U.AskPairing(ctx, origin)
		if d != ui.DecisionDeny || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("AskPairing = %v, %v; want deny and the deadline", d, err)
		}
		eventually(t, h, b, "dialog closed", func() bool { return h.W.Canvas().Overlays().Top() == nil })
	})
}

func TestSettingsValidation(t *testing.T) {
	h, b := setup(t)
	b.SaveErr = &ui.ValidationError{Problems: []ui.Problem{
		{Field: ui.FieldGatewayURL, Message: "The gateway address must start with https://"},
		{Field: ui.FieldAPIKey, Message: "The API key is missing"},
		{Message: "Choose at least one card reader"},
	}}
	fyne.DoAndWait(func() {
		h.SelectTab(2)
		h.SettingsURL().SetText("http://pay.example.com")
		test.Tap(h.SettingsSave())
	})
	for field, want := range map[string]string{
		ui.FieldGatewayURL: "must start with https://",
		ui.FieldAPIKey:     "API key is missing",
	} {
		l := h.SettingsFieldError(field)
		if !l.Visible() || !strings.Contains(l.Text, want) {
			t.Errorf("%s: inline message %q (visible %v), want %q", field, l.Text, l.Visible(), want)
		}
	}
	if l := h.SettingsFieldError(ui.FieldLocationID); l.Visible() {
		t.Errorf("a field without a problem shows %q", l.Text)
	}
	if m := h.SettingsMessage(); !m.Visible() || !strings.Contains(m.Text, "Choose at least one card reader") {
		t.Errorf("form message %q", m.Text)
	}
	capture(t, h.W, "settings-invalid.png")

	// Fixed: saved, messages gone, the key is stored and never shown.
	b.SaveErr = nil
	fyne.DoAndWait(func() {
		h.SettingsURL().SetText("https://api.sandbox.payaconnect.com")
		test.Type(h.SettingsAPIKey(), "sk_test_secret")
		test.Tap(h.SettingsSave())
	})
	if got := b.LastSaved(); got.GatewayURL != "https://api.sandbox.payaconnect.com" || got.APIKey != "sk_test_secret" {
		t.Errorf("saved %+v", got)
	}
	if h.SettingsFieldError(ui.FieldGatewayURL).Visible() {
		t.Error("the old problem is still shown after a good save")
	}
	if h.SettingsAPIKey().Text != "" || h.SettingsAPIKeyState().Text != "stored" {
		t.Errorf("API key entry %q, state %q; want empty and stored", h.SettingsAPIKey().Text, h.SettingsAPIKeyState().Text)
	}
	for _, s := range allTexts(h.W) {
		if strings.Contains(s, "sk_test_secret") {
			t.Fatalf("the API key is displayed: %q", s)
		}
	}
}

func TestSettingsAPIKeyNotSet(t *testing.T) {
	h, _ := setup(t)
	fyne.DoAndWait(func() { h.SelectTab(2) })
	if got := h.SettingsAPIKeyState().Text; got != "not set" {
		t.Errorf("API key state %q, want not set", got)
	}
	if got := h.SettingsKind().Selected; got != "sandbox" {
		t.Errorf("gateway kind %q, want sandbox", got)
	}
}

func TestPairedOriginsRevoke(t *testing.T) {
	h, b := setup(t)
	b.SetPaired([]string{"https://pos.example.com", "http://localhost:3000"})
	fyne.DoAndWait(func() { h.SelectTab(2) })
	var labels []string
	walk(h.Paired(), func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok {
			labels = append(labels, l.Text)
		}
	})
	if strings.Join(labels, ",") != "https://pos.example.com,http://localhost:3000" {
		t.Fatalf("paired list %v", labels)
	}
	var revoke *widget.Button
	walk(h.Paired(), func(o fyne.CanvasObject) {
		if bt, ok := o.(*widget.Button); ok && revoke == nil {
			revoke = bt
		}
	})
	fyne.DoAndWait(func() { test.Tap(revoke) })
	if got := b.PairedOrigins(); len(got) != 1 || got[0] != "http://localhost:3000" {
		t.Fatalf("after revoke: %v", got)
	}
	if n := len(h.Paired().Objects); n != 1 {
		t.Errorf("list shows %d rows after revoke, want 1", n)
	}
}

func TestHistorySearch(t *testing.T) {
	h, b := setup(t)
	now := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	b.SetHistory([]ui.HistoryItem{
		{SaleID: "s3", State: "unknown", Result: sale.Result{Outcome: sale.OutcomeUnknown, Action: "sale", Amount: "9.99", LastFour: "1111", Brand: "visa", Updated: now}},
		{SaleID: "s2", State: "done", Result: sale.Result{Outcome: sale.OutcomeDeclined, Action: "sale", Amount: "5.00", LastFour: "0011", Brand: "mc", TransactionID: "tx2", Updated: now}},
		{SaleID: "s1", State: "done", Result: *approved()},
	})
	fyne.DoAndWait(func() { h.SelectTab(1) })
	if h.HistoryLen() != 3 {
		t.Fatalf("history shows %d items, want 3", h.HistoryLen())
	}
	cases := []struct {
		query string
		want  int
	}{{"0254", 1}, {"9.99", 1}, {"A1B2C3", 1}, {"nothing", 0}, {"", 3}}
	for _, tc := range cases {
		fyne.DoAndWait(func() { h.HistorySearch().SetText(tc.query) })
		if h.HistoryLen() != tc.want {
			t.Errorf("search %q: %d items, want %d", tc.query, h.HistoryLen(), tc.want)
		}
	}
	// A sale still being resolved says so and offers no follow-up.
	fyne.DoAndWait(func() { h.HistoryList().Select(0) })
	if d := h.HistoryDetail().Text; !strings.Contains(d, "RESOLVING") || !strings.Contains(d, "do not charge the customer again") {
		t.Errorf("detail of an unknown sale: %q", d)
	}
	if !h.HistoryRefund().Disabled() || !h.HistoryVoid().Disabled() {
		t.Error("follow-ups offered on a sale being resolved")
	}
	// An approved sale offers refund and void, not complete.
	fyne.DoAndWait(func() { h.HistoryList().Select(2) })
	if h.HistoryRefund().Disabled() || h.HistoryVoid().Disabled() || !h.HistoryComplete().Disabled() {
		t.Error("approved sale: want refund and void enabled, complete disabled")
	}
	if d := h.HistoryDetail().Text; !strings.Contains(d, maskedMC) || !strings.Contains(d, "A1B2C3") {
		t.Errorf("detail %q", d)
	}
	capture(t, h.W, "history.png")
	fyne.DoAndWait(func() { test.Tap(h.HistoryVoid()) })
	if h.FollowTxn().Text != approved().TransactionID {
		t.Errorf("void dialog offers %q", h.FollowTxn().Text)
	}
	assertNoClearPAN(t, h.W)
}

// TestLayoutFits checks every screen fits the 1024x600 counter display:
// a MinSize larger than the window would clip.
func TestLayoutFits(t *testing.T) {
	h, b := setup(t)
	b.SetHistory([]ui.HistoryItem{{SaleID: "s1", State: "done", Result: *approved()}})
	res := approved()
	b.Emit(ui.Event{Kind: ui.EventResult, SaleID: "s1", Result: res})
	b.Emit(ui.Event{Kind: ui.EventWarning, Message: "Reader SREDKey was unplugged"})
	eventually(t, h, b, "result", func() bool { return h.Outcome().Text == "APPROVED" })
	limit := fyne.NewSize(1024, 600)
	for i, name := range []string{"register", "history", "settings"} {
		fyne.DoAndWait(func() { h.SelectTab(i) })
		min := h.W.Content().MinSize()
		if min.Width > limit.Width || min.Height > limit.Height {
			t.Errorf("%s: MinSize %v does not fit %v", name, min, limit)
		}
	}
	if got := h.W.Canvas().Size(); got.Width < limit.Width || got.Height < limit.Height {
		t.Errorf("window size %v, want at least %v", got, limit)
	}
}

// TestNoClearPAN feeds results whose free text carries a clear card
// number and checks that no label anywhere paints a 13–19 digit run.
func TestNoClearPAN(t *testing.T) {
	h, b := setup(t)
	res := approved()
	res.Error = "gateway echoed card 4111111111111111 and 5413 3300 8902 0011"
	res.Verbiage = "APPROVED 4111-1111-1111-1111"
	b.Emit(ui.Event{Kind: ui.EventCard, SaleID: "s1", Card: &sale.Card{Brand: "visa", MaskedPAN: "411111******1111", LastFour: "1111"}})
	b.Emit(ui.Event{Kind: ui.EventResult, SaleID: "s1", Result: res})
	b.Emit(ui.Event{Kind: ui.EventWarning, Message: "raw read 4111111111111111=2512"})
	eventually(t, h, b, "result", func() bool { return h.Outcome().Text == "APPROVED" })
	eventually(t, h, b, "warning", func() bool { return h.Warning().Visible() })
	fyne.DoAndWait(func() { test.Tap(h.ReceiptButton()) })
	assertNoClearPAN(t, h.W)
}

func assertNoClearPAN(t *testing.T, w fyne.Window) {
	t.Helper()
	var texts []string
	fyne.DoAndWait(func() { texts = allTexts(w) })
	if len(texts) < 10 {
		t.Fatalf("only %d texts found: the walk is broken", len(texts))
	}
	for _, s := range texts {
		if run := clearPAN(s); run != "" {
			t.Errorf("a card-number-like digit run %q is painted in %q", run, s)
		}
	}
}

// panRun finds digit runs (spaces and dashes between digits ignored).
var panRun = regexp.MustCompile(`[0-9](?:[ -]?[0-9])+`)

// clearPAN returns the first 13–19 digit run in s that could be a card
// number: standalone (not part of a hex field like an EMV AID) or passing
// the Luhn check. It is written independently of the window's own guard.
func clearPAN(s string) string {
	for _, loc := range panRun.FindAllStringIndex(s, -1) {
		digits := strings.NewReplacer(" ", "", "-", "").Replace(s[loc[0]:loc[1]])
		if len(digits) < 13 {
			continue
		}
		letter := func(i int) bool {
			return i >= 0 && i < len(s) && unicode.IsLetter(rune(s[i]))
		}
		standalone := !letter(loc[0]-1) && !letter(loc[1])
		for n := 13; n <= 19 && n <= len(digits); n++ {
			for i := 0; i+n <= len(digits); i++ {
				if (standalone && n == len(digits)) || luhnOK(digits[i:i+n]) {
					return digits
				}
			}
		}
		if standalone && len(digits) <= 19 {
			return digits
		}
	}
	return ""
}

func luhnOK(d string) bool {
	sum := 0
	for i := range len(d) {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// capture keeps a PNG of the window in artifacts/ui for review.
func capture(t *testing.T, w fyne.Window, name string) {
	t.Helper()
	dir := filepath.Join("..", "..", "artifacts", "ui")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	var img image.Image
	fyne.DoAndWait(func() { img = w.Canvas().Capture() })
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("create capture: %v", err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatalf("encode capture: %v", err)
	}
}

// trayApp gives the test app a system tray, as the desktop drivers have,
// and records what the window's close button does to the app and window.
type trayApp struct {
	fyne.App
	menu  *fyne.Menu
	win   fyne.Window
	quits atomic.Int32
	spy   *spyWindow
}

func (a *trayApp) SetSystemTrayMenu(m *fyne.Menu)    { a.menu = m }
func (a *trayApp) SetSystemTrayIcon(fyne.Resource)   {}
func (a *trayApp) SetSystemTrayWindow(w fyne.Window) { a.win = w }
func (a *trayApp) Quit()                             { a.quits.Add(1) }
func (a *trayApp) NewWindow(title string) fyne.Window {
	a.spy = &spyWindow{Window: a.App.NewWindow(title)}
	return a.spy
}

// spyWindow records Hide (the test driver's windows have no visibility).
type spyWindow struct {
	fyne.Window
	hidden atomic.Bool
}

func (w *spyWindow) Hide() { w.hidden.Store(true); w.Window.Hide() }
func (w *spyWindow) Show() { w.hidden.Store(false); w.Window.Show() }

// newTrayApp is a desktop app whose tray shows st.
func newTrayApp(t *testing.T, st ui.TrayState) *trayApp {
	t.Helper()
	restore := ui.SetTray(st)
	a := &trayApp{App: test.NewApp()}
	t.Cleanup(func() {
		a.App.Quit()
		restore()
	})
	return a
}

func TestTrayMenu(t *testing.T) {
	a := newTrayApp(t, ui.TrayShown)
	b := uitest.New()
	var h *ui.Harness
	fyne.DoAndWait(func() { h = ui.NewHarness(a, b) })
	defer h.Close()
	if a.menu == nil || a.win != h.W {
		t.Fatal("no tray menu or window installed on a desktop app")
	}
	item := func(label string) *fyne.MenuItem {
		for _, it := range a.menu.Items {
			if strings.HasPrefix(it.Label, label) {
				return it
			}
		}
		t.Fatalf("tray menu has no %q item", label)
		return nil
	}
	item("Show window")
	if st := item("1 of 1 readers ready"); !st.Disabled || !strings.Contains(st.Label, "gateway reachable") {
		t.Errorf("status item %+v", st)
	}
	if !item("Quit").IsQuit {
		t.Error("Quit is not the quit item")
	}
	fyne.DoAndWait(item("Pause sales").Action)
	if c := b.Calls(); len(c) != 1 || c[0].Method != "SetPaused" || c[0].Action != "true" {
		t.Fatalf("calls %+v", c)
	}
	fyne.DoAndWait(item("Resume sales").Action)
	if c := b.Calls(); len(c) != 2 || c[1].Action != "false" {
		t.Fatalf("calls %+v", c)
	}
	item("Pause sales")
}

// The close button hides the window only where the tray icon is on screen
// to bring it back; anywhere else it asks, and only "Quit" quits.
func TestCloseButton(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tray     ui.TrayState
		wantMenu bool
		wantHide bool
	}{
		{"tray host shows the icon", ui.TrayShown, true, true},
		{"session bus without a tray host", ui.TrayHidden, true, false},
		{"no session bus", ui.TrayNone, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTrayApp(t, tc.tray)
			b := uitest.New()
			var h *ui.Harness
			fyne.DoAndWait(func() { h = ui.NewHarness(a, b) })
			defer h.Close()
			if (a.menu != nil) != tc.wantMenu {
				t.Fatalf("tray menu installed = %v, want %v", a.menu != nil, tc.wantMenu)
			}
			fyne.DoAndWait(h.RequestClose)
			if got := a.spy.hidden.Load(); got != tc.wantHide {
				t.Fatalf("window hidden = %v, want %v", got, tc.wantHide)
			}
			top := h.W.Canvas().Overlays().Top()
			if tc.wantHide {
				if top != nil || a.quits.Load() != 0 {
					t.Fatalf("hiding to the tray showed a dialog (%v) or quit (%d)", top != nil, a.quits.Load())
				}
				return
			}
			if top == nil {
				t.Fatal("no question before quitting")
			}
			if txt := strings.Join(allTexts(h.W), " "); !strings.Contains(txt, "POS page cannot take card payments") {
				t.Errorf("the question does not say what quitting stops: %q", txt)
			}
			fyne.DoAndWait(func() { test.Tap(button(t, h.W, "Keep running")) })
			if a.quits.Load() != 0 || h.W.Canvas().Overlays().Top() != nil {
				t.Fatalf("Keep running: quits %d, dialog still up %v", a.quits.Load(), h.W.Canvas().Overlays().Top() != nil)
			}
			fyne.DoAndWait(h.RequestClose)
			fyne.DoAndWait(func() { test.Tap(button(t, h.W, "Quit")) })
			if a.quits.Load() != 1 {
				t.Fatalf("Quit: app quit %d times, want 1", a.quits.Load())
			}
		})
	}
}

func TestAskPairingBeforeWindow(t *testing.T) {
	u := ui.New(uitest.New(), ui.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if d, err := u.AskPairing(ctx, "https://pos.example.com"); d != ui.DecisionDeny || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AskPairing without a window = %v, %v; want deny after the deadline", d, err)
	}
}

func TestRunWithoutDisplay(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	if err := ui.Run(context.Background(), uitest.New(), ui.Options{}); !errors.Is(err, ui.ErrNoDisplay) {
		t.Fatalf("Run without a display = %v, want ErrNoDisplay", err)
	}
}
