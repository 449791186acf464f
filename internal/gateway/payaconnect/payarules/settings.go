package payarules

// Settings are the merchant settings of a product transaction (deposit
// account) that make request fields required, as GET /v2/locationinfos
// shows them. The sandbox refuses what they require and the client checks
// its requests (and the agent its sales, before the card) with the same
// rule, Required.
type Settings struct {
	// Surcharge: "surcharge" is an object, not null. subtotal_amount and
	// surcharge_amount are "allowed and required for transactions (action
	// = Sale, AuthOnly, and AuthComplete) that have a product where
	// surcharge … is configured".
	Surcharge bool `json:"surcharge"`
	// AutoTax: vt_enable_sales_tax true with tax_surcharge_config 2 (the
	// seed names no field for "Auto Calculate Tax"; this pair is the
	// sample's). subtotal_amount and tax are then required for the same
	// actions.
	AutoTax bool `json:"auto_tax"`
	// Lodging: industry_type "lodging". checkin_date, checkout_date and
	// room_rate are "Required if merchant industry type is lodging", on the
	// actions whose column marks them C: new card transactions (an unlinked
	// refund among them).
	Lodging bool `json:"lodging"`
	// OrderNumCheck: vt_order_num true, read as "the deposit account's
	// duplicate check per batch has the order_num field": order_num is then
	// required on sale, authonly and force.
	OrderNumCheck bool `json:"order_num_check"`
}

// Any reports whether a setting requires fields at all.
func (s Settings) Any() bool { return s.Surcharge || s.AutoTax || s.Lodging || s.OrderNumCheck }

// AmountsRequired reports whether action needs the amount breakdown; then
// transaction_amount must also be subtotal_amount + surcharge_amount + tax
// (the seed: the subtotal "should not include the value of the tax field",
// the tax "should be included in the total transaction_amount").
func (s Settings) AmountsRequired(action string) bool {
	return (s.Surcharge || s.AutoTax) && (action == "sale" || action == "authonly" || action == "authcomplete")
}

// Required lists the fields the settings require for action, in a stable
// order. linked tells a transaction made from an earlier one (a refund of a
// sale): its card and stay come from there.
func (s Settings) Required(action string, linked bool) []string {
	var out []string
	if s.AmountsRequired(action) {
		out = append(out, "subtotal_amount")
		if s.Surcharge {
			out = append(out, "surcharge_amount")
		}
		if s.AutoTax {
			out = append(out, "tax")
		}
	}
	card := action == "sale" || action == "authonly" || action == "force" || action == "refund" && !linked
	if s.Lodging && card {
		out = append(out, "checkin_date", "checkout_date", "room_rate")
	}
	if s.OrderNumCheck && (action == "sale" || action == "authonly" || action == "force") {
		out = append(out, "order_num")
	}
	return out
}

// Why says in words which setting requires field, for messages:
// "the product has a surcharge configured".
func (s Settings) Why(field string) string {
	switch field {
	case "subtotal_amount":
		switch {
		case s.Surcharge && s.AutoTax:
			return "the product has a surcharge and auto-calculated tax configured"
		case s.Surcharge:
			return "the product has a surcharge configured"
		}
		return "the product has auto-calculated tax configured"
	case "surcharge_amount":
		return "the product has a surcharge configured"
	case "tax":
		return "the product has auto-calculated tax configured"
	case "checkin_date", "checkout_date", "room_rate":
		return "the merchant's industry type is lodging"
	case "order_num":
		return "the deposit account's duplicate check uses it"
	}
	return "the product's settings require it"
}
