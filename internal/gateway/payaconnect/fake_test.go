package payaconnect

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/posagent/posagent/internal/gateway"
)

// Fake credentials and ids, the sandbox's defaults.
const (
	fakeDeveloperID = "posagent-dev"
	fakeUserID      = "sandbox-user"
	fakeAPIKey      = "sandbox-key"
	fakeLocationID  = "11e919aa3c4a4ed6a04860ff"
	fakeProductID   = "11e919aa3c630002afd9e7db"
)

// fake is a small Paya Connect v2 written from the seed for these tests:
// header auth, POST/PUT/GET transactions, like-matching list filters with
// paging, duplicate transaction_api_id, amount 5.00 declines, locationinfos.
type fake struct {
	mu    sync.Mutex
	txs   []map[string]any
	last  map[string]any // last request's "transaction" object
	calls []string       // "METHOD path?query"
}

func newFake() *fake { return &fake{} }

func (f *fake) lastBody() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.RequestURI())
	if r.Header.Get("developer-id") != fakeDeveloperID || r.Header.Get("user-id") != fakeUserID ||
		r.Header.Get("user-api-key") != fakeAPIKey {
		writeJSON(w, 401, map[string]any{"name": "Unauthorized", "message": "Your request was made with invalid credentials.", "status": 401})
		return
	}
	path := r.URL.Path
	switch {
	case path == "/v2/locationinfos" && r.Method == http.MethodGet:
		writeJSON(w, 200, map[string]any{"locationinfos": []any{map[string]any{
			"id": fakeLocationID, "name": "Retail Location",
			"product_transactions": []any{
				map[string]any{"id": fakeProductID, "payment_method": "cc", "processor": "sandbox", "title": "CC", "industry_type": "retail"},
				map[string]any{"id": "11e439ru39dkfndg93msdf93", "payment_method": "ach", "processor": "ach", "title": "ACH"},
			},
		}}, "meta": map[string]any{}})
	case path == "/v2/transactions" && r.Method == http.MethodPost:
		f.create(w, r)
	case path == "/v2/transactions" && r.Method == http.MethodGet:
		f.list(w, r)
	case strings.HasPrefix(path, "/v2/transactions/"):
		id := strings.TrimPrefix(path, "/v2/transactions/")
		tx := f.find(id)
		if tx == nil {
			writeJSON(w, 404, map[string]any{"message": "record not found"})
			return
		}
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, 200, map[string]any{"transaction": tx})
		case http.MethodPut:
			f.update(w, r, tx)
		default:
			writeJSON(w, 405, map[string]any{"message": "method not allowed"})
		}
	case path == "/v2/transactions":
		writeJSON(w, 405, map[string]any{"message": "method not allowed"})
	default:
		writeJSON(w, 404, map[string]any{"message": "no such endpoint"})
	}
}

func (f *fake) body(w http.ResponseWriter, r *http.Request) map[string]any {
	b, _ := io.ReadAll(r.Body)
	var env map[string]map[string]any
	if err := json.Unmarshal(b, &env); err != nil || env["transaction"] == nil || len(env) != 1 {
		writeJSON(w, 400, map[string]any{"message": "body must be {\"transaction\": {...}}"})
		return nil
	}
	f.last = env["transaction"]
	return env["transaction"]
}

func (f *fake) find(id string) map[string]any {
	for _, tx := range f.txs {
		if tx["id"] == id {
			return tx
		}
	}
	return nil
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func (f *fake) create(w http.ResponseWriter, r *http.Request) {
	in := f.body(w, r)
	if in == nil {
		return
	}
	apiID := str(in, "transaction_api_id")
	if apiID != "" {
		for _, tx := range f.txs {
			if tx["transaction_api_id"] == apiID {
				writeJSON(w, 422, map[string]any{"errors": map[string]any{"transaction_api_id": []string{"Transaction Api Id has already been taken."}}})
				return
			}
		}
	}
	amount, err := gateway.ParseAmount(str(in, "transaction_amount"))
	action := str(in, "action")
	if err != nil && action != "avsonly" {
		writeJSON(w, 422, map[string]any{"errors": map[string]any{"transaction_amount": []string{"Transaction Amount is invalid."}}})
		return
	}
	status, typ := 101, 20
	switch action {
	case "authonly":
		status = 102
	case "refund":
		status, typ = 111, 30
	case "avsonly":
		status, typ = 121, 21
	case "debit":
		status, typ = 131, 50
	case "credit":
		status, typ = 131, 40
	}
	reason := 1000
	if amount == 500 {
		status, reason = 301, 1500
	}
	first, last := "545454", "5454"
	if str(in, "e_track_data") != "" {
		first, last = "542837", "0254"
	}
	tx := map[string]any{
		"id":                 fmt.Sprintf("11ec%020d", len(f.txs)+1),
		"payment_method":     str(in, "payment_method"),
		"first_six":          first,
		"last_four":          last,
		"transaction_amount": amount.String(),
		"auth_amount":        amount.String(),
		"auth_code":          "4887ad",
		"status_id":          status,
		"type_id":            typ,
		"reason_code_id":     reason,
		"verbiage":           "Test 3474",
		"order_num":          str(in, "order_num"),
		"transaction_api_id": apiID,
		"location_id":        str(in, "location_id"),
		"entry_mode_id":      str(in, "entry_mode_id"),
		"account_type":       "mc",
		"emv_receipt_data":   nil,
	}
	if tx["entry_mode_id"] == "" {
		tx["entry_mode_id"] = "K"
	}
	f.txs = append(f.txs, tx)
	writeJSON(w, 201, map[string]any{"transaction": tx})
}

func (f *fake) update(w http.ResponseWriter, r *http.Request, tx map[string]any) {
	in := f.body(w, r)
	if in == nil {
		return
	}
	switch str(in, "action") {
	case "void":
		tx["status_id"], tx["reason_code_id"] = 201, 1200
	case "authcomplete":
		tx["status_id"], tx["reason_code_id"] = 101, 1001
		if a := str(in, "transaction_amount"); a != "" {
			tx["transaction_amount"] = a
		}
	case "authincrement", "partialreversal", "tipadjust":
		tx["transaction_amount"] = str(in, "transaction_amount")
	default:
		writeJSON(w, 422, map[string]any{"errors": map[string]any{"action": []string{"Action is invalid."}}})
		return
	}
	writeJSON(w, 200, map[string]any{"transaction": tx})
}

func (f *fake) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var out []map[string]any
	for _, tx := range f.txs {
		if v := q.Get("transaction_api_id"); v != "" && !strings.Contains(str(tx, "transaction_api_id"), v) {
			continue // "like", as the reference says
		}
		if v := q.Get("location_id"); v != "" && str(tx, "location_id") != v {
			continue
		}
		out = append(out, tx)
	}
	size, _ := strconv.Atoi(q.Get("page_size"))
	if size <= 0 {
		size = 20
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	pages := (len(out) + size - 1) / size
	lo, hi := min((page-1)*size, len(out)), min(page*size, len(out))
	writeJSON(w, 200, map[string]any{
		"transactions": append([]map[string]any{}, out[lo:hi]...),
		"meta": map[string]any{"pagination": map[string]any{
			"totalCount": len(out), "pageCount": pages, "currentPage": page - 1, "perPage": size,
		}},
	})
}
