package sandbox

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
)

// payaReq is one decoded transaction request: the known fields by name.
// Unknown fields are ignored, as the real API ignores them.
type payaReq struct {
	f          map[string]field
	customData json.RawMessage
}

func (q payaReq) get(name string) field  { return q.f[name] }
func (q payaReq) str(name string) string { return q.f[name].str() }
func (q payaReq) has(name string) bool   { return q.f[name].present() }

// payaFields are the request fields the sandbox reads. Each must be a JSON
// string, number, boolean or null.
var payaFields = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`action payment_method account_number account_holder_name account_type
		account_vault_id account_vault_api_id ach_sec_code auth_code billing_street billing_zip billing_city
		billing_state billing_phone cvv description e_format e_track_data e_serial_number entry_mode_id exp_date
		location_id location_api_id order_num previous_transaction_id product_transaction_id routing tax
		terminal_serial_number tip_amount track_data transaction_amount transaction_api_id transaction_c1
		transaction_c2 transaction_c3 clerk_number customer_id po_number contact_id notification_email_address
		allow_partial_authorization_override check_number customer_ip`) {
		payaFields[n] = true
	}
}

// fieldErrors are 422 field messages.
type fieldErrors map[string][]string

func (e fieldErrors) add(field, msg string) { e[field] = append(e[field], msg) }

// errBadJSON marks a body that is not a JSON object: HTTP 400.
var errBadJSON = errors.New("invalid JSON")

// decodePaya decodes a request body. The body is {"transaction": {...}} as
// in every seed sample; a bare object is accepted too, because the real API
// takes both. Syntax errors are errBadJSON (400); fields of the wrong type
// are field errors (422).
func decodePaya(body []byte) (payaReq, fieldErrors, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return payaReq{}, nil, errBadJSON
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return payaReq{}, nil, errBadJSON
	}
	if inner, ok := top["transaction"]; ok {
		top = nil
		if err := json.Unmarshal(inner, &top); err != nil || top == nil {
			return payaReq{}, fieldErrors{"transaction": {"Transaction must be a JSON object."}}, nil
		}
	}
	q := payaReq{f: make(map[string]field, len(top))}
	errs := fieldErrors{}
	for name, raw := range top {
		switch {
		case name == "custom_data":
			if string(bytes.TrimSpace(raw)) == "null" {
				continue
			}
			var obj map[string]any
			if json.Unmarshal(raw, &obj) != nil || obj == nil || len(raw) > 512 {
				errs.add(name, "Custom Data must be a JSON object of at most 512 characters.")
				continue
			}
			q.customData = append(json.RawMessage(nil), raw...)
		case payaFields[name]:
			var v field
			if err := json.Unmarshal(raw, &v); err != nil {
				errs.add(name, label(name)+" must be a string, number or boolean.")
				continue
			}
			q.f[name] = v
		}
	}
	if len(errs) > 0 {
		return payaReq{}, errs, nil
	}
	return q, nil, nil
}

// label turns a field name into the API's message label:
// transaction_amount -> "Transaction Amount".
func label(name string) string {
	parts := strings.Split(name, "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, " ")
}

// payaErrorBody is the error shape of the v2 API: the framework's name,
// message, code and status, plus field messages under errors. A client
// reads errors for 422 and message for the others; every error has both.
type payaErrorBody struct {
	Name    string              `json:"name"`
	Message string              `json:"message"`
	Code    int                 `json:"code"`
	Status  int                 `json:"status"`
	Errors  map[string][]string `json:"errors"`
}

func payaErrors(w http.ResponseWriter, status int, errs fieldErrors) {
	names := make([]string, 0, len(errs))
	for n := range errs {
		names = append(names, n)
	}
	sort.Strings(names)
	msg := http.StatusText(status)
	if len(names) > 0 && len(errs[names[0]]) > 0 {
		msg = errs[names[0]][0]
	}
	name := http.StatusText(status)
	if status == http.StatusUnprocessableEntity {
		name = "Data Validation Failed."
	}
	writeJSON(w, status, payaErrorBody{Name: name, Message: msg, Status: status, Errors: errs})
}

func payaError(w http.ResponseWriter, status int, field, msg string) {
	payaErrors(w, status, fieldErrors{field: {msg}})
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	payaError(w, http.StatusMethodNotAllowed, "method", "Method Not Allowed. This URL can only handle the following request methods: "+allow+".")
}

// payaAuth checks the three credential headers of every v2 request.
func (s *Sandbox) payaAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ok := eq(r.Header.Get("developer-id"), s.opts.DeveloperID)
		ok = eq(r.Header.Get("user-id"), s.opts.UserID) && ok
		ok = eq(r.Header.Get("user-api-key"), s.opts.UserAPIKey) && ok
		if !ok {
			s.log.Info("sandbox: v2 request with wrong credentials", "path", r.URL.Path)
			payaError(w, http.StatusUnauthorized, "authentication",
				"Your credentials are invalid (developer-id, user-id, and/or user-api-key).")
			return
		}
		h(w, r)
	}
}

// eq compares secrets in constant time.
func eq(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
