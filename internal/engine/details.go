package engine

import (
	"errors"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
)

// details are the fields a product's merchant settings may require of a
// sale, parsed: the amount breakdown and a lodging stay.
type details struct {
	subtotal, surcharge, tax, roomRate *gateway.Amount
	checkin, checkout                  string
}

// parseDetails checks the settings fields of req: each amount is an
// amount, each date yyyy-mm-dd, the stay does not end before it starts,
// and a breakdown adds up to what is charged (total: amount + tip_amount;
// the seed: the subtotal excludes the tax, which is included in
// transaction_amount).
func parseDetails(req SaleRequest, total gateway.Amount) (details, error) {
	var d details
	for _, f := range []struct {
		name, v string
		dst     **gateway.Amount
	}{
		{"subtotal_amount", req.SubtotalAmount, &d.subtotal}, {"surcharge_amount", req.SurchargeAmount, &d.surcharge},
		{"tax", req.Tax, &d.tax}, {"room_rate", req.RoomRate, &d.roomRate},
	} {
		if f.v == "" {
			continue
		}
		a, err := parseAmount(f.name, f.v, true)
		if err != nil {
			return details{}, err
		}
		*f.dst = &a
	}
	var dates [2]time.Time
	for i, f := range []struct{ name, v string }{{"checkin_date", req.CheckinDate}, {"checkout_date", req.CheckoutDate}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, f.v)
		if err != nil {
			return details{}, errorf(CodeInvalid, "%s %q is not a date like \"2026-12-31\" (yyyy-mm-dd)", f.name, f.v)
		}
		dates[i] = t
	}
	d.checkin, d.checkout = req.CheckinDate, req.CheckoutDate
	if !dates[0].IsZero() && !dates[1].IsZero() && dates[1].Before(dates[0]) {
		return details{}, errorf(CodeInvalid, "checkout_date %s is before checkin_date %s", req.CheckoutDate, req.CheckinDate)
	}
	if d.subtotal == nil && (d.surcharge != nil || d.tax != nil) {
		return details{}, errorf(CodeMissingField, "subtotal_amount is missing: surcharge_amount and tax go with the subtotal they are added to")
	}
	if d.subtotal != nil {
		sum := *d.subtotal
		for _, a := range []*gateway.Amount{d.surcharge, d.tax} {
			if a != nil {
				sum += *a
			}
		}
		if sum != total {
			return details{}, errorf(CodeInvalid, "subtotal_amount + surcharge_amount + tax is %s, but the sale charges %s (amount + tip_amount): they must be equal", sum, total)
		}
	}
	return d, nil
}

// recordDetails reads the fields back from a journaled sale (StartSale
// checked them).
func recordDetails(r journal.Record) details {
	d, _ := parseDetails(SaleRequest{SubtotalAmount: r.SubtotalAmount, SurchargeAmount: r.SurchargeAmount, Tax: r.Tax,
		CheckinDate: r.CheckinDate, CheckoutDate: r.CheckoutDate, RoomRate: r.RoomRate}, sumOf(r))
	return d
}

// sumOf is what a journaled breakdown adds up to.
func sumOf(r journal.Record) gateway.Amount {
	var sum gateway.Amount
	for _, v := range []string{r.SubtotalAmount, r.SurchargeAmount, r.Tax} {
		a, _ := gateway.ParseAmount(v)
		sum += a
	}
	return sum
}

func (d details) apply(req *gateway.Request) {
	req.Subtotal, req.Surcharge, req.Tax = d.subtotal, d.surcharge, d.tax
	req.CheckinDate, req.CheckoutDate, req.RoomRate = d.checkin, d.checkout, d.roomRate
}

// precheckError turns the gateway's refusal of a sale before its card into
// the engine's: missing_field when the merchant's settings require a field
// the sale lacks, naming each field, else invalid_request.
func precheckError(err error) error {
	var msgs []string
	for _, f := range gateway.FieldErrors(err) {
		msgs = append(msgs, f.Field+": "+f.Message)
	}
	if len(msgs) == 0 {
		msgs = append(msgs, err.Error())
	}
	if errors.Is(err, gateway.ErrMissingField) {
		return errorf(CodeMissingField, "the merchant account's settings require fields this sale lacks (%s): nothing was started; send them with the sale", strings.Join(msgs, "; "))
	}
	return errorf(CodeInvalid, "the gateway would refuse this sale (%s): nothing was started", strings.Join(msgs, "; "))
}

// completeDetails gives the completion of an authorization the breakdown
// and stay the authorization carried, when it completes the amount
// authorized (amount zero: the default): a surcharge or auto-tax product
// wants the breakdown on authcomplete too. Completing another amount needs
// another breakdown, which a complete does not take: it goes without, and
// the gateway decides.
func (e *Engine) completeDetails(txID string, amount gateway.Amount, req *gateway.Request) {
	recs, err := e.j.ByTransactionID(txID)
	if err != nil {
		return
	}
	for _, r := range recs {
		if r.Action != string(gateway.ActionAuthOnly) || r.SubtotalAmount == "" && r.CheckinDate == "" {
			continue
		}
		if amount != 0 && r.SubtotalAmount != "" && amount != sumOf(r) {
			return
		}
		recordDetails(r).apply(req)
		return
	}
}
