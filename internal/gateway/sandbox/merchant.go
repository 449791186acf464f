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
	id, method, title string
	payarules.Settings
}

// industry is the product's industry_type in locationinfos.
func (p product) industry() string {
	if p.Lodging {
		return "lodging"
	}
	return "retail"
}

// products of the sandbox's location, in locationinfos order.
var products = []product{
	{id: ProductCCID, method: "cc", title: "Sandbox Credit Card"},
	{id: ProductACHID, method: "ach", title: "Sandbox ACH"},
	{id: ProductSurchargeID, method: "cc", title: "Sandbox Credit Card, surcharge", Settings: payarules.Settings{Surcharge: true}},
	{id: ProductAutoTaxID, method: "cc", title: "Sandbox Credit Card, auto tax", Settings: payarules.Settings{AutoTax: true}},
	{id: ProductLodgingID, method: "cc", title: "Sandbox Credit Card, lodging", Settings: payarules.Settings{Lodging: true}},
	{id: ProductOrderNumID, method: "cc", title: "Sandbox Credit Card, order_num duplicate check", Settings: payarules.Settings{OrderNumCheck: true}},
}

func productByID(id string) (product, bool) {
	for _, p := range products {
		if p.id == id {
			return p, true
		}
	}
	return product{}, false
}

// checkSettings applies the product's settings (payarules.Settings, the
// rule the client checks its requests with) to a request for action whose
// transaction_amount is amount (cents). linked tells a transaction made
// from an earlier one (its card, and its stay, come from there).
func (p product) checkSettings(action string, q payaReq, amount int64, linked bool, errs fieldErrors) {
	missing := false
	for _, name := range p.Required(action, linked) {
		if !q.get(name).present() {
			errs.add(name, fmt.Sprintf("%s cannot be blank: %s.", payarules.Label(name), p.Why(name)))
			missing = true
		}
	}
	if p.AmountsRequired(action) && !missing {
		checkSum(q, amount, errs)
	}
	if p.Lodging && q.has("checkin_date") && q.has("checkout_date") {
		checkStay(q, errs)
	}
}

// checkSum: the seed says the subtotal excludes the tax and the tax is
// included in transaction_amount, so transaction_amount must be
// subtotal_amount + surcharge_amount + tax.
func checkSum(q payaReq, amount int64, errs fieldErrors) {
	var sum int64
	for _, name := range []string{"subtotal_amount", "surcharge_amount", "tax"} {
		f := q.get(name)
		if !f.present() {
			continue
		}
		c, err := parseAmount(f.str())
		if err != nil {
			return // the field table has said why
		}
		sum += c
	}
	if amount > 0 && sum != amount {
		errs.add("transaction_amount", fmt.Sprintf(
			"Transaction Amount must be subtotal_amount + surcharge_amount + tax (%s).", money(sum)))
	}
}

// checkStay: the stay is at most 99 days ("less than or equal to 99 days") and does not end
// before it starts.
func checkStay(q payaReq, errs fieldErrors) {
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
