package leakscan

import (
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/card"
)

// A planted clear PAN, track, key or ciphertext is found — in a log line
// and in each capture format make leakscan scans; masked data, ids, KSNs
// and timestamps are not.
func TestScan(t *testing.T) {
	pan := TestCards[0]
	const (
		// The line prefixes of the captures (test/chaos, test/browser's
		// e2e.mjs, gatewaytest.Proxy.CaptureResponses).
		chaosWS   = "2026-11-22T07:28:00.123456789Z recv "
		browserWS = "2026-11-22T07:28:00.123Z recv ws://127.0.0.1:7397/v1/ws "
		sandbox   = "2026-11-22T07:28:00.123456789Z POST /v2/transactions 201 fault=slow "
	)
	tests := []struct {
		name string
		line string
		kind string // "": nothing may be found
	}{
		{"log pan", `{"level":"DEBUG","msg":"read","pan":"` + pan + `"}`, "pan"},
		{"pan glued to letters", "order INV" + pan + " t" + pan + "x", "pan"},
		{"pan separated", "desc visa " + pan[:4] + "-" + pan[4:8] + "-" + pan[8:12] + "-" + pan[12:], "pan"},
		{"pan in fours", `{"description":"` + pan[:4] + " " + pan[4:8] + " " + pan[8:12] + " " + pan[12:] + `"}`, "pan"},
		{"pan in fullwidth digits", "desc " + fullwidth(pan), "pan"},
		{"harmless %B", `{"description":"20%Bonus coffee"}`, ""},
		{"track 1", "track %B" + pan + "^TEST CARD/VI^2112101?", "track1"},
		{"track 2", "track ;" + pan + "=2112101?", "track2"},
		{"key", "key 0123456789abcdeffedcba9876543210", "key"},
		{"ciphertext", "e_track_data " + strings.Repeat("A1", 48), "ciphertext"},
		{"chaos ws frame pan", chaosWS + `{"id":"schaos7","type":"result","masked_pan":"` + pan + `"}`, "pan"},
		{"chaos ws frame track", chaosWS + `{"type":"card","raw":"%B` + pan + `^TEST/CARD^2512"}`, "track1"},
		{"browser ws frame pan", browserWS + `{"type":"card","pan":"` + pan + `"}`, "pan"},
		{"browser ws frame ciphertext", browserWS + `{"type":"card","e_track_data":"` + strings.Repeat("9f", 48) + `"}`, "ciphertext"},
		{"sandbox response pan", sandbox + `{"transaction":{"id":"11eff56a33ee6e7e353b1ddb","account_number":"` + pan + `"}}`, "pan"},
		{"sandbox response track", sandbox + `{"transaction":{"track_data":";` + pan + `=25121010000000000000?"}}`, "track2"},
		{"masked, ksn, uuid", `{"masked_pan":"411111******1111","ksn":"62994900730004200002","id":"3f2b6c0e-4624-4251-8823-083b7ff622c6"}`, ""},
		{"ids and timestamps", "ts 1732250000000 tx 11eff56a33ee6e7e353b1ddb", ""},
		{"sandbox response, clean", sandbox + `{"transaction":{"id":"11eff56a33ee6e7e353b1ddb","first_six":"411111","last_four":"1111","created_ts":1763796480}}`, ""},
		{"chaos ws frame, clean", chaosWS + `{"id":"schaos7","type":"result","outcome":"approved","masked_pan":"4111********8190"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Scan("log", strings.NewReader(tc.line+"\n"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			has := false
			for _, x := range f {
				has = has || x.Kind == tc.kind
			}
			switch {
			case tc.kind == "" && len(f) > 0:
				t.Errorf("false positive: %v", f)
			case tc.kind != "" && !has:
				t.Errorf("missed %s: %v", tc.kind, f)
			}
			for _, x := range f {
				if strings.Contains(x.String(), pan) {
					t.Errorf("the finding repeats the card number: %s", x)
				}
			}
		})
	}
}

// TestSimulatedPANs: the numbers the simulated reader makes up
// (card.TestPAN, what the demo and the chaos run swipe) are found like the
// fixed test cards, so a scan of those runs is not blind to their cards.
func TestSimulatedPANs(t *testing.T) {
	for _, brand := range card.TestBrands() {
		for i := 0; i < 50; i++ {
			pan, err := card.TestPAN(brand)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range []string{
				`{"msg":"card","pan":"` + pan + `"}`,
				"2026-11-22T07:28:00.1Z recv {\"type\":\"card\",\"pan\":\"" + pan + "\"}",
				"glued INV" + pan + "ff",
				"fours " + pan[:4] + " " + pan[4:8] + " " + pan[8:12] + " " + pan[12:],
				"fullwidth " + fullwidth(pan),
			} {
				f, err := Scan("capture", strings.NewReader(line), Options{})
				if err != nil {
					t.Fatal(err)
				}
				if len(f) != 1 || f[0].Kind != "pan" {
					t.Fatalf("%s number (%s): findings %v, want one pan", brand, card.Mask(pan), f)
				}
				if strings.Contains(f[0].String(), pan) {
					t.Fatalf("the finding repeats the card number: %s", card.Mask(pan))
				}
			}
		}
	}
}

// fullwidth writes ASCII digits as fullwidth ones (U+FF10…).
func fullwidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '０' + (r - '0')
		}
		return r
	}, s)
}
