package assets

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPosagentJSSaleFields runs posagent.js under node and checks the sale
// message it builds: the merchant-settings fields go out under their
// protocol names as strings (a zero included), absent ones not at all, and
// the old fields as before.
func TestPosagentJSSaleFields(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node on PATH")
	}
	lib, err := filepath.Abs(filepath.Join("web", "posagent.js"))
	if err != nil {
		t.Fatal(err)
	}
	script := `
const { PosAgent } = await import(process.argv[1]);
const a = new PosAgent({ WebSocket: class {}, storage: null, reconnect: false });
const sent = [];
a._state = 'open';
a._raw = (m) => { sent.push(m); return true; };
a.sale({ amount: 10.3, orderNum: 'A1001', tipAmount: '', subtotalAmount: '10.00', surchargeAmount: 0.3, tax: 0,
  checkinDate: '2026-12-01', checkoutDate: '2026-12-04', roomRate: '80.00', id: 's1' });
a.sale({ amount: '5.00', id: 's2' });
console.log(JSON.stringify(sent));
`
	out, err := exec.Command(node, "--input-type=module", "-e", script, "file://"+lib).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var sent []map[string]any
	if err := json.Unmarshal(out, &sent); err != nil || len(sent) != 2 {
		t.Fatalf("output %s: %v", out, err)
	}
	want := map[string]any{"type": "sale", "id": "s1", "action": "sale", "amount": "10.3", "order_num": "A1001",
		"subtotal_amount": "10.00", "surcharge_amount": "0.3", "tax": "0",
		"checkin_date": "2026-12-01", "checkout_date": "2026-12-04", "room_rate": "80.00"}
	if len(sent[0]) != len(want) {
		t.Errorf("sale message %v, want %v", sent[0], want)
	}
	for k, v := range want {
		if sent[0][k] != v {
			t.Errorf("%s = %v, want %v", k, sent[0][k], v)
		}
	}
	for _, k := range []string{"subtotal_amount", "surcharge_amount", "tax", "checkin_date", "checkout_date", "room_rate"} {
		if _, ok := sent[1][k]; ok {
			t.Errorf("a sale without %s sends it: %v", k, sent[1])
		}
	}
}
