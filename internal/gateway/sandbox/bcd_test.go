package sandbox

import (
	"encoding/hex"
	"testing"
)

// An Amex tag 57 with an even nibble count has no F pad, so the cipher's
// zero padding follows the discretionary digits directly; the parser must
// stop at track 2's end instead of refusing the read.
func TestBCDTrack2WithoutPad(t *testing.T) {
	p, _ := hex.DecodeString("371449635398431D29111010000000000000000000000000")
	pan, exp, ok := parseBCDTrack2(p)
	if !ok || pan != "371449635398431" || exp != "2911" {
		t.Fatalf("parseBCDTrack2 = %q %q %v", pan, exp, ok)
	}
}
