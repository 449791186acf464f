//go:build !headless

package ui

import (
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// This file holds the window's side of the actions beyond sale, auth and
// the first follow-ups: a force and a card check (avsonly) from the
// register, an authorization increase and a partial reversal from the
// history (docs/protocol.md describes each).

// changesAmount reports the follow-ups whose amount is the transaction's
// new total.
func changesAmount(action string) bool {
	return action == "authincrement" || action == "partialreversal"
}

// askForce asks for the auth code the issuer read out on the phone, then
// starts a force of the typed amount: the card is read as for a sale.
func (r *register) askForce() {
	if r.current != "" {
		return
	}
	amount, ok := r.typedAmount()
	if !ok {
		return
	}
	r.authCode = widget.NewEntry()
	r.authCode.SetPlaceHolder("6 letters or digits")
	items := []*widget.FormItem{
		widget.NewFormItem("Amount", widget.NewLabel("$"+amount)),
		widget.NewFormItem("Voice auth code", r.authCode),
	}
	d := dialog.NewForm("Force (voice authorization)", "Force", "Back", items, func(ok bool) {
		if ok {
			r.startCardAction(CardActionRequest{Action: "force", Amount: amount, AuthCode: strings.TrimSpace(r.authCode.Text)})
		}
	}, r.u.win)
	d.Resize(fyne.NewSize(460, 0))
	r.followDialog = d
	d.Show()
}

// askVerify asks for the billing zip (and street) and starts an avsonly:
// the card is read and checked, nothing is charged.
func (r *register) askVerify() {
	if r.current != "" {
		return
	}
	r.billingZip = widget.NewEntry()
	r.billingZip.SetPlaceHolder("zip or postal code")
	r.billingStreet = widget.NewEntry()
	r.billingStreet.SetPlaceHolder("optional")
	items := []*widget.FormItem{
		widget.NewFormItem("Billing zip", r.billingZip),
		widget.NewFormItem("Billing street", r.billingStreet),
	}
	d := dialog.NewForm("Verify card (no charge)", "Verify", "Back", items, func(ok bool) {
		if ok {
			r.startCardAction(CardActionRequest{Action: "avsonly", BillingZip: strings.TrimSpace(r.billingZip.Text),
				BillingStreet: strings.TrimSpace(r.billingStreet.Text)})
		}
	}, r.u.win)
	d.Resize(fyne.NewSize(460, 0))
	r.followDialog = d
	d.Show()
}

// startCardAction starts a force or avsonly; the agent checks the fields
// and says what to fix before the reader is armed.
func (r *register) startCardAction(req CardActionRequest) {
	if req.Action == "force" && req.AuthCode == "" {
		r.showError("Enter the auth code", errors.New("a force needs the auth code the card issuer read out on the phone"))
		return
	}
	if req.Action == "avsonly" && req.BillingZip == "" {
		r.showError("Enter the billing zip", errors.New("a card check needs the card's billing zip code"))
		return
	}
	ctx, cancel := commandContext()
	defer cancel()
	id, err := r.u.b.CardAction(ctx, req)
	if err != nil {
		r.u.log.Warn("card action refused", "action", req.Action, "err", err)
		r.showError("The "+map[string]string{"force": "force", "avsonly": "card check"}[req.Action]+" could not start", err)
		return
	}
	r.clearResult()
	r.setBusy(id, "Starting…", true)
}
