package bridge

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
)

// Issue 16: card numbers in the free-text fields and ids of a request are
// refused at decoding, before any sale starts or the reader is asked for a
// card, with card_data naming the field and never echoing the value; a
// harmless "%B" in a description is not track data.
func TestDecodeRequestRefusesCardData(t *testing.T) {
	const (
		visaSep = "4111-1111-1111-1111"
		mcSep   = "5454 5454 5454 5454"
		disc    = "6011" + "000990139424"
		visa    = "4111" + "111111111111"
	)
	tests := []struct {
		name, raw, field string
	}{
		{"description, separated", `{"type":"sale","id":"s1","amount":"1.00","description":"visa ` + visaSep + ` / ` + mcSep + `"}`, "description"},
		{"order_num, glued", `{"type":"sale","id":"s1","amount":"1.00","order_num":"INV` + disc + `"}`, "order_num"},
		{"transaction_api_id, glued", `{"type":"sale","id":"s1","amount":"1.00","transaction_api_id":"t` + visa + `"}`, "transaction_api_id"},
		{"description, fullwidth", `{"type":"sale","id":"s1","amount":"1.00","description":"\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"}`, "description"},
		{"description, track 1", `{"type":"sale","id":"s1","amount":"1.00","description":"%B` + visa + `^DOE/J^2512?"}`, "description"},
		{"refund transaction_id", `{"type":"refund","id":"r1","amount":"1.00","transaction_id":"` + mcSep + `"}`, "transaction_id"},
		{"void transaction_api_id", `{"type":"void","id":"v1","transaction_id":"11eff56a","transaction_api_id":"` + visaSep + `"}`, "transaction_api_id"},
		{"complete amount", `{"type":"complete","id":"c1","transaction_id":"11eff56a","amount":"` + visa + `"}`, "amount"},
		{"tip_amount", `{"type":"sale","id":"s1","amount":"1.00","tip_amount":"` + visaSep + `"}`, "tip_amount"},
		{"reader", `{"type":"sale","id":"s1","amount":"1.00","reader":"sim-` + visa + `"}`, "reader"},
		{"status lookup", `{"type":"status","id":"q1","transaction_api_id":"` + visa + `"}`, "transaction_api_id"},
		// Found by the adversary pass: sent to the PaidYET gateway, which
		// keeps it and mails a receipt to it.
		{"receipt_email", `{"type":"sale","id":"s1","amount":"1.00","card_token":"tok_1","receipt_email":"` + visa + `@example.com"}`, "receipt_email"},
		{"id, separated", `{"type":"sale","id":"` + mcSep + `","amount":"1.00"}`, "id"},
		{"id, glued", `{"type":"sale","id":"s` + visa + `","amount":"1.00"}`, "id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tc.raw))
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Code != CodeCardData || !strings.HasPrefix(err.Message, tc.field+" ") {
				t.Fatalf("refusal %s %q, want %s naming %s", err.Code, err.Message, CodeCardData, tc.field)
			}
			wantID := "s1"
			if tc.field == "id" {
				wantID = "" // the id itself cannot be repeated
			} else if i := strings.Index(tc.raw, `"id":"`); i >= 0 {
				wantID = tc.raw[i+6 : i+6+strings.IndexByte(tc.raw[i+6:], '"')]
			}
			if err.ID != wantID {
				t.Errorf("refusal id %q, want %q", err.ID, wantID)
			}
			for _, leak := range []string{"4111", "5454", "6011", "\uff14"} {
				if strings.Contains(err.Message, leak) {
					t.Errorf("refusal echoes the value: %q", err.Message)
				}
			}
		})
	}
	for _, ok := range []string{
		`{"type":"sale","id":"s1","amount":"4.50","description":"20%Bonus coffee"}`,
		`{"type":"sale","id":"s1","amount":"4.50","description":"50% off; 2 coffees","order_num":"20261206235521"}`,
		`{"type":"sale","id":"3f2b6c0e-4624-4251-8823-083b7ff622c6","amount":"4.50","transaction_api_id":"c0a8e3f2-pos-1001"}`,
		`{"type":"simulate","id":"x1","card":"` + visa + `"}`,
	} {
		if _, err := DecodeRequest([]byte(ok)); err != nil {
			t.Errorf("%s: refused: %v", ok, err)
		}
	}
}

// The card_data refusal is documented where pages look for error codes.
func TestCardDataCodeDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "| `"+CodeCardData+"` |") {
		t.Errorf("docs/protocol.md's error code table lacks %s", CodeCardData)
	}
}

// What the websocket echoes of the agent's own text (a result's message and
// verbiage, warnings and errors) is redacted by the same policy: a gateway
// echo of a separated, glued or fullwidth number goes out masked.
func TestEchoesRedacted(t *testing.T) {
	rec := &sale.Result{TransactionAPIID: "t1", ClientID: "s1", Action: "sale", Outcome: "declined",
		Error: "gateway: card 4111 1111 1111 1111 refused", Verbiage: "DECLINED INV6011" + "000990139424"}
	warn := sale.Update{Kind: sale.UpdateWarning, ClientID: "s1", Code: "bad_read",
		Warning: "read \uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"}
	wm, _ := updateMsg(warn)
	for _, m := range []any{resultMsg(rec, false), errorMsg("s1", CodeInternal, "echo 5454-5454-5454-5454"), wm} {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if card.ContainsCardData(string(b)) {
			t.Errorf("echo carries card data: %s", b)
		}
		if !strings.Contains(string(b), "*") {
			t.Errorf("nothing masked: %s", b)
		}
	}
}
