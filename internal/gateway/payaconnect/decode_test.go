package payaconnect

import (
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
)

// Response samples shaped like the seed's (trimmed), with the quirks it
// shows: amounts as numbers and strings, "auth" for auth_code, an EMV
// receipt object.
var decodeSamples = []struct {
	name string
	body string
	want gateway.Result // fields checked: ID, StatusID, Outcome, Amount, AuthCode, LastFour, EntryMode, Receipt.APPLAB
	err  bool
}{
	{"sale number amount", `{"transaction":{"id":"111111111111111111111111","payment_method":"cc","first_six":"545454","last_four":"5454","transaction_amount":1,"auth_amount":1,"auth":"812823","status_id":101,"type_id":20,"location_id":"x","account_type":"mc","entry_mode_id":"C","emv_receipt_data":{"APPLAB":"US Maestro","APPN":"US Maestro","CVM":"Pin Verified"}}}`,
		gateway.Result{ID: "111111111111111111111111", StatusID: 101, Outcome: gateway.OutcomeApproved, Amount: 100, AuthCode: "812823", LastFour: "5454", EntryMode: "C", Receipt: receipt("US Maestro")}, false},
	{"authonly string amount", `{"transaction":{"id":"2","transaction_amount":"120.00","auth_amount":"120.00","auth_code":"4887ad","status_id":102,"type_id":20,"reason_code_id":1000,"last_four":"5454","entry_mode_id":"K","emv_receipt_data":null}}`,
		gateway.Result{ID: "2", StatusID: 102, Outcome: gateway.OutcomeApproved, Amount: 12000, AuthCode: "4887ad", LastFour: "5454", EntryMode: "K"}, false},
	{"declined string status", `{"transaction":{"id":"3","status_id":"301","reason_code_id":"1500","transaction_amount":"5.00"}}`,
		gateway.Result{ID: "3", StatusID: 301, Outcome: gateway.OutcomeDeclined, Amount: 500}, false},
	{"receipt as string", `{"transaction":{"id":"4","status_id":101,"emv_receipt_data":"{\"APPLAB\":\"VISA CREDIT\"}"}}`,
		gateway.Result{ID: "4", StatusID: 101, Outcome: gateway.OutcomeApproved, Receipt: receipt("VISA CREDIT")}, false},
	{"bad receipt ignored", `{"transaction":{"id":"5","status_id":201,"emv_receipt_data":[1,2]}}`,
		gateway.Result{ID: "5", StatusID: 201, Outcome: gateway.OutcomeApproved}, false},
	{"unknown status", `{"transaction":{"id":"6","status_id":999}}`, gateway.Result{ID: "6", StatusID: 999, Outcome: gateway.OutcomeError}, false},
	{"no wrapper", `{"id":"7","status_id":101}`, gateway.Result{}, true},
	{"no id", `{"transaction":{"status_id":101}}`, gateway.Result{}, true},
	{"amount 3 decimals", `{"transaction":{"id":"8","transaction_amount":"1.005"}}`, gateway.Result{}, true},
	{"amount object", `{"transaction":{"id":"8","transaction_amount":{}}}`, gateway.Result{}, true},
	{"status float", `{"transaction":{"id":"9","status_id":1e400}}`, gateway.Result{}, true},
	{"array", `[]`, gateway.Result{}, true},
	{"empty", ``, gateway.Result{}, true},
	{"truncated", `{"transaction":{"id":"1`, gateway.Result{}, true},
}

func receipt(applab string) card.Receipt { return card.Receipt{APPLAB: applab} }

// digits counts the digits in s.
func digits(s string) int {
	n := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			n++
		}
	}
	return n
}

func fieldTexts(fs []gateway.FieldError) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Message)
	}
	return out
}

func TestDecodeTransaction(t *testing.T) {
	for _, tt := range decodeSamples {
		tx, err := DecodeTransaction([]byte(tt.body))
		if (err != nil) != tt.err {
			t.Errorf("%s: err %v, want error %v", tt.name, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		r := tx.Result()
		w := tt.want
		if r.ID != w.ID || r.StatusID != w.StatusID || r.Outcome != w.Outcome || r.Amount != w.Amount ||
			r.AuthCode != w.AuthCode || r.LastFour != w.LastFour || r.EntryMode != w.EntryMode || r.Receipt.APPLAB != w.Receipt.APPLAB {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, r, w)
		}
	}
}

func TestDecodeList(t *testing.T) {
	txs, pg, err := DecodeList([]byte(`{"transactions":[{"id":"a","status_id":101},{"id":"b","status_id":201}],"meta":{"pagination":{"totalCount":14,"pageCount":5,"currentPage":0,"perPage":3}}}`))
	if err != nil || len(txs) != 2 || txs[1].ID != "b" || pg.PageCount != 5 || pg.TotalCount != 14 {
		t.Errorf("DecodeList = %v %+v %v", txs, pg, err)
	}
	for _, bad := range []string{`{}`, `{"transactions":{}}`, `null`, `{"transactions":[{"status_id":"x"}]}`} {
		if _, _, err := DecodeList([]byte(bad)); err == nil {
			t.Errorf("DecodeList(%s): no error", bad)
		}
	}
}

func TestDecodeErrorBody(t *testing.T) {
	tests := []struct{ body, msg, fields string }{
		{`{"errors":{"b":["x","y"],"a":["z"]}}`, "", "a: z|b: x|b: y"},
		{`{"errors":{"a":"z"},"message":"m"}`, "m", "a: z"},
		{`[{"field":"f","message":"m"}]`, "", "f: m"},
		{`{"error":"e"}`, "e", ""},
		{`not json`, "", ""},
		{`{"message":"` + strings.Repeat("x", 400) + `"}`, strings.Repeat("x", 300) + "…", ""},
	}
	for _, tt := range tests {
		msg, fields := decodeErrorBody([]byte(tt.body))
		var fs []string
		for _, f := range fields {
			fs = append(fs, f.String())
		}
		if msg != tt.msg || strings.Join(fs, "|") != tt.fields {
			t.Errorf("decodeErrorBody(%.40s) = %q, %q; want %q, %q", tt.body, msg, fs, tt.msg, tt.fields)
		}
	}
}

// FuzzDecodeTransaction: any bytes give a transaction or an error, never a
// panic, and a decoded one normalizes.
func FuzzDecodeTransaction(f *testing.F) {
	for _, s := range decodeSamples {
		f.Add([]byte(s.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := DecodeTransaction(b)
		if err != nil {
			if tx != nil {
				t.Fatal("transaction with error")
			}
			return
		}
		r := tx.Result()
		if r.ID == "" {
			t.Fatal("decoded without id")
		}
		if len(r.MaskedPAN) > 0 && digits(string(r.MaskedPAN)) > 10 {
			t.Fatalf("masked PAN shows %d digits", digits(string(r.MaskedPAN)))
		}
	})
}

func FuzzDecodeList(f *testing.F) {
	f.Add([]byte(`{"transactions":[{"id":"a","status_id":101}],"meta":{"pagination":{"pageCount":1}}}`))
	f.Add([]byte(`{"transactions":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		txs, _, err := DecodeList(b)
		if err == nil {
			for i := range txs {
				_ = txs[i].Result()
			}
		}
	})
}

func FuzzDecodeErrorBody(f *testing.F) {
	f.Add([]byte(`{"errors":{"transaction_api_id":["taken"]}}`))
	f.Add([]byte(`[{"field":"f","message":"m 4111111111111111"}]`))
	f.Add([]byte(`{"message":"x","error":"y"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Gateway text follows the one card-data policy (card.RedactPANs):
		// no card number or track is left in it, whatever the gateway sent.
		msg, fields := decodeErrorBody(b)
		for _, s := range append([]string{msg}, fieldTexts(fields)...) {
			if found := card.FindCardData(s); len(found) > 0 {
				t.Fatalf("card data left in %q: %s at %d", s, found[0].Kind, found[0].Start)
			}
		}
	})
}

// created_ts (unix seconds) becomes Result.Created: the engine takes a
// lookup's find as a sale's only when it was created after the sale began.
func TestResultCreated(t *testing.T) {
	r := (&Transaction{CreatedTS: 1796602205}).Result()
	if want := time.Unix(1796602205, 0); !r.Created.Equal(want) {
		t.Errorf("Created %v, want %v", r.Created, want)
	}
	if r := (&Transaction{}).Result(); !r.Created.IsZero() {
		t.Errorf("no created_ts gave %v, want zero (unknown)", r.Created)
	}
}
