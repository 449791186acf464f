//go:build !headless

package ui_test

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/ui"
)

// The register starts a force with the typed amount and the voice auth
// code, and a card check (avsonly) with the billing address; each then
// waits for the card like a sale. An AVS answer shows in the result.
func TestForceAndVerifyFromRegister(t *testing.T) {
	h, b := setup(t)
	fyne.DoAndWait(func() {
		h.Amount().SetText("42")
		test.Tap(h.Force())
	})
	fyne.DoAndWait(func() {
		h.AuthCode().SetText(" VOX123 ")
		test.Tap(button(t, h.W, "Force"))
	})
	c := b.Calls()
	if len(c) != 1 || c[0].Method != "CardAction" || c[0].Action != "force" || c[0].Amount != "42.00" || c[0].AuthCode != "VOX123" {
		t.Fatalf("calls = %+v", c)
	}
	if h.Cancel().Disabled() || !h.Force().Disabled() || !h.Verify().Disabled() {
		t.Fatal("a force waiting for its card leaves the actions enabled, or cannot be cancelled")
	}
	res := approved()
	res.Action = "force"
	b.Emit(ui.Event{Kind: ui.EventResult, SaleID: c[0].ID, Result: res})
	eventually(t, h, b, "force result", func() bool { return h.Outcome().Text == "APPROVED" && !h.Verify().Disabled() })

	fyne.DoAndWait(func() { test.Tap(h.Verify()) })
	fyne.DoAndWait(func() {
		h.BillingZip().SetText("32606")
		h.BillingStreet().SetText("5800 NW 39th AVE")
		test.Tap(button(t, h.W, "Verify"))
	})
	c = b.Calls()
	if len(c) != 2 || c[1].Action != "avsonly" || c[1].BillingZip != "32606" || c[1].BillingStreet != "5800 NW 39th AVE" || c[1].Amount != "" {
		t.Fatalf("calls = %+v", c)
	}
	avs := &sale.Result{Outcome: sale.OutcomeApproved, Action: "avsonly", TransactionID: "11ee0a1b2c3d4e5f6a7b8c9e", StatusID: 121,
		Amount: "0.00", AVS: "GOOD", Updated: time.Now()}
	b.Emit(ui.Event{Kind: ui.EventResult, SaleID: c[1].ID, Result: avs})
	eventually(t, h, b, "avs result", func() bool { return strings.Contains(h.Details().Text, "AVS GOOD") })

	// A force without a code never reaches the agent.
	fyne.DoAndWait(func() { test.Tap(h.Force()) })
	fyne.DoAndWait(func() { test.Tap(button(t, h.W, "Force")) })
	if n := len(b.Calls()); n != 2 {
		t.Fatalf("a force without an auth code was started: %+v", b.Calls())
	}
}

// The history offers an authorization increase on an approved authonly and
// a reduction on it or a sale; each asks for the new total.
func TestIncreaseAndReduceFromHistory(t *testing.T) {
	h, b := setup(t)
	auth := *approved()
	auth.Action, auth.StatusID, auth.TransactionID = "authonly", 102, "11ee0a1b2c3d4e5f6a7b8c01"
	b.SetHistory([]ui.HistoryItem{
		{SaleID: "s2", State: "done", Result: auth},
		{SaleID: "s1", State: "done", Result: *approved()},
	})
	fyne.DoAndWait(func() { h.SelectTab(1) })
	fyne.DoAndWait(func() { h.HistoryList().Select(1) })
	if !h.HistoryIncrease().Disabled() || h.HistoryReduce().Disabled() {
		t.Fatal("a sale: want reduce only")
	}
	fyne.DoAndWait(func() { h.HistoryList().Select(0) })
	if h.HistoryIncrease().Disabled() || h.HistoryReduce().Disabled() {
		t.Fatal("an authorization: want increase and reduce")
	}
	fyne.DoAndWait(func() { test.Tap(h.HistoryIncrease()) })
	if h.FollowTxn().Text != auth.TransactionID || h.FollowAmount().Text != "" || h.FollowAmount().PlaceHolder != "new total" {
		t.Fatalf("increase dialog: txn %q amount %q placeholder %q", h.FollowTxn().Text, h.FollowAmount().Text, h.FollowAmount().PlaceHolder)
	}
	fyne.DoAndWait(func() {
		h.FollowAmount().SetText("60")
		test.Tap(button(t, h.W, "Increase authorization"))
	})
	fyne.DoAndWait(func() { h.SelectTab(1) })
	fyne.DoAndWait(func() { h.HistoryList().Select(0) })
	fyne.DoAndWait(func() { test.Tap(h.HistoryReduce()) })
	fyne.DoAndWait(func() {
		h.FollowAmount().SetText("5")
		test.Tap(button(t, h.W, "Reduce amount"))
	})
	c := b.Calls()
	if len(c) != 2 || c[0].Method != "FollowUp" || c[0].Action != "authincrement" || c[0].ID != auth.TransactionID || c[0].Amount != "60.00" ||
		c[1].Action != "partialreversal" || c[1].Amount != "5.00" {
		t.Fatalf("calls = %+v", c)
	}
}
