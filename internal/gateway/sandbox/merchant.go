package sandbox

import (
	"fmt"
	"time"

	"github.com/posagent/posagent/internal/gateway/payaconnect/payarules"
)

// Product transactions (merchant deposit accounts) with the settings the
// seeds make certain fields required for. Each is a credit card product of
// the one location; a request picks one with product_transaction_id.
const (
	// ProductSurchargeID has a surcharge configured: sale, authonly and
	// authcomplete need subtotal_amount and surcharge_amount.
	ProductSurchargeID = "11ef5a4dcc0ffee1c0ca5ec5"
	// ProductAutoTaxID calculates sales tax: sale, authonly and authcomplete
	// need subtotal_amount and tax.
	ProductAutoTaxID = "11ef5a4dcc0ffee1c0ca7a8c"
	// ProductLodgingID is of the lodging industry type: new card
	// transactions need checkin_date, checkout_date and room_rate.
	ProductLodgingID = "11ef5a4dcc0ffee1c0ca10d9"
	// ProductOrderNumID checks duplicates per batch by order_num: new card
	// transactions need an order_num not used before in the batch.
	ProductOrderNumID = "11ef5a4dcc0ffee1c0ca0dcc"
)

// product is one product transaction and its settings.
type product struct {
	id, method, title, industry string
	surcharge                   bool // "surcharge": {...} in locationinfos
	autoTax                     bool // vt_enable_sales_tax true, tax_surcharge_config 2
	orderNumCheck               bool // vt_order_num true: duplicate check on order_num
}

// products of the sandbox's location, in locationinfos order.
var products = []product{
	{id: ProductCCID, method: "cc", title: "Sandbox Credit Card", industry: "retail"},
	{id: ProductACHID, method: "ach", title: "Sandbox ACH", industry: "retail"},
	{id: ProductSurchargeID, method: "cc", title: "Sandbox Credit Card, surcharge", industry: "retail", surcharge: true},
	{id: ProductAutoTaxID, method: "cc", title: "Sandbox Credit Card, auto tax", industry: "retail", autoTax: true},
	{id: ProductLodgingID, method: "cc", title: "Sandbox Credit Card, lodging", industry: "lodging"},
	{id: ProductOrderNumID, method: "cc", title: "Sandbox Credit Card, order_num duplicate check", industry: "retail", orderNumCheck: true},
}

func productByID(id string) (product, bool) {
	for _, p := range products {
		if p.id == id {
			return p, true
		}
	}
	return product{}, false
}

// amountsRequired reports whether the product needs the amount breakdown
// (subtotal_amount and surcharge_amount or tax) for action: the seed says
// "action = Sale, AuthOnly, and AuthComplete".
func (p product) amountsRequired(action string) bool {
	return (p.surcharge || p.autoTax) && (action == "sale" || action == "authonly" || action == "authcomplete")
}

// checkSettings applies the product's settings to a request for action
// whose transaction_amount is amount (cents). linked tells a transaction
// made from an earlier one (its card, and its stay, come from there).
func (p product) checkSettings(action string, q payaReq, amount int64, linked bool, errs fieldErrors) {
	if p.amountsRequired(action) {
		p.checkAmounts(q, amount, errs)
	}
	card := action == "sale" || action == "authonly" || action == "force" || action == "refund" && !linked
	if p.industry == "lodging" && card {
		checkStay(q, errs)
	}
	if p.orderNumCheck && (action == "sale" || action == "authonly" || action == "force") && !q.has("order_num") {
		errs.add("order_num", "Order Num cannot be blank: the deposit account's duplicate check uses it.")
	}
}

// checkAmounts: subtotal_amount is required with a surcharge or auto tax,
// surcharge_amount with a surcharge, tax with auto tax; the seed says the
// subtotal excludes the tax and the tax is included in transaction_amount,
// so transaction_amount must be their sum.
func (p product) checkAmounts(q payaReq, amount int64, errs fieldErrors) {
	need := []string{"subtotal_amount"}
	if p.surcharge {
		need = append(need, "surcharge_amount")
	}
	if p.autoTax {
		need = append(need, "tax")
	}
	var sum int64
	ok := true
	for _, name := range []string{"subtotal_amount", "surcharge_amount", "tax"} {
		f := q.get(name)
		if !f.present() {
			for _, n := range need {
				if n == name {
					errs.add(name, fmt.Sprintf("%s cannot be blank: the product has %s configured.", payarules.Label(name), p.setting()))
					ok = false
				}
			}
			continue
		}
		c, err := parseAmount(f.str())
		if err != nil {
			ok = false // the field table has said why
			continue
		}
		sum += c
	}
	if ok && amount > 0 && sum != amount {
		errs.add("transaction_amount", fmt.Sprintf(
			"Transaction Amount must be subtotal_amount + surcharge_amount + tax (%s).", money(sum)))
	}
}

func (p product) setting() string {
	switch {
	case p.surcharge && p.autoTax:
		return "a surcharge and auto-calculated tax"
	case p.surcharge:
		return "a surcharge"
	}
	return "auto-calculated tax"
}

// checkStay: lodging needs checkin_date, checkout_date and room_rate; the
// stay is at most 99 days ("less than or equal to 99 days") and does not end
// before it starts.
func checkStay(q payaReq, errs fieldErrors) {
	for _, name := range []string{"checkin_date", "checkout_date", "room_rate"} {
		if !q.has(name) {
			errs.add(name, fmt.Sprintf("%s cannot be blank: the merchant's industry type is lodging.", payarules.Label(name)))
		}
	}
	in, err1 := time.Parse(time.DateOnly, q.str("checkin_date"))
	out, err2 := time.Parse(time.DateOnly, q.str("checkout_date"))
	if err1 != nil || err2 != nil {
		return
	}
	switch d := out.Sub(in); {
	case d < 0:
		errs.add("checkout_date", "Checkout Date cannot be before Checkin Date.")
	case d > 99*24*time.Hour:
		errs.add("checkout_date", "The time between Checkin Date and Checkout Date must be at most 99 days.")
	}
}

// orderNumTaken reports whether a live transaction of product id already
// has orderNum: the sandbox never closes a batch, so the batch is every
// transaction not declined or voided. Call with s.mu held.
func (s *Sandbox) orderNumTaken(id, orderNum string) bool {
	for _, r := range s.order {
		v := &r.v
		if v.ProductTransactionID == id && v.OrderNum == orderNum && v.StatusID != statusDeclined && v.StatusID != statusVoided && !r.deleted {
			return true
		}
	}
	return false
}
