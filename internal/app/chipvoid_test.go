package app

import (
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/sale"
)

// TestChipCompletionFaultsOverTheWebsocket: a page of the demo, as a
// stranger would use it, asks for chip sales whose completion fails (the
// amounts of docs/readers.md): the card declines the approval (.91), the
// reader is unplugged before the card is told (.92). Each sale's one result
// is declined with card_declined_after_approval, names the agent's void,
// and the sandbox holds the transaction voided (status 201); an ordinary
// chip sale stays approved.
func TestChipCompletionFaultsOverTheWebsocket(t *testing.T) {
	a := startDemoWithPages(t)
	p := openPage(t, a.URL(), originA)
	for _, tc := range []struct {
		id, amount, outcome string
		voided              bool
	}{
		{"c1", "12.91", string(sale.OutcomeDeclined), true},
		{"c2", "12.92", string(sale.OutcomeDeclined), true},
		{"c3", "12.50", string(sale.OutcomeApproved), false},
	} {
		// After the unplug the reader comes back within a second or two:
		// until then a sale is refused with no_reader.
		for try := 0; ; try++ {
			p.send(map[string]any{"type": "sale", "id": tc.id, "amount": tc.amount})
			r := p.wait(func(m map[string]any) bool {
				return m["id"] == tc.id && (m["type"] == "prompt" || m["type"] == "error")
			}, "prompt "+tc.id)
			if r["type"] == "prompt" {
				break
			}
			if r["code"] != engine.CodeNoReader || try == 50 {
				t.Fatalf("sale %s refused: %s", tc.id, r["_raw"])
			}
			time.Sleep(100 * time.Millisecond)
		}
		p.send(map[string]any{"type": "simulate", "id": "x" + tc.id, "card": "visa", "entry_mode": "C"})
		if r := p.reply("simulated", "x"+tc.id); r["type"] != "simulated" {
			t.Fatalf("simulate %s: %s", tc.id, r["_raw"])
		}
		res := p.result(tc.id)
		tx := obj(res, "transaction")
		if res["outcome"] != tc.outcome {
			t.Errorf("%s: %s", tc.id, res["_raw"])
			continue
		}
		if !tc.voided {
			if res["code"] != nil || res["void_transaction_api_id"] != nil || tx["status_id"] != float64(101) {
				t.Errorf("%s: %s", tc.id, res["_raw"])
			}
			continue
		}
		if res["code"] != engine.CodeCardDeclinedAfterApproval || str(res["void_transaction_api_id"]) == "" || tx["status_id"] != float64(201) ||
			tx["verbiage"] != "CARD DECLINED - CHARGE VOIDED" {
			t.Errorf("%s: %s", tc.id, res["_raw"])
		}
		// The agent's void is in the journal, not a result of its own.
		v, found, _ := a.Engine().Get(str(res["void_transaction_api_id"]))
		if !found || v.ReversalOf != str(res["transaction_api_id"]) || v.Outcome != sale.OutcomeApproved || !v.Acked {
			t.Errorf("%s: void record %+v", tc.id, v)
		}
	}
}
