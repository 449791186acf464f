package paidyet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/card"
)

// Test cards of the PaidYET document.
const (
	cardApproved = "4000100011112224"
	cardDeclined = "4000300011112220"
)

const (
	fakeSubdomain = "sandbox"
	fakeKey       = "sandbox-key"
)

// fakeClock moves only when told, or when someone sleeps on it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Sleep advances the clock by d: waiting costs no real time.
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

// fake is a small PaidYET v3 written from the document: login tokens with
// exp, bearer auth, cards, transactions, search with custom-field filters,
// and a sliding-window 75/minute limit answered with 429.
type fake struct {
	mu       sync.Mutex
	clock    func() time.Time
	ttl      time.Duration
	tokens   map[string]time.Time
	cards    map[string]string // token -> number
	txs      []map[string]any
	logins   int
	calls    []time.Time // accepted calls, for the rate limit
	requests []string    // "METHOD path"
	bodies   []map[string]any
	rejected int // 429s
}

func newFake(clock func() time.Time) *fake {
	return &fake{clock: clock, ttl: time.Hour, tokens: map[string]time.Time{}, cards: map[string]string{}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiResponse(typ string, items ...any) map[string]any {
	return map[string]any{"messages": map[string]any{"info": []any{}, "warning": []any{}, "error": []any{}},
		"payload": map[string]any{"type": typ, "items": items, "count": len(items), "pages": 1, "page": 1, "per_page": max(len(items), 1)}}
}

func apiError(msg string) map[string]any {
	return map[string]any{"messages": map[string]any{"error": []any{map[string]any{"code": 1, "content": msg}}},
		"payload": map[string]any{"items": []any{}}}
}

// addCard stores a card token directly (no API call).
func (f *fake) addCard(number string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := fmt.Sprintf("ctok%d", len(f.cards)+1)
	f.cards[tok] = number
	return tok
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	var body map[string]any
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			writeJSON(w, 400, apiError("invalid JSON"))
			return
		}
	}
	f.bodies = append(f.bodies, body)
	// Sliding 60 s window, as a strict server would count.
	recent := 0
	for _, t := range f.calls {
		if now.Sub(t) < time.Minute {
			recent++
		}
	}
	if recent >= DefaultPerMinute {
		f.rejected++
		writeJSON(w, 429, apiError("rate limit"))
		return
	}
	f.calls = append(f.calls, now)
	path := strings.TrimPrefix(r.URL.Path, "/v3")
	if path == "/login" && r.Method == http.MethodPost {
		if body["subdomain"] != fakeSubdomain || body["key"] != fakeKey {
			writeJSON(w, 401, apiError("login failed"))
			return
		}
		f.logins++
		tok := fmt.Sprintf("bearer%d", f.logins)
		exp := now.Add(f.ttl)
		f.tokens[tok] = exp
		writeJSON(w, 200, map[string]any{"status": "OK", "result": map[string]any{
			"status": "success", "message": "login successful", "token": tok, "exp": exp.Unix()}})
		return
	}
	exp, ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok || !now.Before(exp) {
		writeJSON(w, 401, apiError("token expired or invalid"))
		return
	}
	switch {
	case path == "/card" && r.Method == http.MethodPost:
		num, _ := body["number"].(string)
		if !card.Luhn(num) {
			writeJSON(w, 422, apiError("invalid card number"))
			return
		}
		tok := fmt.Sprintf("ctok%d", len(f.cards)+1)
		f.cards[tok] = num
		writeJSON(w, 200, apiResponse("CreditCard", map[string]any{"token": tok, "number": string(card.Mask(num)), "exp": body["exp"]}))
	case strings.HasPrefix(path, "/card/") && r.Method == http.MethodGet:
		tok := strings.TrimPrefix(path, "/card/")
		num, ok := f.cards[tok]
		if !ok {
			writeJSON(w, 404, apiError("no such card"))
			return
		}
		writeJSON(w, 200, apiResponse("CreditCard", map[string]any{"token": tok, "number": string(card.Mask(num))}))
	case path == "/transaction" && r.Method == http.MethodPost:
		f.create(w, body, "")
	case path == "/transaction/search" && r.Method == http.MethodGet:
		f.search(w, r)
	case strings.HasPrefix(path, "/transaction/"):
		id := strings.TrimPrefix(path, "/transaction/")
		var tx map[string]any
		for _, t := range f.txs {
			if t["id"] == id {
				tx = t
			}
		}
		if tx == nil {
			writeJSON(w, 404, apiError("no such transaction"))
			return
		}
		switch {
		case r.Method == http.MethodGet:
			writeJSON(w, 200, apiResponse("Transaction", tx))
		case r.Method == http.MethodPut && body["type"] == "capture":
			tx["status"], tx["type"] = "approved", "sale"
			if a, ok := body["amount"].(float64); ok {
				tx["amount"] = a
			}
			writeJSON(w, 200, apiResponse("Transaction", tx))
		case r.Method == http.MethodPatch && body["type"] == "void":
			tx["status"] = "voided"
			writeJSON(w, 200, apiResponse("Transaction", tx))
		case r.Method == http.MethodPost && body["type"] == "refund":
			body["credit_card"] = tx["credit_card"]
			f.create(w, body, id)
		default:
			writeJSON(w, 400, apiError("bad request"))
		}
	default:
		writeJSON(w, 404, apiError("no such endpoint"))
	}
}

func (f *fake) create(w http.ResponseWriter, body map[string]any, refundOf string) {
	amount, _ := body["amount"].(float64)
	typ, _ := body["type"].(string)
	if typ == "" {
		typ = "sale"
		if amount == 0 {
			typ = "auth"
		}
	}
	cc, _ := body["credit_card"].(map[string]any)
	tok, _ := cc["token"].(string)
	num, ok := f.cards[tok]
	if !ok {
		writeJSON(w, 422, apiError("unknown card token"))
		return
	}
	status, msg, code := "approved", "Approved", ""
	if num == cardDeclined && refundOf == "" {
		status, msg, code = "declined", "Declined", "05"
	}
	tx := map[string]any{
		"id": strconv.Itoa(1000 + len(f.txs)), "amount": amount, "type": typ, "status": status, "error": false,
		"message": msg, "decline_code": code, "input_method": "keyed",
		"credit_card":   map[string]any{"token": tok, "number": string(card.Mask(num))},
		"external_id":   body["external_id"],
		"custom_fields": body["custom_fields"],
	}
	f.txs = append(f.txs, tx)
	writeJSON(w, 200, apiResponse("Transaction", tx))
}

func (f *fake) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var out []any
	for _, tx := range f.txs {
		if v := q.Get("transaction_api_id"); v != "" {
			match := false
			cfs, _ := tx["custom_fields"].([]any)
			for _, cf := range cfs {
				m, _ := cf.(map[string]any)
				// Searches "start with", like the customer search.
				if m["key"] == "transaction_api_id" && strings.HasPrefix(fmt.Sprint(m["value"]), v) {
					match = true
				}
			}
			if !match {
				continue
			}
		}
		if v := q.Get("status"); v != "" && tx["status"] != v {
			continue
		}
		out = append(out, tx)
	}
	writeJSON(w, 200, apiResponse("Transaction", out...))
}
