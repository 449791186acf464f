package payaconnect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/payaconnect/payarules"
)

// LoadSettings reads the merchant settings of the product transaction the
// client sends on (Options.ProductTransactionID, or its location's
// default_cc) from GET /v2/locationinfos and keeps them: from then on
// Precheck and every request are checked against the fields they require
// (payarules.Settings.Required), the rule the sandbox enforces. Until it
// succeeds the settings are unknown and the gateway decides.
func (c *Client) LoadSettings(ctx context.Context) (payarules.Settings, error) {
	locs, err := c.LocationInfos(ctx)
	if err != nil {
		return payarules.Settings{}, err
	}
	p, err := c.product(locs)
	if err != nil {
		return payarules.Settings{}, err
	}
	s := p.Settings()
	c.settings.Store(&s)
	return s, nil
}

// Settings returns the product's settings and whether they are known (a
// LoadSettings succeeded).
func (c *Client) Settings() (payarules.Settings, bool) {
	if s := c.settings.Load(); s != nil {
		return *s, true
	}
	return payarules.Settings{}, false
}

// LocationID is the configured location_id ("" when the credentials' one
// location is meant).
func (c *Client) LocationID() string { return c.opts.LocationID }

// product finds the client's product transaction in the locations.
func (c *Client) product(locs []Location) (ProductTransaction, error) {
	var loc *Location
	for i := range locs {
		if c.opts.LocationID == "" && len(locs) == 1 || locs[i].ID == c.opts.LocationID {
			loc = &locs[i]
		}
	}
	if loc == nil {
		return ProductTransaction{}, fmt.Errorf("location %q is not among the %d locations these credentials may use", c.opts.LocationID, len(locs))
	}
	id := c.opts.ProductTransactionID
	if id == "" {
		id = loc.DefaultCC
	}
	for _, p := range loc.ProductTransactions {
		if p.ID == id {
			return p, nil
		}
	}
	return ProductTransaction{}, fmt.Errorf("product transaction %q is not among location %s's products", id, loc.ID)
}

// Settings reads the product's settings from its locationinfos fields.
func (p ProductTransaction) Settings() payarules.Settings {
	sur := bytes.TrimSpace(p.Surcharge)
	return payarules.Settings{
		Surcharge:     len(sur) > 0 && !bytes.Equal(sur, []byte("null")) && !bytes.Equal(sur, []byte("false")),
		AutoTax:       bool(p.VTEnableSalesTax) && p.TaxSurchargeConfig == 2,
		Lodging:       strings.EqualFold(p.IndustryType, "lodging"),
		OrderNumCheck: bool(p.VTOrderNum),
	}
}

// settingsErrors checks t against the known settings: each field they
// require for the action (missing), and that transaction_amount is the sum
// of the breakdown. Unknown settings check nothing.
func (c *Client) settingsErrors(t *TransactionRequest) (errs []gateway.FieldError, missing bool) {
	s, ok := c.Settings()
	if !ok || !s.Any() {
		return nil, false
	}
	values := map[string]string{}
	for _, f := range t.fields() {
		if f.value != "" {
			values[f.name] = f.value
		}
	}
	for _, name := range s.Required(t.Action, t.PreviousTransactionID != "") {
		if values[name] == "" {
			errs = append(errs, gateway.FieldError{Field: name, Message: "required: " + s.Why(name)})
		}
	}
	if len(errs) > 0 {
		return errs, true
	}
	if s.AmountsRequired(t.Action) && t.TransactionAmount != "" {
		var sum gateway.Amount
		for _, name := range []string{"subtotal_amount", "surcharge_amount", "tax"} {
			if v := values[name]; v != "" {
				a, err := gateway.ParseAmount(v)
				if err != nil {
					return nil, false // the field table says why
				}
				sum += a
			}
		}
		if total, err := gateway.ParseAmount(t.TransactionAmount); err == nil && total != sum {
			errs = append(errs, gateway.FieldError{Field: "transaction_amount",
				Message: "must be subtotal_amount + surcharge_amount + tax (" + sum.String() + ")"})
		}
	}
	return errs, false
}

// flexBool decodes true/false, 1/0 (the seed's samples use both for flags),
// and their string forms; null is false.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		*f = false
	case bool:
		*f = flexBool(x)
	case float64:
		*f = x != 0
	case string:
		t, err := strconv.ParseBool(x)
		if err != nil {
			return fmt.Errorf("not a flag: %.20q", x)
		}
		*f = flexBool(t)
	default:
		return fmt.Errorf("not a flag")
	}
	return nil
}

// refusal makes the Invalid error of a request that fails errs; missing
// (a field the settings require is absent) makes it ErrMissingField.
func refusal(op string, errs []gateway.FieldError, missing bool) error {
	e := &gateway.Error{Class: gateway.Invalid, Gateway: Name, Op: op, Message: "request fails the transactions endpoint's field rules", Fields: errs}
	if missing {
		e.Kind, e.Message = gateway.ErrMissingField, "the merchant's account settings require fields this request lacks"
	}
	return e
}
