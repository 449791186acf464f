package app

import (
	"context"
	"strings"
	"time"
)

// settingsTimeout bounds the read of the merchant settings at start: an
// unreachable gateway delays the start by at most this much.
const settingsTimeout = 5 * time.Second

// loadSettings reads the Paya Connect product's merchant settings (GET
// /v2/locationinfos) so that a sale lacking a field they require is refused
// before its card (docs/protocol.md, "Merchant settings"). A failure is a
// warning, not a stop: the agent runs with the settings unknown and the
// gateway decides.
func (a *App) loadSettings(ctx context.Context) error {
	if a.paya == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, settingsTimeout)
	defer cancel()
	s, err := a.paya.LoadSettings(ctx)
	if err != nil {
		a.log.Warn("could not read the merchant settings of the gateway product (GET /v2/locationinfos): "+
			"sales are not checked for the fields those settings require, the gateway will refuse one that lacks them; "+
			"check location_id and product_transaction_id, then use the settings window's Find button or restart",
			"error", err)
		return err
	}
	a.log.Info("merchant settings read", "surcharge", s.Surcharge, "auto_tax", s.AutoTax, "lodging", s.Lodging,
		"order_num_check", s.OrderNumCheck, "sale_requires", strings.Join(s.Required("sale", false), ","))
	return nil
}

// saleRequires names the fields the product's known settings require of a
// sale; nil when none or unknown.
func (a *App) saleRequires() []string {
	if a.paya == nil {
		return nil
	}
	s, ok := a.paya.Settings()
	if !ok {
		return nil
	}
	return s.Required("sale", false)
}
