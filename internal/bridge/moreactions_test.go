package bridge

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/sale"
)

// The messages docs/protocol.md gives for force, avsonly, authincrement
// and partialreversal decode; the auth code and billing address are read
// but never logged; a result carries the gateway's AVS answer.
func TestMoreActionsDecode(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want Request
	}{
		{`{"type":"sale","id":"f1","action":"force","amount":"42.00","auth_code":"VOX123"}`,
			Request{Type: "sale", ID: "f1", Action: "force", Amount: "42.00", AuthCode: "VOX123"}},
		{`{"type":"sale","id":"v1","action":"avsonly","billing_zip":"32606","billing_street":"5800 NW 39th AVE"}`,
			Request{Type: "sale", ID: "v1", Action: "avsonly", BillingZip: "32606", BillingStreet: "5800 NW 39th AVE"}},
		{`{"type":"authincrement","id":"i1","transaction_id":"11ee0a7b3c4d5e6f","amount":"60.00"}`,
			Request{Type: "authincrement", ID: "i1", TransactionID: "11ee0a7b3c4d5e6f", Amount: "60.00"}},
		{`{"type":"partialreversal","id":"p1","transaction_id":"11ee0a7b3c4d5e6f","amount":"35.00"}`,
			Request{Type: "partialreversal", ID: "p1", TransactionID: "11ee0a7b3c4d5e6f", Amount: "35.00"}},
	} {
		got, perr := DecodeRequest([]byte(tc.msg))
		if perr != nil || got != tc.want {
			t.Errorf("%s: %+v %v", tc.msg, got, perr)
		}
		logged, _ := json.Marshal(got.LogValue().Resolve().String())
		for _, secret := range []string{"VOX123", "32606", "5800 NW"} {
			if strings.Contains(string(logged), secret) {
				t.Errorf("%s logs %q: %s", tc.msg, secret, logged)
			}
		}
	}
	m, _ := json.Marshal(resultMsg(&sale.Result{Action: "avsonly", Outcome: "approved", Amount: "0.00", StatusID: 121, AVS: "GOOD"}, false))
	if !strings.Contains(string(m), `"avs":"GOOD"`) {
		t.Errorf("result without avs: %s", m)
	}
	if m, _ := json.Marshal(resultMsg(&sale.Result{Action: "sale", Outcome: "approved"}, false)); strings.Contains(string(m), `"avs"`) {
		t.Errorf("a result without an AVS answer has the key: %s", m)
	}
}
