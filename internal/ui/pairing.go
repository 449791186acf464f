//go:build !headless

package ui

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// AskPairing asks the cashier whether origin may use the agent and blocks
// until they answer or ctx ends (then DecisionDeny with ctx's error). It is
// safe from any goroutine; the composition root adapts it to the bridge's
// Pairer. A request that arrives before Run has built the window waits for
// it.
func (u *UI) AskPairing(ctx context.Context, origin string) (Decision, error) {
	select {
	case <-u.ready:
	case <-ctx.Done():
		return DecisionDeny, fmt.Errorf("pairing %s: %w", origin, ctx.Err())
	}
	answer := make(chan Decision, 1)
	var d dialog.Dialog
	fyne.Do(func() {
		d = u.pairingDialog(origin, func(dec Decision) {
			select {
			case answer <- dec:
			default: // already answered
			}
		})
	})
	select {
	case dec := <-answer:
		u.log.Info("pairing answered", "origin", origin, "decision", dec.String())
		return dec, nil
	case <-ctx.Done():
		fyne.Do(func() {
			if d != nil {
				d.Hide()
			}
		})
		return DecisionDeny, fmt.Errorf("pairing %s: %w", origin, ctx.Err())
	}
}

// pairingDialog shows the question and calls answer once. UI goroutine only.
func (u *UI) pairingDialog(origin string, answer func(Decision)) dialog.Dialog {
	// The cashier may have the window hidden in the tray: bring it up, a
	// web page is waiting for this answer.
	u.win.Show()
	u.win.RequestFocus()
	msg := widget.NewLabel("The web page\n\n" + origin + "\n\nasks to take card payments through this computer's card reader. " +
		"Allow it only if it is your store's POS page.")
	msg.Wrapping = fyne.TextWrapWord
	var d *dialog.CustomDialog
	pick := func(dec Decision) func() {
		return func() {
			answer(dec)
			d.Hide()
		}
	}
	once := widget.NewButton("Allow once", pick(DecisionOnce))
	always := widget.NewButton("Always allow", pick(DecisionAlways))
	always.Importance = widget.HighImportance
	deny := widget.NewButton("Deny", pick(DecisionDeny))
	deny.Importance = widget.DangerImportance
	d = dialog.NewCustomWithoutButtons("Allow this web page?", msg, u.win)
	d.SetButtons([]fyne.CanvasObject{deny, once, always})
	// Closing the dialog any other way is a refusal.
	d.SetOnClosed(func() { answer(DecisionDeny) })
	d.Resize(fyne.NewSize(520, 300))
	d.Show()
	return d
}
