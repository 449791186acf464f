package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/card"
)

// paidyet is the PaidYET v3 state: tokens, rate counters, transactions and
// tokenized cards. It has its own lock so that the two APIs do not contend.
type paidyet struct {
	mu     sync.Mutex
	tokens map[string]pyToken
	rate   map[string]*rateState // by subdomain: the limit is per merchant credential
	txns   map[int]*pyTxn
	order  []*pyTxn
	nextID int
	cards  map[string]*pyCard // by token
	byExt  map[string]string  // external_id -> token
}

type pyToken struct {
	sub string
	exp time.Time
}

func (p *paidyet) init() {
	p.tokens = map[string]pyToken{}
	p.rate = map[string]*rateState{}
	p.txns = map[int]*pyTxn{}
	p.cards = map[string]*pyCard{}
	p.byExt = map[string]string{}
	p.nextID = 1000
	for i, c := range pyStoredCards {
		p.cards[c.Token] = &pyCard{ID: i + 1, Token: c.Token, ref: cardRef{FirstSix: c.first6, LastFour: c.last4, Brand: card.BrandVisa},
			Exp: "09/30", behaviour: c.behaviour, testCard: true}
	}
}

// pyStoredCards are cards on file from the start, so that a POS page (or
// `posagent demo --gateway paidyet`) can charge a stored card without
// tokenizing one first. Tokens are fixed and documented in docs/sandbox.md;
// they carry the PaidYET test cards' behaviour (seed 003, "Test Cards").
var pyStoredCards = []struct {
	Token         string
	first6, last4 string
	behaviour     pyTestCard
}{
	{PaidYETTokenApproved, "400010", "2224", pyTestCard{true, 0, "Approved"}},
	{PaidYETTokenDeclined, "400030", "2224", pyTestCard{false, 51, "Insufficient Funds"}},
}

// rateState counts one credential's calls: the times of the calls of the
// last minute (a sliding window, so 75 calls cannot be doubled across a
// minute boundary) and the calls of the current UTC day.
type rateState struct {
	recent   []time.Time
	day      string
	dayCount int
}

// allow records a call at now if the limits allow it; otherwise it reports
// how long until the next call would be allowed.
func (rs *rateState) allow(now time.Time) (bool, time.Duration) {
	day := now.UTC().Format(time.DateOnly)
	if day != rs.day {
		rs.day, rs.dayCount = day, 0
	}
	if rs.dayCount >= PaidYETPerDay {
		y, m, d := now.UTC().Date()
		return false, time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Sub(now)
	}
	cut := now.Add(-time.Minute)
	i := 0
	for i < len(rs.recent) && !rs.recent[i].After(cut) {
		i++
	}
	rs.recent = rs.recent[i:]
	if len(rs.recent) >= PaidYETPerMinute {
		return false, rs.recent[0].Sub(cut)
	}
	rs.recent = append(rs.recent, now)
	rs.dayCount++
	return true, 0
}

// Call with p.mu held.
func (p *paidyet) allow(sub string, now time.Time) (bool, time.Duration) {
	rs := p.rate[sub]
	if rs == nil {
		rs = &rateState{}
		p.rate[sub] = rs
	}
	return rs.allow(now)
}

// ApiResponse, the envelope of every v3 answer (seed 003, "APIResponse").
type apiMessage struct {
	Code    int    `json:"code"`
	Content string `json:"content"`
}

type apiMessages struct {
	Info    []apiMessage `json:"info"`
	Warning []apiMessage `json:"warning"`
	Error   []apiMessage `json:"error"`
}

type apiPayload struct {
	Type    string `json:"type"`
	Items   []any  `json:"items"`
	Count   int    `json:"count"`
	Pages   int    `json:"pages"`
	Page    int    `json:"page"`
	PerPage int    `json:"per_page"`
}

type apiResponse struct {
	Messages apiMessages `json:"messages"`
	Payload  apiPayload  `json:"payload"`
}

func emptyMessages() apiMessages {
	return apiMessages{Info: []apiMessage{}, Warning: []apiMessage{}, Error: []apiMessage{}}
}

func pyOK(w http.ResponseWriter, typ string, items []any, count, page, perPage int) {
	pages := 0
	if perPage > 0 {
		pages = (count + perPage - 1) / perPage
	}
	if items == nil {
		items = []any{}
	}
	writeJSON(w, http.StatusOK, apiResponse{Messages: emptyMessages(),
		Payload: apiPayload{Type: typ, Items: items, Count: count, Pages: pages, Page: page, PerPage: perPage}})
}

func pyOne(w http.ResponseWriter, typ string, item any) { pyOK(w, typ, []any{item}, 1, 1, 1) }

func pyError(w http.ResponseWriter, status int, msg string) {
	m := emptyMessages()
	m.Error = []apiMessage{{Code: status, Content: msg}}
	writeJSON(w, status, apiResponse{Messages: m, Payload: apiPayload{Items: []any{}, Page: 1}})
}

// randToken is an opaque token: base64url of random bytes, which (unlike
// hex) practically never holds a long digit run a leak scanner would flag.
func randToken(prefix string) string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// handleLogin serves POST /v3/login {subdomain, key}. Its answer follows the
// seed's example, which is not an ApiResponse.
func (s *Sandbox) handleLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		pyError(w, http.StatusMethodNotAllowed, "method not allowed: POST /v3/login")
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		pyError(w, http.StatusBadRequest, "the request body could not be read")
		return
	}
	var req struct {
		Subdomain field `json:"subdomain"`
		Key       field `json:"key"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || len(strings.TrimSpace(string(body))) == 0 {
			pyError(w, http.StatusBadRequest, "invalid JSON in request body")
		} else {
			pyError(w, http.StatusUnprocessableEntity, "subdomain and key must be strings")
		}
		return
	}
	now := s.now()
	sub := req.Subdomain.str()
	p := &s.py
	p.mu.Lock()
	if eq(sub, s.opts.PaidYETSubdomain) {
		// Logins count against the merchant's limits like any call: a
		// client that logs in before every call still has to pace itself.
		if ok, retry := p.allow(sub, now); !ok {
			p.mu.Unlock()
			tooMany(w, retry)
			return
		}
	}
	if !eq(sub, s.opts.PaidYETSubdomain) || !eq(req.Key.str(), s.opts.PaidYETKey) {
		p.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"status": "ERROR",
			"result": map[string]any{"status": "error", "message": "invalid subdomain or key"},
		})
		return
	}
	tok := randToken("py_")
	exp := now.Add(s.opts.TokenTTL)
	p.tokens[tok] = pyToken{sub: sub, exp: exp}
	// Forget expired tokens so that a long-running sandbox does not grow.
	for t, v := range p.tokens {
		if !now.Before(v.exp) {
			delete(p.tokens, t)
		}
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "OK",
		"result": map[string]any{"status": "success", "message": "login successful", "token": tok, "exp": exp.Unix()},
	})
}

func tooMany(w http.ResponseWriter, retry time.Duration) {
	secs := int((retry + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	pyError(w, http.StatusTooManyRequests, "rate limit exceeded: "+strconv.Itoa(PaidYETPerMinute)+
		" calls a minute and "+strconv.Itoa(PaidYETPerDay)+" a day; retry after "+strconv.Itoa(max(secs, 1))+" s")
}

// pyAuth checks the bearer token and the rate limits of every v3 call but
// login.
func (s *Sandbox) pyAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			pyError(w, http.StatusUnauthorized, "missing bearer token: POST /v3/login first")
			return
		}
		now := s.now()
		p := &s.py
		p.mu.Lock()
		t, known := p.tokens[strings.TrimSpace(tok)]
		switch {
		case !known:
			p.mu.Unlock()
			pyError(w, http.StatusUnauthorized, "invalid bearer token")
			return
		case !now.Before(t.exp):
			delete(p.tokens, strings.TrimSpace(tok))
			p.mu.Unlock()
			pyError(w, http.StatusUnauthorized, "bearer token expired: log in again")
			return
		}
		allowed, retry := p.allow(t.sub, now)
		p.mu.Unlock()
		if !allowed {
			tooMany(w, retry)
			return
		}
		h(w, r)
	}
}

// pyMethodNotAllowed answers a wrong method on a v3 path.
func pyMethodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	pyError(w, http.StatusMethodNotAllowed, "method not allowed; this path takes "+allow)
}

// readPYBody reads and decodes a v3 JSON body into v, answering 400/422.
func readPYBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := readBody(w, r)
	if err != nil {
		pyError(w, http.StatusBadRequest, "the request body could not be read")
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		pyError(w, http.StatusBadRequest, "invalid JSON in request body: empty")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se), strings.HasPrefix(err.Error(), "unexpected end of JSON"):
			pyError(w, http.StatusBadRequest, "invalid JSON in request body")
		case errors.As(err, &te) && te.Field != "":
			pyError(w, http.StatusUnprocessableEntity, te.Field+" has the wrong type")
		default:
			pyError(w, http.StatusUnprocessableEntity, "a field has the wrong type: values must be strings, numbers or objects as documented")
		}
		return false
	}
	return true
}

// pageParams reads page and per_page (defaults 1 and 25, at most 100).
func pageParams(r *http.Request) (page, perPage int, ok bool) {
	page, perPage = 1, 25
	for name, dst := range map[string]*int{"page": &page, "per_page": &perPage} {
		if v := r.URL.Query().Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return 0, 0, false
			}
			*dst = n
		}
	}
	return page, min(perPage, 100), true
}

func pageOf[T any](all []T, page, perPage int) []any {
	from := min((page-1)*perPage, len(all))
	to := min(from+perPage, len(all))
	out := make([]any, 0, to-from)
	for _, v := range all[from:to] {
		out = append(out, v)
	}
	return out
}
