package bridge

import (
	"strings"
	"testing"
)

// TestNotPairedNamesTheAgentsCommand: every refusal of an unknown origin
// says what admits it to the agent that refused it — the agent's own
// advice when it gives one (the demo: `posagent pair --demo`), the
// service's otherwise — with the origin filled in.
func TestNotPairedNamesTheAgentsCommand(t *testing.T) {
	const origin = "http://localhost:5173"
	demoHint := func(o string) string { return "run `posagent pair --demo --origin " + o + "`" }
	tests := []struct {
		name   string
		opt    harnessOpt
		want   string
		denied bool // a second hello is refused by the deny cool-down
	}{
		{"no cashier dialog, the demo's advice", func(o *Options, _ *timing) { o.PairHint = demoHint }, "`posagent pair --demo --origin " + origin + "`", false},
		{"no cashier dialog, no advice given", func(o *Options, _ *timing) {}, "`posagent pair --origin " + origin + "`", false},
		{"the cashier denies", func(o *Options, _ *timing) { o.PairHint = demoHint; o.Pairer = AutoApprove(PairAlways) }, "`posagent pair --demo --origin " + origin + "`", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, tc.opt)
			c := h.mustDial(origin)
			c.send(`{"type":"hello","id":"1"}`)
			m := c.expectError(CodeNotPaired)
			if msg, _ := m["message"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("not_paired message %q does not name %s", msg, tc.want)
			}
			if !tc.denied {
				return
			}
			c.send(`{"type":"hello","id":"2"}`)
			m = c.expectError(CodeNotPaired)
			if msg, _ := m["message"].(string); !strings.Contains(msg, "a moment ago") || !strings.Contains(msg, tc.want) {
				t.Errorf("cool-down message %q does not name %s", msg, tc.want)
			}
		})
	}
}
