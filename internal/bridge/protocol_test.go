package bridge

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		raw      string
		code, id string // code "" = accepted
		check    func(Request) bool
	}{
		{`{"type":"hello","id":"1","token":"abc"}`, "", "1", func(r Request) bool { return r.Token == "abc" }},
		{`{"type":"sale","id":"s1","amount":"12.34","action":"authonly","order_num":"7","transaction_api_id":"t","tip_amount":"1.00","description":"d"}`, "", "s1",
			func(r Request) bool {
				return r.Amount == "12.34" && r.Action == "authonly" && r.OrderNum == "7" && r.TransactionAPIID == "t" && r.TipAmount == "1.00" && r.Description == "d"
			}},
		{`{"type":"refund","id":"r","transaction_id":"x","amount":"1.00"}`, "", "r", func(r Request) bool { return r.TransactionID == "x" }},
		{`{"type":"simulate","id":"x","card":"4111111111111111","entry_mode":"C"}`, "", "x", func(r Request) bool { return r.Card != "" && r.EntryMode == "C" }},
		{`{"type":"ack","id":"s1","future_field":[1,2]}`, "", "s1", nil}, // unknown fields are ignored
		{`{"type":"sale","id":"s","amount":1}`, CodeInvalid, "s", nil},
		{`{"type":"sale","id":"s","amount":{}}`, CodeInvalid, "s", nil},
		{`{"type":"sale","id":["s"]}`, CodeMissingID, "", nil},
		{`{"type":"bogus","id":"b"}`, CodeUnknownType, "b", nil},
		{`{"type":"sale","id":"5454545454545454"}`, CodeCardData, "", nil},
		{`{"type":"sale","id":"s4111-1111-1111-1111"}`, CodeCardData, "", nil},
		{`{"type":"sale","id":"s","amount":7,"card":"4111111111111111"}`, CodeInvalid, "s", nil},
		{`{"type":"sale","id":"4111111111111111","amount":7}`, CodeInvalid, "", nil},
		{`{`, CodeBadJSON, "", nil},
		{`null`, CodeBadJSON, "", nil},
		{`{"type":"status","id":"q"} {"type":"status","id":"r"}`, CodeBadJSON, "", nil},
	}
	for _, tt := range tests {
		r, err := DecodeRequest([]byte(tt.raw))
		if err != nil && err.Code == CodeInvalid && strings.Contains(err.Message, "card number") {
			t.Errorf("%s: card data refused as %s, want %s", tt.raw, err.Code, CodeCardData)
		}
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.raw, err)
		case tt.code != "" && (err == nil || err.Code != tt.code || err.ID != tt.id):
			t.Errorf("%s: got %+v, want code %s id %q", tt.raw, err, tt.code, tt.id)
		case tt.code == "" && (r.ID != tt.id || (tt.check != nil && !tt.check(r))):
			t.Errorf("%s: decoded %+v", tt.raw, r)
		case err != nil && strings.Contains(err.Message, "4111111111111111"):
			t.Errorf("%s: the card number is echoed", tt.raw)
		}
	}
}

func TestRequestLogValueHidesSecrets(t *testing.T) {
	r := Request{Type: "simulate", ID: "x", Card: "4111111111111111", Token: "secret-token"}
	s := r.LogValue().String()
	if strings.Contains(s, "4111") || strings.Contains(s, "secret") {
		t.Fatalf("log value %q leaks", s)
	}
}

func TestUpdateMessages(t *testing.T) {
	rec := &sale.Result{TransactionAPIID: "t1", ClientID: "s1", Origin: "o", Action: "sale", Amount: "1.00", Outcome: "approved",
		MaskedPAN: "541333******0011", LastFour: "0011", Brand: "mc", EntryMode: "P", TransactionID: "tx", StatusID: 101, ReasonCodeID: 1000,
		AuthCode: "OK1", Verbiage: "approved 4111111111111111", Receipt: card.Receipt{AID: "A0000000041010"}}
	tests := []struct {
		u    sale.Update
		want string // JSON fragment
	}{
		{sale.Update{Kind: sale.UpdatePrompt, ClientID: "s1", Prompt: sale.PromptUseChip}, `"type":"prompt","id":"s1","prompt":"use_chip"`},
		{sale.Update{Kind: sale.UpdateCard, ClientID: "s1", Card: &sale.Card{EntryMode: card.EntryChip, Brand: card.BrandMC, MaskedPAN: card.Mask("5428377011880254"), LastFour: "0254"}},
			`"type":"card","id":"s1","entry_mode":"C","brand":"mc","masked_pan":"542837******0254","last_four":"0254"`},
		{sale.Update{Kind: sale.UpdateResult, Result: rec}, `"transaction":{"id":"tx","status_id":101,"reason_code_id":1000,"auth_code":"OK1","amount":"1.00","entry_mode_id":"P","last_four":"0011","verbiage":"approved 411111******1111"}`},
		{sale.Update{Kind: sale.UpdateResult, Result: rec}, `"receipt":{"TC":"","TVR":"","AID":"A0000000041010","TSI":"","ATC":"","APPLAB":"","APPN":"","CVM":""}`},
		{sale.Update{Kind: sale.UpdateReader, Reader: &sale.ReaderEvent{Kind: string(reader.EventDetached), Reader: sale.Reader{ID: "hid:1", Status: sale.ReaderDetached, Device: card.DeviceInfo{Vendor: "MagTek", Model: "Dynamag", Transport: "hid"}}}},
			`"type":"reader","event":"detached","reader":{"id":"hid:1","model":"MagTek Dynamag","serial":"","transport":"hid","status":"detached","detail":"","emv":false,"simulated":false}`},
		{sale.Update{Kind: sale.UpdateWarning, ClientID: "s1", Code: "clear_track_data", Warning: "not encrypting", TransactionAPIID: "t1"},
			`"type":"error","id":"s1","code":"clear_track_data","message":"not encrypting","transaction_api_id":"t1"`},
	}
	for _, tt := range tests {
		m, ok := updateMsg(tt.u)
		if !ok {
			t.Fatalf("%v: not mapped", tt.u.Kind)
		}
		b, _ := json.Marshal(m)
		if !strings.Contains(string(b), tt.want) {
			t.Errorf("%v:\n got %s\nwant …%s…", tt.u.Kind, b, tt.want)
		}
	}
	for _, u := range []sale.Update{{Kind: sale.UpdateCard}, {Kind: sale.UpdateResult}, {Kind: sale.UpdateReader}, {Kind: "other"}} {
		if _, ok := updateMsg(u); ok {
			t.Errorf("%+v mapped", u)
		}
	}
}

func TestScrubDigits(t *testing.T) {
	for in, want := range map[string]string{
		"card 4111111111111111 refused": "card ************1111 refused",
		"123456789012":                  "********9012",
		"12345678901":                   "12345678901",
		"no digits":                     "no digits",
	} {
		if got := scrubDigits(in); got != want {
			t.Errorf("scrubDigits(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecodeRequest: no input panics, every refusal has a known code and
// a message, and nothing card-shaped from the input is echoed.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","id":"1"}`, `{"type":"sale","id":"s1","amount":"12.34"}`, `{"type":"simulate","id":"x","card":"4111111111111111"}`,
		`{"type":"status","id":7}`, `[]`, `null`, `{"type":"x","id":"4111111111111111"}`, "{\"id\":\"\xff\"}", `{"type":"sale","id":"a","amount":1e999}`,
		`{"type":"sale","id":"s1","amount":"1.00","description":"visa 4111-1111-1111-1111","order_num":"INV6011000990139424"}`,
		`{"type":"refund","id":"r1","transaction_id":"\uff14\uff11\uff11\uff11 1111 1111 1111","amount":"1.00"}`,
		`{"type":"sale","id":"s1","amount":"1.00","description":"20%Bonus coffee","transaction_api_id":"t4111111111111111"}`,
	} {
		f.Add([]byte(s))
	}
	codes := map[string]bool{CodeBadJSON: true, CodeUnknownType: true, CodeMissingID: true, CodeInvalid: true, CodeNotPaired: true, CodeCardData: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			if !codes[err.Code] || err.Message == "" {
				t.Fatalf("refusal %+v", err)
			}
			if err.ID != "" && !validID(err.ID) {
				t.Fatalf("refusal echoes an invalid id %q", err.ID)
			}
			if card.RedactPANs(err.Message) != err.Message {
				t.Fatalf("refusal message carries a card number: %q", err.Message)
			}
			b, merr := json.Marshal(errorMsg(err.ID, err.Code, err.Message))
			if merr != nil || !utf8.Valid(b) {
				t.Fatalf("error reply does not encode: %v", merr)
			}
			return
		}
		if !knownTypes[r.Type] || !validID(r.ID) {
			t.Fatalf("accepted %+v", r)
		}
		// Nothing accepted carries card data in a field that is stored,
		// forwarded, echoed or logged.
		for _, v := range []string{r.ID, r.OrderNum, r.Description, r.TransactionAPIID, r.TransactionID, r.Amount, r.TipAmount, r.Action, r.Reader, r.EntryMode} {
			if card.ContainsCardData(v) {
				t.Fatalf("accepted a request with card data: %q", data)
			}
		}
	})
}
