package leakscan

import (
	"strings"
	"testing"
)

// A planted clear PAN, track, key or ciphertext is found; masked data, ids,
// KSNs and timestamps are not.
func TestScan(t *testing.T) {
	pan := TestCards[0]
	tests := []struct {
		line string
		kind string
	}{
		{`{"level":"DEBUG","msg":"read","pan":"` + pan + `"}`, "pan"},
		{"embedded in hex: 1a2b" + pan + "ff", "pan"},
		{"track %B" + pan + "^TEST CARD/VI^2112101?", "track1"},
		{"track ;" + pan + "=2112101?", "track2"},
		{"key 0123456789abcdeffedcba9876543210", "key"},
		{"e_track_data " + strings.Repeat("A1", 48), "ciphertext"},
		{`{"masked_pan":"411111******1111","ksn":"62994900730004200002","id":"3f2b6c0e-4624-4251-8823-083b7ff622c6"}`, ""},
		{"ts 1732250000000 tx 11eff56a33ee6e7e353b1ddb", ""},
	}
	for _, tc := range tests {
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
			t.Errorf("false positive on %q: %v", tc.line, f)
		case tc.kind != "" && !has:
			t.Errorf("missed %s in %q: %v", tc.kind, tc.line, f)
		}
		for _, x := range f {
			if strings.Contains(x.String(), pan) {
				t.Errorf("the finding repeats the card number: %s", x)
			}
		}
	}
}
