package sandbox

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/gateway/payaconnect/payarules"
)

// buildFilter turns the query string of GET /v2/transactions into a
// predicate. Ids and codes match exactly (transaction_api_id must, or a
// lookup after a timeout could find the wrong sale); names and texts match
// "like" (case-insensitive substring), as the real API's filters do;
// amounts take "from|to" ranges; created_ts takes today, yesterday or custom
// with created_ts_from/created_ts_to (unix seconds). Any other parameter is
// a 422 naming it.
func buildFilter(qs url.Values, now time.Time) (func(*payaTxn) bool, fieldErrors) {
	type pred func(*payaTxn) bool
	var preds []pred
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	exact := map[string]func(*payaTxn) string{
		"id":                      func(v *payaTxn) string { return v.ID },
		"transaction_api_id":      func(v *payaTxn) string { return str(v.TransactionAPIID) },
		"status_id":               func(v *payaTxn) string { return strconv.Itoa(v.StatusID) },
		"type_id":                 func(v *payaTxn) string { return strconv.Itoa(v.TypeID) },
		"reason_code_id":          func(v *payaTxn) string { return strconv.Itoa(v.ReasonCodeID) },
		"payment_method":          func(v *payaTxn) string { return v.PaymentMethod },
		"entry_mode_id":           func(v *payaTxn) string { return v.EntryModeID },
		"location_id":             func(v *payaTxn) string { return v.LocationID },
		"product_transaction_id":  func(v *payaTxn) string { return v.ProductTransactionID },
		"first_six":               func(v *payaTxn) string { return str(v.FirstSix) },
		"last_four":               func(v *payaTxn) string { return str(v.LastFour) },
		"order_num":               func(v *payaTxn) string { return v.OrderNum },
		"account_type":            func(v *payaTxn) string { return str(v.AccountType) },
		"auth_code":               func(v *payaTxn) string { return v.AuthCode },
		"previous_transaction_id": func(v *payaTxn) string { return str(v.PreviousTransactionID) },
		"terminal_serial_number":  func(v *payaTxn) string { return str(v.TerminalSerialNumber) },
		"trx_source_id":           func(v *payaTxn) string { return strconv.Itoa(v.TrxSourceID) },
	}
	like := map[string]func(*payaTxn) string{
		"account_holder_name": func(v *payaTxn) string { return str(v.AccountHolderName) },
		"description":         func(v *payaTxn) string { return str(v.Description) },
		"verbiage":            func(v *payaTxn) string { return v.Verbiage },
		"billing_zip":         func(v *payaTxn) string { return str(v.BillingZip) },
		"billing_street":      func(v *payaTxn) string { return str(v.BillingStreet) },
	}
	amounts := map[string]func(*payaTxn) string{
		"transaction_amount": func(v *payaTxn) string { return v.TransactionAmount },
		"auth_amount":        func(v *payaTxn) string { return v.AuthAmount },
	}
	errs := fieldErrors{}
	for name, vals := range qs {
		_, isExact := exact[name]
		_, isLike := like[name]
		_, isAmount := amounts[name]
		switch {
		case isExact || isLike || isAmount || listParams[name]:
		case !payarules.SafeName(name):
			errs.add("filter", "A query parameter is not a filter of the sandbox (not shown: it could hold card data).")
			continue
		default:
			// Silently ignoring it would return every transaction, and a
			// lookup by a misspelt filter would take another sale for its own.
			errs.add(name, payarules.Label(name)+" is not a filter of GET /v2/transactions in the sandbox (docs/sandbox.md lists them).")
			continue
		}
		want := vals[0]
		if get, ok := exact[name]; ok {
			// Several values (status_id=101,102 or repeated) match any.
			set := map[string]bool{}
			for _, v := range vals {
				for _, part := range strings.Split(v, ",") {
					set[strings.TrimSpace(part)] = true
				}
			}
			preds = append(preds, func(v *payaTxn) bool { return set[get(v)] })
			continue
		}
		if get, ok := like[name]; ok {
			w := strings.ToLower(want)
			preds = append(preds, func(v *payaTxn) bool { return strings.Contains(strings.ToLower(get(v)), w) })
			continue
		}
		if get, ok := amounts[name]; ok {
			lo, hi, ok := amountRange(want)
			if !ok {
				errs.add(name, payarules.Label(name)+" filter must be an amount or a range from|to.")
				continue
			}
			preds = append(preds, func(v *payaTxn) bool {
				c, err := parseAmount(get(v))
				return err == nil && c >= lo && c <= hi
			})
			continue
		}
		if name == "created_ts" {
			lo, hi, ok := timeRange(want, qs.Get("created_ts_from"), qs.Get("created_ts_to"), now)
			if !ok {
				errs.add(name, "Created Ts filter must be today, yesterday, this week, last 30 days or custom with created_ts_from and created_ts_to.")
				continue
			}
			preds = append(preds, func(v *payaTxn) bool { return v.CreatedTS >= lo && v.CreatedTS <= hi })
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return func(v *payaTxn) bool {
		for _, p := range preds {
			if !p(v) {
				return false
			}
		}
		return true
	}, nil
}

// listParams are the query parameters of GET /v2/transactions that are not
// filters: paging, created_ts's bounds, and expand (the sandbox keeps no
// related records to add; ignoring it changes no match).
var listParams = map[string]bool{"page": true, "page_size": true, "per-page": true,
	"created_ts": true, "created_ts_from": true, "created_ts_to": true, "expand": true}

func amountRange(s string) (lo, hi int64, ok bool) {
	a, b, isRange := strings.Cut(s, "|")
	lo, err := parseAmount(a)
	if err != nil {
		return 0, 0, false
	}
	if !isRange {
		return lo, lo, true
	}
	hi, err = parseAmount(b)
	return lo, hi, err == nil
}

func timeRange(kind, from, to string, now time.Time) (lo, hi int64, ok bool) {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch strings.ToLower(kind) {
	case "today":
		return day.Unix(), day.AddDate(0, 0, 1).Unix() - 1, true
	case "yesterday":
		return day.AddDate(0, 0, -1).Unix(), day.Unix() - 1, true
	case "this week":
		start := day.AddDate(0, 0, -int(day.Weekday()))
		return start.Unix(), start.AddDate(0, 0, 7).Unix() - 1, true
	case "last 30 days":
		return day.AddDate(0, 0, -30).Unix(), now.Unix(), true
	case "custom":
		f, err1 := strconv.ParseInt(from, 10, 64)
		t, err2 := strconv.ParseInt(to, 10, 64)
		return f, t, err1 == nil && err2 == nil
	}
	return 0, 0, false
}

// locationInfo is the one location of the sandbox with its product
// transactions, in the shape of the seed's GET /v2/locationinfos sample.
// The settings products (merchant.go) show their setting in the sample's
// own fields: surcharge (an object like seed 002's expand sample),
// vt_enable_sales_tax with tax_surcharge_config 2 (as the seed's sample
// pairs them), industry_type lodging, vt_order_num.
func locationInfo(base string) map[string]any {
	var list []any
	for _, p := range products {
		txType, processor := "sale", "sandbox"
		if p.method == "ach" {
			txType, processor = "debit", "ach"
		}
		var surcharge any
		if p.Surcharge {
			surcharge = map[string]any{
				"id": p.id, "title": "Sandbox surcharge", "surcharge_rate": "3", "surcharge_fee": "0",
				"min_fee_amount": "0", "max_fee_amount": "100", "max_transaction_amount": "10000",
				"run_as_separate_transaction": false, "surcharge_on_recurring": false, "refund_surcharges": false,
				"surcharge_label": "Surcharge",
			}
		}
		taxConfig := 0
		if p.AutoTax {
			taxConfig = 2
		}
		list = append(list, map[string]any{
			"id": p.id, "payment_method": p.method, "processor": processor, "title": p.title,
			"receipt_header": nil, "receipt_footer": nil, "receipt_logo": nil,
			"receipt_show_contact_name": false, "industry_type": p.industry(), "partner": nil,
			"vt_cvv": false, "vt_street": false, "vt_zip": false, "vt_order_num": p.OrderNumCheck,
			"display_avs": false, "vt_enable": true, "vt_enable_tip": 1, "surcharge": surcharge,
			"default_transaction_type": txType, "vt_require_street": false, "vt_require_zip": false,
			"vt_enable_sales_tax": p.AutoTax, "vt_override_sales_tax_allowed": false, "current_batch": 1,
			"vt_billing_phone": 0, "vt_clerk_number": 0, "quick_invoice_allow": 0, "active": 1,
			"hosted_payment_page_max_allowed": 0, "hosted_payment_page_allow": 0, "auto_decline_cvv": 0,
			"level3_allow": 0, "level3_default": nil, "tax_surcharge_config": taxConfig,
			"_links": selfLinks{Self: link{Href: base + "/v2/producttransactions/" + p.id}},
		})
	}
	return map[string]any{
		"id": LocationID, "name": "posagent sandbox location",
		"address1": "5800 NW 39th AVE", "address2": "", "city": "Gainesville", "state": "FL", "zip": "32606",
		"office_phone": "", "office_ext_phone": "", "fax": "", "tz": "America/New_York",
		"product_transactions": list,
		"default_cc":           ProductCCID, "default_ach": ProductACHID,
		"terminals": []any{}, "tags": []any{},
		"_links": map[string]any{
			"self":     link{Href: base + "/v2/locationinfos/" + LocationID},
			"location": link{Href: base + "/v2/locations/" + LocationID},
		},
	}
}

func (s *Sandbox) handleLocationInfos(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	base := baseURL(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"locationinfos": []any{locationInfo(base)},
		"meta": map[string]any{
			"pagination": map[string]any{
				"links":      map[string]any{"self": link{Href: base + "/v2/locationinfos?page=1"}},
				"totalCount": 1, "pageCount": 1, "currentPage": 0, "perPage": 20,
			},
			"sort": map[string]any{"attributes": map[string]string{"created_ts": "desc"}},
		},
	})
}

func (s *Sandbox) handleLocationInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	if r.PathValue("id") != LocationID {
		payaError(w, http.StatusNotFound, "id", "The record does not exist.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"locationinfo": locationInfo(baseURL(r))})
}
