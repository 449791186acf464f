package sandbox

import (
	"bytes"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway/payaconnect/payarules"
)

// payaReq is one decoded transaction request: the fields by name. Every
// field has passed the seed's field table (payarules) before the handlers
// read it.
type payaReq struct {
	f          map[string]field
	customData json.RawMessage
}

func (q payaReq) get(name string) field  { return q.f[name] }
func (q payaReq) str(name string) string { return q.f[name].str() }
func (q payaReq) has(name string) bool   { return q.f[name].present() }

// fieldErrors are 422 field messages.
type fieldErrors map[string][]string

func (e fieldErrors) add(field, msg string) { e[field] = append(e[field], msg) }

// errBadJSON marks a body that is not a JSON object: HTTP 400.
var errBadJSON = errors.New("invalid JSON")

// decodePaya decodes a request body. The body is {"transaction": {...}}, as
// every request of the seeds is; anything else is a 422 on "transaction".
// Syntax errors are errBadJSON (400); fields of the wrong type are field
// errors (422). Field rules are checkPaya's.
func decodePaya(body []byte) (payaReq, fieldErrors, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return payaReq{}, nil, errBadJSON
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return payaReq{}, nil, errBadJSON
	}
	inner, ok := top["transaction"]
	if !ok || len(top) != 1 {
		return payaReq{}, fieldErrors{"transaction": {
			`The request body must be {"transaction": {...}} with the fields inside, and nothing beside it.`}}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(inner, &fields); err != nil || fields == nil {
		return payaReq{}, fieldErrors{"transaction": {"Transaction must be a JSON object."}}, nil
	}
	q := payaReq{f: make(map[string]field, len(fields))}
	errs := fieldErrors{}
	for name, raw := range fields {
		raw = bytes.TrimSpace(raw)
		if payarules.Fields[name].Format == payarules.Object {
			if string(raw) == "null" {
				continue
			}
			var obj any
			if json.Unmarshal(raw, &obj) != nil {
				errs.add(name, payarules.Label(name)+" must be a JSON object or array.")
				continue
			}
			q.f[name] = field{Set: true, V: string(raw)}
			if name == "custom_data" {
				if _, isObj := obj.(map[string]any); !isObj {
					errs.add(name, "Custom Data must be a JSON object.")
					continue
				}
				q.customData = append(json.RawMessage(nil), raw...)
			}
			continue
		}
		var v field
		if err := json.Unmarshal(raw, &v); err != nil {
			errs.add(name, payarules.Label(name)+" must be a string, number or boolean.")
			continue
		}
		q.f[name] = v
	}
	if len(errs) > 0 {
		return payaReq{}, errs, nil
	}
	return q, nil, nil
}

// checkPaya applies the seed's field table to q (put: a PUT on an existing
// transaction), then the rules on encrypted card data that need no stored
// state. A field sent blank or null counts as not sent.
func checkPaya(put bool, q payaReq) fieldErrors {
	values := make(map[string]string, len(q.f))
	for name, f := range q.f {
		if f.present() {
			values[name] = f.V
		}
	}
	errs := fieldErrors{}
	for _, v := range payarules.Check(put, values) {
		errs.add(v.Field, v.Message)
	}
	if len(errs) == 0 {
		checkEncrypted(q, errs)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// checkEncrypted holds the rules of the e_ fields beyond their formats:
// e_format and e_track_data go together, and an e_serial_number sent with
// a format whose data carries its own KSN (idtech, magnesafe) must be that
// KSN. The seed calls e_serial_number "Encrypted Track Data KSN"; a
// different one beside the data's could only be a mix-up of two reads.
func checkEncrypted(q payaReq, errs fieldErrors) {
	data, format, serial := q.has("e_track_data"), q.has("e_format"), q.str("e_serial_number")
	switch {
	case data && !format:
		errs.add("e_format", "E Format cannot be blank when e_track_data is sent.")
		return
	case format && !data:
		errs.add("e_track_data", "E Track Data cannot be blank when e_format is sent.")
		return
	case serial != "" && !data:
		errs.add("e_serial_number", "E Serial Number goes only with e_track_data.")
		return
	case !data || serial == "":
		return
	}
	f := card.Format(q.str("e_format"))
	if f != card.FormatIDTech && f != card.FormatMagneSafe {
		return
	}
	// Only the KSN is read here; data that cannot be cut declines later
	// with reason 1621, as before.
	sealed, err := cutEnvelope(f, q.get("e_track_data").V, "")
	if err != nil || len(sealed.ksn) == 0 {
		return
	}
	if !strings.EqualFold(hex.EncodeToString(sealed.ksn), serial) {
		errs.add("e_serial_number", "E Serial Number is not the KSN inside e_track_data ("+string(f)+
			" data carries its own): send that KSN or leave the field out.")
	}
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

// CheckPayaRequest applies every rule of the transactions endpoint that a
// body alone decides — the wrapper, the seed's field table and the rules of
// the e_ fields — to a POST /v2/transactions body (put false) or a PUT
// /v2/transactions/{id} body (put true). It returns the 422 field messages
// the sandbox would answer, or nil when the body passes; a body that is not
// JSON at all (a 400) is reported under "body". The payaconnect client's
// tests run every request it can build through it, so that the client never
// sends what the sandbox refuses.
func CheckPayaRequest(put bool, body []byte) map[string][]string {
	q, ferrs, err := decodePaya(body)
	switch {
	case err != nil:
		return map[string][]string{"body": {"Invalid JSON data in request body."}}
	case len(ferrs) > 0:
		return ferrs
	}
	if errs := checkPaya(put, q); errs != nil {
		return errs
	}
	return nil
}
