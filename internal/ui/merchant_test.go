//go:build !headless

package ui_test

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/posagent/posagent/internal/ui"
)

// TestSaleDetails: when the merchant account's settings require fields,
// the register says which and opens "Sale details"; what the cashier
// types there goes with the sale, and the entries are empty for the next
// one.
func TestSaleDetails(t *testing.T) {
	h, b := setup(t)
	b.SetStatus(ui.Status{SaleRequires: []string{"subtotal_amount", "surcharge_amount"}})
	b.Emit(ui.Event{Kind: ui.EventReader})
	eventually(t, h, b, "the required fields named", func() bool {
		return h.Requires().Visible() && strings.Contains(h.Requires().Text, "Subtotal, Surcharge")
	})
	fyne.DoAndWait(func() {
		test.Type(h.Amount(), "10.30")
		test.Type(h.Extra("subtotal_amount"), "10.00")
		test.Type(h.Extra("surcharge_amount"), " 0.30 ")
		test.Type(h.Extra("order_num"), "A1001")
		test.Type(h.Extra("checkin_date"), "2026-12-01")
		test.Type(h.Extra("checkout_date"), "2026-12-04")
		test.Type(h.Extra("room_rate"), "80.00")
		test.Tap(h.Sale())
	})
	calls := b.Calls()
	if len(calls) != 1 || calls[0].Method != "Sale" {
		t.Fatalf("calls %+v", calls)
	}
	want := ui.SaleFields{OrderNum: "A1001", SubtotalAmount: "10.00", SurchargeAmount: "0.30",
		CheckinDate: "2026-12-01", CheckoutDate: "2026-12-04", RoomRate: "80.00"}
	if calls[0].Fields != want {
		t.Errorf("sale fields %+v, want %+v", calls[0].Fields, want)
	}
	for _, f := range []string{"order_num", "subtotal_amount", "surcharge_amount", "checkin_date"} {
		if txt := h.Extra(f).Text; txt != "" {
			t.Errorf("%s still holds %q after the sale started", f, txt)
		}
	}
	b.SetStatus(ui.Status{})
	b.Emit(ui.Event{Kind: ui.EventReader})
	eventually(t, h, b, "the requirement line hidden", func() bool { return !h.Requires().Visible() })
}

// TestDiscoverShowsRequiredFields: the settings window's Find button tells
// which fields the gateway product's settings require of every sale.
func TestDiscoverShowsRequiredFields(t *testing.T) {
	h, b := setup(t)
	b.Locations = []ui.Location{{ID: "11ef5a4db0c0ffee1c0ca7e1", Name: "Main", SaleRequires: []string{"order_num"}}}
	fyne.DoAndWait(func() { test.Tap(h.SettingsDiscover()) })
	eventually(t, h, b, "the discovery shown", func() bool {
		return h.SettingsMessage().Visible() && strings.Contains(h.SettingsMessage().Text, "order_num")
	})
}
