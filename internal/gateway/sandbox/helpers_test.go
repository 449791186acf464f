package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness drives a Sandbox through ServeHTTP and scans every response for
// leaks.
type harness struct {
	t     testing.TB
	s     *Sandbox
	clock *fakeClock
	mu    sync.Mutex
	slept []time.Duration
}

func newHarness(t testing.TB) *harness {
	h := &harness{t: t, clock: &fakeClock{t: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)}}
	h.s = New(Options{
		Now: h.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.mu.Lock()
			h.slept = append(h.slept, d)
			h.mu.Unlock()
			return nil
		},
	})
	return h
}

// do sends one request and returns the status and the raw body.
func (h *harness) do(method, path string, body any, hdr map[string]string) (int, []byte) {
	h.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.s.ServeHTTP(rec, req)
	out := rec.Body.Bytes()
	checkLeak(h.t, out)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		h.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if !json.Valid(out) {
		h.t.Errorf("%s %s: response is not JSON: %.200s", method, path, out)
	}
	return rec.Code, out
}

var payaHeaders = map[string]string{"developer-id": DeveloperID, "user-id": UserID, "user-api-key": UserAPIKey}

// paya sends a v2 request with the default credentials and decodes the
// answer.
func (h *harness) paya(method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	code, raw := h.do(method, path, body, payaHeaders)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		h.t.Fatalf("%s %s: %v: %.200s", method, path, err, raw)
	}
	return code, m
}

// post sends POST /v2/transactions {"transaction": fields}.
func (h *harness) post(fields map[string]any) (int, map[string]any) {
	h.t.Helper()
	return h.paya(http.MethodPost, "/v2/transactions", map[string]any{"transaction": fields})
}

// txn returns the "transaction" object of a response, failing if absent.
func txn(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	v, ok := m["transaction"].(map[string]any)
	if !ok {
		t.Fatalf("no transaction object in %v", m)
	}
	return v
}

// num reads a JSON number field as int.
func num(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// fieldMsgs returns the 422 messages of one field.
func fieldMsgs(m map[string]any, field string) []any {
	errs, _ := m["errors"].(map[string]any)
	l, _ := errs[field].([]any)
	return l
}

// checkLeak fails if body holds any seed ciphertext or a Luhn-valid run of
// 13 to 19 digits: the shape of a clear card number.
func checkLeak(t testing.TB, body []byte) {
	t.Helper()
	up := strings.ToUpper(string(body))
	for _, ct := range seedCiphertexts {
		if strings.Contains(up, ct) || strings.Contains(up, ct[:16]) {
			t.Errorf("response contains seed ciphertext: %.300s", body)
		}
	}
	if run := luhnRun(string(body)); run != "" {
		t.Errorf("response contains a Luhn-valid %d-digit run %s…: %.300s", len(run), run[:6], body)
	}
}

// luhnRun returns the first substring of 13-19 digits that passes Luhn.
func luhnRun(s string) string {
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		run := s[i:j]
		for a := 0; a+13 <= len(run); a++ {
			for n := 13; n <= 19 && a+n <= len(run); n++ {
				if card.Luhn(run[a : a+n]) {
					return run[a : a+n]
				}
			}
		}
		i = j
	}
	return ""
}

func TestLuhnRunFindsPANs(t *testing.T) {
	// The scanner must be able to fail, or every leak test passes vacuously.
	for _, s := range []string{`{"x":"5428377011880254"}`, "ab4111111111111111cd", "x 0004111111111111111"} {
		if luhnRun(s) == "" {
			t.Errorf("luhnRun(%q) found nothing", s)
		}
	}
	for _, s := range []string{`{"id":"11ef5a4db0c0ffee1c0ca7e1","t":1773500966}`, "542837******0254"} {
		if r := luhnRun(s); r != "" {
			t.Errorf("luhnRun(%q) = %q", s, r)
		}
	}
}
