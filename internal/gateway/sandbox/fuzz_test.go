package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/card"
)

// FuzzPayaRequest feeds arbitrary bodies to POST /v2/transactions and PUT
// /v2/transactions/{id}: the answer is always JSON with a known status,
// never a panic or a hang.
func FuzzPayaRequest(f *testing.F) {
	seeds := []any{
		map[string]any{"transaction": keyedSale("6.16")},
		map[string]any{"transaction": seedSale("idtech", seedIDTech, seedKSN, "S", "1.00")},
		map[string]any{"transaction": seedSale("magnesafe", seedMagneSafe, "", "S", "2.01")},
		map[string]any{"transaction": seedSale("ksn", seedKSNData, seedKSN, "C", "8.01")},
		map[string]any{"transaction": map[string]any{"action": "debit", "payment_method": "ach", "transaction_amount": "1",
			"account_number": "1234", "routing": "072000326", "account_type": "checking", "ach_sec_code": "PPD", "account_holder_name": "A"}},
		map[string]any{"transaction": map[string]any{"action": "void"}},
		map[string]any{"action": "sale", "transaction_amount": 1.5, "custom_data": map[string]any{"a": 1}},
	}
	for _, s := range seeds {
		b, _ := json.Marshal(s)
		f.Add(b)
	}
	f.Add([]byte(`{"transaction": {`))
	f.Add([]byte(`{"transaction": null}`))
	f.Add([]byte(`{"transaction": {"transaction_amount": [1]}}`))
	f.Add([]byte(`"x"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		// A fresh sandbox each time keeps memory flat over millions of
		// runs; one stored sale gives the PUT half something to change.
		h := newHarness(t)
		_, m := h.post(keyedSale("9.00"))
		id := m["transaction"].(map[string]any)["id"].(string)
		for _, target := range []struct{ method, path string }{{"POST", "/v2/transactions"}, {"PUT", "/v2/transactions/" + id}} {
			req := httptest.NewRequest(target.method, target.path, strings.NewReader(string(body)))
			for k, v := range payaHeaders {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.s.ServeHTTP(rec, req)
			switch rec.Code {
			case 200, 201, 400, 404, 409, 413, 422:
			default:
				t.Fatalf("%s: status %d: %s", target.method, rec.Code, rec.Body)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s: not JSON: %s", target.method, rec.Body)
			}
		}
	})
}

// FuzzPaidYETRequest does the same for the v3 transaction and card bodies.
func FuzzPaidYETRequest(f *testing.F) {
	for _, s := range []any{
		pySale(visa, "12.00", ""), pySale("4000300611112224", "1", "auth"),
		map[string]any{"amount": 1, "type": "capture"}, map[string]any{"type": "void"},
		map[string]any{"amount": 1, "type": "refund"}, map[string]any{"number": visa, "exp": "09/29"},
	} {
		b, _ := json.Marshal(s)
		f.Add(b)
	}
	f.Add([]byte(`{"amount": "x", "credit_card": []}`))
	h := newHarness(f)
	tok := h.token()
	_, _, items := h.py(tok, "POST", "/v3/transaction", pySale(visa, "50", "sale"))
	idPath := "/v3/transaction/" + strconv.Itoa(num(items[0], "id"))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range []struct{ method, path string }{
			{"POST", "/v3/transaction"}, {"POST", "/v3/card"}, {"PUT", idPath}, {"PATCH", idPath}, {"POST", idPath},
		} {
			// Keep the rate limiter out of the way.
			h.s.py.mu.Lock()
			h.s.py.rate = map[string]*rateState{}
			h.s.py.mu.Unlock()
			req := httptest.NewRequest(target.method, target.path, strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.s.ServeHTTP(rec, req)
			switch rec.Code {
			case 200, 400, 404, 422:
			default:
				t.Fatalf("%s %s: status %d: %s", target.method, target.path, rec.Code, rec.Body)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("not JSON: %s", rec.Body)
			}
		}
	})
}

// FuzzTrackData fuzzes the e_track_data reader of every layout: no panic,
// and an error never quotes the input.
func FuzzTrackData(f *testing.F) {
	f.Add("idtech", seedIDTech, "")
	f.Add("magnesafe", seedMagneSafe, "")
	f.Add("ksn", seedKSNData, seedKSN)
	f.Add("ksnpin", seedKSNPINData, seedKSN)
	f.Add("idtech", keyboardFrame("801F432800039B"), "")
	f.Add("ksn", "%*4111|0011223344556677|", "FFFF9876543210E00001")
	f.Add("magnesafe", "|||||||||", "")
	f.Fuzz(func(t *testing.T, format, data, serial string) {
		s, err := cutEnvelope(card.Format(format), data, serial)
		if err == nil {
			var c cardData
			c, err = s.open()
			if err == nil && (len(c.pan) < 12 || len(c.pan) > 19 || !digitsOnly(c.pan)) {
				t.Fatalf("opened a card with a malformed number of %d characters", len(c.pan))
			}
		}
		if err != nil {
			msg := err.Error()
			if len(data) >= 12 && strings.Contains(msg, data) {
				t.Fatalf("error quotes the input: %v", err)
			}
			if !printable(msg) {
				t.Fatalf("error is not printable ASCII: %q", msg)
			}
		}
	})
}

// FuzzEMVTag57: unwrapping never panics and returns the input or a part
// of it that a TLV header framed.
func FuzzEMVTag57(f *testing.F) {
	f.Add([]byte{0x57, 0x03, 0x41, 0x11, 0xDF, 0, 0})
	f.Add([]byte{0x57, 0x13})
	f.Add([]byte{0x57, 0x12, 0x34, 0x56, 0xD2, 0x51, 0x2F, 0, 0, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		v := emvTag57(p)
		if len(v) != len(p) && (len(p) < 2 || len(v) != int(p[1]) || !bytes.Equal(v, p[2:2+len(v)])) {
			t.Fatalf("%X -> %X", p, v)
		}
		parseBCDTrack2(v)
	})
}
