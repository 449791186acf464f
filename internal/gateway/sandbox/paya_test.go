package sandbox

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/decrypt/dukpt"
)

// Test cards of the Paya Connect sandbox (gateway-sandbox.md).
const (
	visa     = "4111111111111111"
	mc       = "5454545454545454"
	amex     = "371449635398431"
	discover = "6011000995500000"
)

func keyedSale(amount string) map[string]any {
	return map[string]any{"action": "sale", "payment_method": "cc", "account_number": visa,
		"exp_date": "1230", "transaction_amount": amount}
}

func seedSale(format, data, serial, entry, amount string) map[string]any {
	return map[string]any{"action": "sale", "payment_method": "cc", "transaction_amount": amount,
		"e_format": format, "e_track_data": data, "e_serial_number": serial, "entry_mode_id": entry,
		"terminal_serial_number": "SANDBOX-01"}
}

// TestSeedSamplesApprove: every e_format sample of the seed decrypts with the
// test BDK to the Mastercard gift card and approves, with entry_mode_id as
// sent.
func TestSeedSamplesApprove(t *testing.T) {
	tests := []struct {
		format, data, serial, entry string
	}{
		{"idtech", seedIDTech, seedKSN, "S"},
		{"idtech", seedIDTech, "", "F"}, // the frame carries its own KSN
		{"magnesafe", seedMagneSafe, seedKSN, "S"},
		{"magnesafe", seedMagneSafe + "\r\n", "", "S"}, // line end as typed by a keyboard reader
		{"ksn", seedKSNData, seedKSN, "S"},
		{"ksnpin", seedKSNPINData, seedKSN, "C"},
	}
	for _, tc := range tests {
		t.Run(tc.format+"_"+tc.entry, func(t *testing.T) {
			h := newHarness(t)
			code, m := h.post(seedSale(tc.format, tc.data, tc.serial, tc.entry, "12.34"))
			if code != http.StatusCreated {
				t.Fatalf("status %d: %v", code, m)
			}
			v := txn(t, m)
			for k, want := range map[string]any{"status_id": 101, "type_id": 20, "reason_code_id": 1000} {
				if got := num(v, k); got != want {
					t.Errorf("%s = %d, want %d", k, got, want)
				}
			}
			for k, want := range map[string]string{"last_four": "0254", "first_six": "542837", "account_type": "mc",
				"entry_mode_id": tc.entry, "transaction_amount": "12.34", "account_holder_name": "YOU/A GIFT FOR",
				"terminal_serial_number": "SANDBOX-01", "location_id": LocationID, "product_transaction_id": ProductCCID} {
				if got := str(v, k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if ac := str(v, "auth_code"); len(ac) != 6 {
				t.Errorf("auth_code %q", ac)
			}
			if _, ok := v["_links"].(map[string]any)["self"]; !ok {
				t.Errorf("no _links.self")
			}
		})
	}
}

// TestAmountTable checks the amount-driven outcomes, on a keyed card and on
// the seed's encrypted read.
func TestAmountTable(t *testing.T) {
	tests := []struct {
		amount  string
		partial bool
		status  int
		reason  int
		auth    string
		delay   time.Duration
		verb    string
	}{
		{"1.00", false, 101, 1000, "1.00", 0, "APPROVED"},
		{"2.01", true, 101, 1201, "1.00", 0, "PARTIAL APPROVAL"},
		{"2.01", false, 101, 1000, "2.01", 0, "APPROVED"},
		{"5.00", false, 301, 1500, "0.00", 0, "DENY"},
		{"5.10", false, 301, 1510, "0.00", 0, "CALL"},
		{"5.20", false, 301, 1520, "0.00", 0, "PICKUP"},
		{"5.30", false, 301, 1530, "0.00", 0, "RETRY"},
		{"5.40", false, 301, 1540, "0.00", 0, "SETUP"},
		{"5.05", false, 101, 1000, "5.05", 0, "APPROVED"},
		{"6.01", false, 301, 1601, "0.00", 0, "GENERIC FAIL"},
		{"6.16", false, 301, 1616, "0.00", 0, "INSUFFICIENT FUNDS"},
		{"6.21", false, 301, 1621, "0.00", 0, "ENCRYPTION ERROR"},
		{"6.31", false, 301, 1631, "0.00", 0, "ACCOUNT CLOSED"},
		{"6.32", false, 101, 1000, "6.32", 0, "APPROVED"},
		{"8.00", false, 301, 1500, "0.00", 0, "DENY"},
		{"8.03", false, 301, 1500, "0.00", 3 * time.Second, "DENY"},
		{"8.09", false, 301, 1500, "0.00", 9 * time.Second, "DENY"},
		{"8.10", false, 301, 1500, "0.00", 10 * time.Second, "TIMEOUT"},
		{"8.50", false, 301, 1500, "0.00", 10 * time.Second, "TIMEOUT"},
	}
	for _, tc := range tests {
		for _, src := range []string{"keyed", "idtech"} {
			t.Run(tc.amount+"_"+src, func(t *testing.T) {
				h := newHarness(t)
				req := keyedSale(tc.amount)
				if src == "idtech" {
					req = seedSale("idtech", seedIDTech, seedKSN, "S", tc.amount)
				}
				if tc.partial {
					req["allow_partial_authorization_override"] = true
				}
				code, m := h.post(req)
				if code != http.StatusCreated {
					t.Fatalf("status %d: %v", code, m)
				}
				v := txn(t, m)
				if num(v, "status_id") != tc.status || num(v, "reason_code_id") != tc.reason {
					t.Errorf("status %d reason %d, want %d %d", num(v, "status_id"), num(v, "reason_code_id"), tc.status, tc.reason)
				}
				if got := str(v, "auth_amount"); got != tc.auth {
					t.Errorf("auth_amount %q, want %q", got, tc.auth)
				}
				if got := str(v, "verbiage"); got != tc.verb {
					t.Errorf("verbiage %q, want %q", got, tc.verb)
				}
				var slept time.Duration
				for _, d := range h.slept {
					slept += d
				}
				if slept != tc.delay {
					t.Errorf("delay %v, want %v", slept, tc.delay)
				}
			})
		}
	}
}

// TestDelayCommitsFirst: a delayed sale is findable by transaction_api_id
// while the response is still being held, as a client that timed out needs.
func TestDelayCommitsFirst(t *testing.T) {
	h := newHarness(t)
	found := make(chan int, 1)
	h.s.opts.Sleep = func(_ context.Context, _ time.Duration) error {
		_, m := h.paya(http.MethodGet, "/v2/transactions?transaction_api_id=slow-1", nil)
		found <- len(m["transactions"].([]any))
		return nil
	}
	req := keyedSale("8.02")
	req["transaction_api_id"] = "slow-1"
	if code, m := h.post(req); code != http.StatusCreated {
		t.Fatalf("status %d: %v", code, m)
	}
	if n := <-found; n != 1 {
		t.Errorf("during the delay the lookup found %d transactions, want 1", n)
	}
}

func TestTransactionAPIIDUnique(t *testing.T) {
	h := newHarness(t)
	req := keyedSale("3.00")
	req["transaction_api_id"] = "pos-42-0001"
	code, m := h.post(req)
	if code != http.StatusCreated {
		t.Fatalf("first POST: %d %v", code, m)
	}
	first := str(txn(t, m), "id")
	req["transaction_amount"] = "4.00"
	code, m = h.post(req)
	if code != http.StatusUnprocessableEntity || len(fieldMsgs(m, "transaction_api_id")) == 0 {
		t.Fatalf("second POST: %d %v, want 422 with a transaction_api_id message", code, m)
	}
	// A similar id must not match: lookups are exact.
	req["transaction_api_id"] = "pos-42-00011"
	if code, _ := h.post(req); code != http.StatusCreated {
		t.Fatalf("other api id: %d", code)
	}
	code, m = h.paya(http.MethodGet, "/v2/transactions?transaction_api_id=pos-42-0001", nil)
	list, _ := m["transactions"].([]any)
	if code != http.StatusOK || len(list) != 1 {
		t.Fatalf("lookup: %d, %d hits", code, len(list))
	}
	if got := list[0].(map[string]any); str(got, "id") != first || str(got, "transaction_amount") != "3.00" {
		t.Errorf("lookup found %v, want the first transaction %s", got["id"], first)
	}
}

func TestTransactionAPIIDConcurrent(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := keyedSale("1.00")
			req["transaction_api_id"] = "race"
			code, _ := h.post(req)
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusCreated] != 1 || codes[http.StatusUnprocessableEntity] != 15 {
		t.Errorf("codes %v, want one 201 and fifteen 422", codes)
	}
}

func TestCredentials(t *testing.T) {
	h := newHarness(t)
	for _, drop := range []string{"developer-id", "user-id", "user-api-key"} {
		for _, val := range []string{"", "wrong"} {
			hdr := map[string]string{}
			for k, v := range payaHeaders {
				hdr[k] = v
			}
			hdr[drop] = val
			code, body := h.do(http.MethodPost, "/v2/transactions", map[string]any{"transaction": keyedSale("1.00")}, hdr)
			if code != http.StatusUnauthorized {
				t.Errorf("%s=%q: status %d, want 401", drop, val, code)
			}
			if !strings.Contains(string(body), `"status":401`) {
				t.Errorf("401 body %s", body)
			}
		}
	}
	if _, m := h.paya(http.MethodGet, "/v2/transactions", nil); num(m["meta"].(map[string]any)["pagination"].(map[string]any), "totalCount") != 0 {
		t.Error("a refused request was stored")
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name   string
		body   any
		code   int
		field  string
		method string
		path   string
	}{
		{"invalid JSON", `{"transaction": {`, 400, "body", "POST", "/v2/transactions"},
		{"not an object", `[1,2]`, 400, "body", "POST", "/v2/transactions"},
		{"empty body", ``, 400, "body", "POST", "/v2/transactions"},
		{"missing amount", map[string]any{"transaction": map[string]any{"action": "sale", "payment_method": "cc",
			"account_number": visa, "exp_date": "1230"}}, 422, "transaction_amount", "POST", "/v2/transactions"},
		{"bad amount", map[string]any{"transaction": keyedSale("12.345")}, 422, "transaction_amount", "POST", "/v2/transactions"},
		{"negative amount", map[string]any{"transaction": keyedSale("-1")}, 422, "transaction_amount", "POST", "/v2/transactions"},
		{"zero amount", map[string]any{"transaction": keyedSale("0")}, 422, "transaction_amount", "POST", "/v2/transactions"},
		{"amount as object", `{"transaction":{"action":"sale","transaction_amount":{"a":1}}}`, 422, "transaction_amount", "POST", "/v2/transactions"},
		{"missing action", map[string]any{"transaction": map[string]any{"transaction_amount": "1"}}, 422, "action", "POST", "/v2/transactions"},
		{"unknown action", map[string]any{"transaction": map[string]any{"action": "steal"}}, 422, "action", "POST", "/v2/transactions"},
		{"bad card", map[string]any{"transaction": map[string]any{"action": "sale", "payment_method": "cc",
			"account_number": "4111111111111112", "exp_date": "1230", "transaction_amount": "1"}}, 422, "account_number", "POST", "/v2/transactions"},
		{"no card", map[string]any{"transaction": map[string]any{"action": "sale", "payment_method": "cc",
			"transaction_amount": "1"}}, 422, "account_number", "POST", "/v2/transactions"},
		{"missing exp", map[string]any{"transaction": map[string]any{"action": "sale", "payment_method": "cc",
			"account_number": visa, "transaction_amount": "1"}}, 422, "exp_date", "POST", "/v2/transactions"},
		{"e_track_data without e_format", map[string]any{"transaction": map[string]any{"action": "sale", "payment_method": "cc",
			"e_track_data": seedIDTech, "transaction_amount": "1"}}, 422, "e_format", "POST", "/v2/transactions"},
		{"bad e_format", map[string]any{"transaction": seedSale("xml", seedIDTech, seedKSN, "S", "1")}, 422, "e_format", "POST", "/v2/transactions"},
		{"bad entry mode", map[string]any{"transaction": seedSale("idtech", seedIDTech, seedKSN, "Z", "1")}, 422, "entry_mode_id", "POST", "/v2/transactions"},
		{"method mismatch", map[string]any{"transaction": map[string]any{"action": "debit", "payment_method": "cc",
			"transaction_amount": "1"}}, 422, "payment_method", "POST", "/v2/transactions"},
		{"bad location", map[string]any{"transaction": func() map[string]any {
			m := keyedSale("1")
			m["location_id"] = "nowhere"
			return m
		}()}, 422, "location_id", "POST", "/v2/transactions"},
		{"force without auth_code", map[string]any{"transaction": func() map[string]any {
			m := keyedSale("1")
			m["action"] = "force"
			return m
		}()}, 422, "auth_code", "POST", "/v2/transactions"},
		{"vault", map[string]any{"transaction": map[string]any{"action": "sale", "payment_method": "cc",
			"account_vault_id": "v1", "transaction_amount": "1"}}, 422, "account_vault_id", "POST", "/v2/transactions"},
		{"unknown record", nil, 404, "id", "GET", "/v2/transactions/11efnothere"},
		{"unknown endpoint", nil, 404, "endpoint", "GET", "/v2/contacts"},
		{"wrong method", nil, 405, "method", "DELETE", "/v2/transactions"},
		{"wrong method on record", nil, 405, "method", "DELETE", "/v2/transactions/abc"},
		{"update sale action", map[string]any{"transaction": map[string]any{"action": "sale"}}, 422, "action", "PUT", "/v2/transactions/abc"},
		{"bad list page", nil, 422, "page", "GET", "/v2/transactions?page=x"},
		{"bad amount filter", nil, 422, "transaction_amount", "GET", "/v2/transactions?transaction_amount=a|b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			code, m := h.paya(tc.method, tc.path, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %v", code, tc.code, m)
			}
			msgs := fieldMsgs(m, tc.field)
			if len(msgs) == 0 || str(m, "message") == "" || num(m, "status") != tc.code {
				t.Errorf("want a message for field %q and status %d: %v", tc.field, tc.code, m)
			}
		})
	}
}

// TestEncryptionErrors: data that cannot be read, decrypted or parsed
// declines with 1621 and never comes back in the response.
func TestEncryptionErrors(t *testing.T) {
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	// A KSN of the same device with another counter: decrypts to noise.
	otherKSN := "62994900730004200003"
	tests := []struct {
		name, format, data, serial string
	}{
		{"garbage ksn", "ksn", "not encrypted at all", seedKSN},
		{"garbage idtech", "idtech", "02zz", ""},
		{"garbage magnesafe", "magnesafe", "|||", ""},
		{"clear tracks as ksn", "ksn", "%B4111111111111111^TEST CARD/VI^30121015432112345678?;4111111111111111=30121015432112345678?", seedKSN},
		{"idtech as ksn", "ksn", seedIDTech, seedKSN},
		{"ksn without serial", "ksn", seedKSNData, ""},
		{"ksn bad serial", "ksn", seedKSNData, "62994900"},
		{"ksn wrong counter", "ksn", seedKSNData, otherKSN},
		{"ksn with PIN data", "ksn", seedKSNPINData, seedKSN},
		{"ksnpin with data-key data", "ksnpin", seedKSNData, seedKSN},
		{"idtech flipped ciphertext", "idtech", flip(seedIDTech, 300), ""},
		{"idtech cut short", "idtech", seedIDTech[:200], ""},
		{"idtech zero counter", "idtech", strings.Replace(seedIDTech, "62994900730004200002", "62994900730004200000", 1), ""},
		{"magnesafe odd hex", "magnesafe", strings.Replace(seedMagneSafe, "|1|4111", "|1|411", 1), ""},
		{"magnesafe missing fields", "magnesafe", seedMagneSafe[:strings.LastIndexByte(seedMagneSafe, '|')], ""},
		{"ksn only masked", "ksn", "%*5428********0254^X^*?*||", seedKSN},
		{"binary", "ksn", "\x00\x01\x02|\xff|\xfe", seedKSN},
		{"huge", "ksn", strings.Repeat("AB", 5000), seedKSN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			code, raw := h.do(http.MethodPost, "/v2/transactions",
				map[string]any{"transaction": seedSale(tc.format, tc.data, tc.serial, "S", "1.00")}, payaHeaders)
			if code != http.StatusCreated {
				t.Fatalf("status %d: %s", code, raw)
			}
			if strings.Contains(string(raw), tc.data) {
				t.Errorf("response echoes e_track_data")
			}
			_, m := h.paya(http.MethodGet, "/v2/transactions?reason_code_id=1621", nil)
			list := m["transactions"].([]any)
			if len(list) != 1 {
				t.Fatalf("%d transactions with reason 1621: %s", len(list), raw)
			}
			v := list[0].(map[string]any)
			if num(v, "status_id") != 301 || v["last_four"] != nil || str(v, "verbiage") != "ENCRYPTION ERROR" {
				t.Errorf("got %v", v)
			}
			if str(v, "response_message") == "" {
				t.Errorf("no response_message explaining the decline")
			}
		})
	}
}

// TestEMVTrack2Equivalent: in the ksn form, a decrypted "track 2" that is
// BCD track-2-equivalent data (tag 57) is read like track 2.
func TestEMVTrack2Equivalent(t *testing.T) {
	const ksnHex = "FFFF9876543210E00001"
	ksn, _ := hex.DecodeString(ksnHex)
	bdk, _ := hex.DecodeString(dukpt.TestBDK)
	tests := []struct {
		name, tag57 string
		format      string
		kind        dukpt.TrackKeyKind
		last4       string
	}{
		{"odd digits, F pad", "4111111111111111D3012201123456789F", "ksn", dukpt.TrackDataKey, "1111"},
		{"even digits", "5454545454545454D30122010000", "ksn", dukpt.TrackDataKey, "5454"},
		{"ksnpin", "371449635398431D3012201000000F", "ksnpin", dukpt.TrackPINKey, "8431"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plain, err := hex.DecodeString(tc.tag57)
			if err != nil {
				t.Fatal(err)
			}
			plain = append(plain, make([]byte, (8-len(plain)%8)%8)...)
			key, err := dukpt.TrackKey(bdk, ksn, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			ct, err := dukpt.EncryptTDESCBC(key, plain)
			if err != nil {
				t.Fatal(err)
			}
			data := ";" + tc.tag57[:6] + "******" + tc.last4 + "=****?||" + strings.ToUpper(hex.EncodeToString(ct))
			h := newHarness(t)
			code, m := h.post(seedSale(tc.format, data, ksnHex, "C", "7.00"))
			if code != http.StatusCreated {
				t.Fatalf("status %d: %v", code, m)
			}
			v := txn(t, m)
			if num(v, "status_id") != 101 || str(v, "last_four") != tc.last4 || str(v, "entry_mode_id") != "C" {
				t.Errorf("got status %d last_four %q entry %q", num(v, "status_id"), str(v, "last_four"), str(v, "entry_mode_id"))
			}
			// The same data in the idtech/magnesafe layouts is not accepted
			// as BCD: only the ksn forms carry EMV data.
			if _, ok := readTracks(nil, plain, false); ok {
				t.Errorf("BCD track read without allowBCD")
			}
		})
	}
}

func TestClearTrackData(t *testing.T) {
	h := newHarness(t)
	code, m := h.post(map[string]any{"action": "sale", "payment_method": "cc", "transaction_amount": "6.16",
		"track_data": "%B4111111111111111^TEST CARD/VI^30121015432112345678?;4111111111111111=30121015432112345678?"})
	if code != http.StatusCreated {
		t.Fatalf("status %d: %v", code, m)
	}
	v := txn(t, m)
	if num(v, "reason_code_id") != 1616 || str(v, "last_four") != "1111" || str(v, "entry_mode_id") != "S" ||
		str(v, "account_type") != "visa" {
		t.Errorf("got %v", v)
	}
}

func TestKeyedExpired(t *testing.T) {
	h := newHarness(t) // clock: March 2026
	for exp, reason := range map[string]int{"0226": 1622, "0326": 1000, "0426": 1000} {
		req := keyedSale("1.00")
		req["exp_date"] = exp
		_, m := h.post(req)
		if got := num(txn(t, m), "reason_code_id"); got != reason {
			t.Errorf("exp %s: reason %d, want %d", exp, got, reason)
		}
	}
}

func TestAVSAndCVV(t *testing.T) {
	tests := []struct {
		street, zip, cvv, pan string
		avs, enhanced, cvvR   any
		status                int
	}{
		{"5800 NW 39th AVE", "32606", "999", visa, "GOOD", "Y", "M", 101},
		{"5800 nw 39TH  ave", "32606", "123", mc, "GOOD", "Y", "N", 101},
		{"2831 NW 41st St STE J", "32615", "124", discover, "BAD", "N", "P", 301},
		{"1 Main St", "32606", "125", visa, "STREET", "Z", "S", 101},
		{"5800 NW 39th AVE", "10001", "126", visa, "ZIP", "A", "U", 101},
		{"1 Main St", "10001", "127", visa, "BAD", "N", "X", 101},
		{"", "", "", visa, nil, "V", "", 101},
		{"", "", "555", visa, nil, "V", "N", 101},
		{"", "", "1234", amex, nil, "V", "M", 101},
		{"", "", "9999", amex, nil, "V", "N", 101},
		{"", "", "9995", amex, nil, "V", "X", 101},
		{"", "", "999", amex, nil, "V", "N", 101},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			h := newHarness(t)
			req := keyedSale("10.00")
			req["account_number"] = tc.pan
			for k, v := range map[string]string{"billing_street": tc.street, "billing_zip": tc.zip, "cvv": tc.cvv} {
				if v != "" {
					req[k] = v
				}
			}
			_, m := h.post(req)
			v := txn(t, m)
			if v["avs"] != tc.avs || v["avs_enhanced"] != tc.enhanced || v["cvv_response"] != tc.cvvR || num(v, "status_id") != tc.status {
				t.Errorf("avs %v/%v cvv %v status %d, want %v/%v %v %d", v["avs"], v["avs_enhanced"], v["cvv_response"],
					num(v, "status_id"), tc.avs, tc.enhanced, tc.cvvR, tc.status)
			}
		})
	}
}

func TestAVSOnly(t *testing.T) {
	h := newHarness(t)
	req := keyedSale("")
	delete(req, "transaction_amount")
	req["action"] = "avsonly"
	req["billing_street"], req["billing_zip"] = avsGoodStreet, avsGoodZip
	code, m := h.post(req)
	v := txn(t, m)
	if code != http.StatusCreated || num(v, "status_id") != 121 || num(v, "type_id") != 21 || str(v, "avs") != "GOOD" ||
		str(v, "transaction_amount") != "0.00" {
		t.Errorf("got %d %v", code, v)
	}
}

// step is one request of a state-rule scenario.
type step struct {
	method, target, action, amount string // target: "" = POST; "$auth" etc. = id of a named earlier result
	extra                          map[string]any
	code, status                   int
	name                           string // name this result
	check                          map[string]string
}

func runSteps(t *testing.T, steps []step) {
	h := newHarness(t)
	ids := map[string]string{}
	for i, s := range steps {
		body := map[string]any{"action": s.action}
		if s.amount != "" {
			body["transaction_amount"] = s.amount
		}
		for k, v := range s.extra {
			if sv, ok := v.(string); ok && strings.HasPrefix(sv, "$") {
				v = ids[sv[1:]]
			}
			body[k] = v
		}
		path := "/v2/transactions"
		if s.target != "" {
			path += "/" + ids[s.target]
		}
		code, m := h.paya(s.method, path, map[string]any{"transaction": body})
		if code != s.code {
			t.Fatalf("step %d (%s %s): status %d, want %d: %v", i, s.method, s.action, code, s.code, m)
		}
		if code >= 300 {
			continue
		}
		v := txn(t, m)
		if s.status != 0 && num(v, "status_id") != s.status {
			t.Errorf("step %d (%s): status_id %d, want %d", i, s.action, num(v, "status_id"), s.status)
		}
		for k, want := range s.check {
			if got := fmt.Sprint(v[k]); got != want {
				t.Errorf("step %d (%s): %s = %s, want %s", i, s.action, k, got, want)
			}
		}
		if s.name != "" {
			ids[s.name] = str(v, "id")
		}
	}
}

func cardFields(extra map[string]any) map[string]any {
	m := map[string]any{"payment_method": "cc", "account_number": mc, "exp_date": "1230"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestAuthCaptureRefundRules(t *testing.T) {
	runSteps(t, []step{
		{method: "POST", action: "authonly", amount: "50.00", extra: cardFields(nil), code: 201, status: 102, name: "auth",
			check: map[string]string{"type_id": "20", "auth_amount": "50.00"}},
		{method: "POST", action: "refund", amount: "1.00", extra: cardFields(map[string]any{"previous_transaction_id": "$auth"}), code: 422},
		{method: "PUT", target: "auth", action: "authincrement", amount: "10.00", code: 422}, // less than the authorization
		{method: "PUT", target: "auth", action: "authincrement", amount: "60.00", code: 200, status: 102,
			check: map[string]string{"auth_amount": "60.00", "transaction_amount": "60.00"}},
		{method: "PUT", target: "auth", action: "authcomplete", amount: "55.00", code: 200, status: 101,
			check: map[string]string{"reason_code_id": "1001", "transaction_amount": "55.00"}},
		{method: "PUT", target: "auth", action: "authcomplete", code: 422},
		{method: "PUT", target: "auth", action: "authincrement", amount: "1.00", code: 422},
		{method: "POST", action: "refund", amount: "55.01", extra: map[string]any{"payment_method": "cc", "previous_transaction_id": "$auth"}, code: 422},
		{method: "POST", action: "refund", amount: "20.00", extra: map[string]any{"payment_method": "cc", "previous_transaction_id": "$auth"},
			code: 201, status: 111, name: "r1", check: map[string]string{"type_id": "30", "last_four": "5454"}},
		{method: "POST", action: "refund", amount: "35.01", extra: map[string]any{"payment_method": "cc", "previous_transaction_id": "$auth"}, code: 422},
		{method: "PUT", target: "auth", action: "void", code: 422}, // has refunds
		{method: "PUT", target: "r1", action: "void", code: 200, status: 201, check: map[string]string{"reason_code_id": "1200"}},
		{method: "PUT", target: "r1", action: "void", code: 422},
		{method: "POST", action: "refund", amount: "55.00", extra: map[string]any{"payment_method": "cc", "previous_transaction_id": "$auth"}, code: 201, status: 111},
		{method: "POST", action: "refund", amount: "0.01", extra: map[string]any{"payment_method": "cc", "previous_transaction_id": "$auth"}, code: 422},
	})
}

func TestVoidAndAdjustRules(t *testing.T) {
	runSteps(t, []step{
		{method: "POST", action: "sale", amount: "20.00", extra: cardFields(nil), code: 201, status: 101, name: "sale"},
		{method: "PUT", target: "sale", action: "tipadjust", amount: "23.00", code: 200, status: 101,
			check: map[string]string{"tip_amount": "3.00", "transaction_amount": "23.00"}},
		{method: "PUT", target: "sale", action: "tipadjust", amount: "19.00", code: 422},
		{method: "PUT", target: "sale", action: "tipadjust", amount: "25.00", code: 200,
			check: map[string]string{"tip_amount": "5.00", "transaction_amount": "25.00"}},
		{method: "POST", action: "refund", amount: "25.00", extra: map[string]any{"payment_method": "cc", "previous_transaction_id": "$sale"}, code: 201, name: "r"},
		{method: "PUT", target: "r", action: "void", code: 200, status: 201},
		{method: "PUT", target: "sale", action: "partialreversal", amount: "30.00", code: 422},
		{method: "PUT", target: "sale", action: "partialreversal", amount: "15.00", code: 200,
			check: map[string]string{"transaction_amount": "15.00"}},
		{method: "PUT", target: "sale", action: "edit", extra: map[string]any{"description": "table 4"}, code: 200,
			check: map[string]string{"description": "table 4"}},
		{method: "POST", action: "void", extra: map[string]any{"previous_transaction_id": "$sale"}, code: 422},
		{method: "PUT", target: "sale", action: "void", code: 200, status: 201,
			check: map[string]string{"transaction_amount": "0.00"}},
		{method: "PUT", target: "sale", action: "void", code: 422},
		{method: "PUT", target: "sale", action: "tipadjust", amount: "20.00", code: 422},
		{method: "POST", action: "refund", amount: "1.00", extra: map[string]any{"payment_method": "cc", "previous_transaction_id": "$sale"}, code: 422},
		{method: "POST", action: "sale", amount: "6.16", extra: cardFields(nil), code: 201, status: 301, name: "declined"},
		{method: "PUT", target: "declined", action: "void", code: 422},
		{method: "POST", action: "authonly", amount: "9.00", extra: cardFields(nil), code: 201, status: 102, name: "a2"},
		{method: "PUT", target: "a2", action: "void", code: 200, status: 201},
		{method: "PUT", target: "a2", action: "authcomplete", code: 422},
		{method: "POST", action: "force", amount: "4.00", extra: cardFields(map[string]any{"auth_code": "ABC123"}), code: 201, status: 101,
			check: map[string]string{"reason_code_id": "1002"}},
		{method: "POST", action: "authcomplete", code: 422}, // no previous_transaction_id
		{method: "POST", action: "sale", amount: "3.00", extra: map[string]any{"payment_method": "cc", "previous_transaction_id": "$a2"},
			code: 201, status: 101, check: map[string]string{"last_four": "5454", "first_six": "545454"}},
	})
}

func TestACH(t *testing.T) {
	ach := func(extra map[string]any) map[string]any {
		m := map[string]any{"payment_method": "ach", "ach_sec_code": "WEB", "account_holder_name": "Test Account",
			"account_type": "checking", "account_number": "01234567890", "routing": "072000326"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	runSteps(t, []step{
		{method: "POST", action: "debit", amount: "10.00", extra: ach(nil), code: 201, status: 131, name: "d",
			check: map[string]string{"type_id": "50", "last_four": "7890", "routing": "072000326", "first_six": "<nil>",
				"product_transaction_id": ProductACHID, "account_type": "checking"}},
		{method: "POST", action: "credit", amount: "4.00", extra: map[string]any{"payment_method": "ach", "ach_sec_code": "CCD",
			"previous_transaction_id": "$d"}, code: 201, status: 131, check: map[string]string{"type_id": "40", "last_four": "7890"}},
		{method: "POST", action: "credit", amount: "6.01", extra: map[string]any{"payment_method": "ach", "ach_sec_code": "CCD",
			"previous_transaction_id": "$d"}, code: 422},
		{method: "POST", action: "refund", amount: "6.00", extra: map[string]any{"payment_method": "ach", "previous_transaction_id": "$d"},
			code: 201, status: 131, check: map[string]string{"type_id": "30"}},
		{method: "POST", action: "credit", amount: "5.00", extra: ach(nil), code: 201, status: 131},
		{method: "POST", action: "debit", amount: "5.00", extra: ach(map[string]any{"routing": "072000327"}), code: 422},
		{method: "POST", action: "debit", amount: "5.00", extra: ach(map[string]any{"account_number": "123"}), code: 422},
		{method: "POST", action: "debit", amount: "5.00", extra: ach(map[string]any{"ach_sec_code": ""}), code: 422},
		{method: "POST", action: "sale", amount: "5.00", extra: ach(nil), code: 422},
		{method: "POST", action: "debit", amount: "5.00", extra: ach(map[string]any{"product_transaction_id": ProductCCID}), code: 422},
	})
}

func TestDeletedRecord(t *testing.T) {
	h := newHarness(t)
	_, m := h.post(keyedSale("1.00"))
	id := str(txn(t, m), "id")
	if !h.s.MarkDeleted(id) || h.s.MarkDeleted("nope") {
		t.Fatal("MarkDeleted")
	}
	for _, method := range []string{"GET", "PUT"} {
		code, m := h.paya(method, "/v2/transactions/"+id, map[string]any{"transaction": map[string]any{"action": "void"}})
		if code != http.StatusConflict || len(fieldMsgs(m, "id")) == 0 {
			t.Errorf("%s deleted: %d %v", method, code, m)
		}
	}
	if _, m := h.paya("GET", "/v2/transactions", nil); len(m["transactions"].([]any)) != 0 {
		t.Error("deleted transaction listed")
	}
}

func TestListFiltersAndPaging(t *testing.T) {
	h := newHarness(t)
	for i, amt := range []string{"1.00", "6.16", "10.50", "11.00", "10.99"} {
		req := keyedSale(amt)
		req["order_num"] = fmt.Sprintf("ORD%d", i)
		req["account_holder_name"] = []string{"John Smith", "Jane Smith", "Ann Lee", "Bo Lee", "Cy Lee"}[i]
		if code, m := h.post(req); code != 201 {
			t.Fatal(m)
		}
		h.clock.Advance(time.Second)
	}
	tests := []struct {
		query string
		want  []string // order_nums, newest first
	}{
		{"", []string{"ORD4", "ORD3", "ORD2", "ORD1", "ORD0"}},
		{"status_id=301", []string{"ORD1"}},
		{"status_id=101,301&last_four=1111", []string{"ORD4", "ORD3", "ORD2", "ORD1", "ORD0"}},
		{"transaction_amount=" + url.QueryEscape("10.00|10.99"), []string{"ORD4", "ORD2"}},
		{"account_holder_name=smith", []string{"ORD1", "ORD0"}},
		{"order_num=ORD3", []string{"ORD3"}},
		{"created_ts=today", []string{"ORD4", "ORD3", "ORD2", "ORD1", "ORD0"}},
		{"created_ts=yesterday", nil},
		{"page_size=2&page=2", []string{"ORD2", "ORD1"}},
		{"page_size=2&page=9", nil},
		{"last_four=9999", nil},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			code, m := h.paya("GET", "/v2/transactions?"+tc.query, nil)
			if code != 200 {
				t.Fatalf("%d %v", code, m)
			}
			var got []string
			for _, it := range m["transactions"].([]any) {
				got = append(got, str(it.(map[string]any), "order_num"))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	_, m := h.paya("GET", "/v2/transactions?page_size=2", nil)
	p := m["meta"].(map[string]any)["pagination"].(map[string]any)
	if num(p, "totalCount") != 5 || num(p, "pageCount") != 3 || num(p, "perPage") != 2 || num(p, "currentPage") != 0 {
		t.Errorf("pagination %v", p)
	}
	if _, ok := p["links"].(map[string]any)["next"]; !ok {
		t.Errorf("no next link: %v", p)
	}
}

func TestLocationInfos(t *testing.T) {
	h := newHarness(t)
	code, m := h.paya("GET", "/v2/locationinfos", nil)
	if code != 200 {
		t.Fatal(code)
	}
	locs := m["locationinfos"].([]any)
	if len(locs) != 1 {
		t.Fatalf("%d locations", len(locs))
	}
	loc := locs[0].(map[string]any)
	if str(loc, "id") != LocationID || str(loc, "default_cc") != ProductCCID || str(loc, "default_ach") != ProductACHID {
		t.Errorf("location %v", loc)
	}
	byID := map[string]map[string]any{}
	for _, p := range loc["product_transactions"].([]any) {
		pm := p.(map[string]any)
		byID[str(pm, "id")] = pm
	}
	if len(byID) != 6 || str(byID[ProductCCID], "payment_method") != "cc" || str(byID[ProductACHID], "payment_method") != "ach" {
		t.Errorf("products %v", byID)
	}
	// Each settings product shows its setting in the sample's own fields.
	if byID[ProductSurchargeID]["surcharge"] == nil || byID[ProductCCID]["surcharge"] != nil {
		t.Errorf("surcharge: %v / %v", byID[ProductSurchargeID]["surcharge"], byID[ProductCCID]["surcharge"])
	}
	if byID[ProductAutoTaxID]["vt_enable_sales_tax"] != true || num(byID[ProductAutoTaxID], "tax_surcharge_config") != 2 {
		t.Errorf("auto tax: %v", byID[ProductAutoTaxID])
	}
	if str(byID[ProductLodgingID], "industry_type") != "lodging" || str(byID[ProductCCID], "industry_type") != "retail" {
		t.Errorf("lodging: %v", byID[ProductLodgingID]["industry_type"])
	}
	if byID[ProductOrderNumID]["vt_order_num"] != true || byID[ProductCCID]["vt_order_num"] != false {
		t.Errorf("order_num: %v", byID[ProductOrderNumID]["vt_order_num"])
	}
	if code, m := h.paya("GET", "/v2/locationinfos/"+LocationID, nil); code != 200 || str(m["locationinfo"].(map[string]any), "id") != LocationID {
		t.Errorf("single: %d %v", code, m)
	}
	if code, _ := h.paya("GET", "/v2/locationinfos/other", nil); code != 404 {
		t.Errorf("unknown location: %d", code)
	}
	if code, _ := h.paya("POST", "/v2/locationinfos", nil); code != 405 {
		t.Errorf("POST locationinfos: %d", code)
	}
}

func TestGetTransaction(t *testing.T) {
	h := newHarness(t)
	_, m := h.post(seedSale("idtech", seedIDTech, seedKSN, "S", "3.21"))
	id := str(txn(t, m), "id")
	code, m := h.paya("GET", "/v2/transactions/"+id, nil)
	if code != 200 || str(txn(t, m), "id") != id || str(txn(t, m), "last_four") != "0254" {
		t.Errorf("%d %v", code, m)
	}
	href := txn(t, m)["_links"].(map[string]any)["self"].(map[string]any)["href"]
	if href != "http://example.com/v2/transactions/"+id {
		t.Errorf("self href %v", href)
	}
}
