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

// TestEMVTag57TLV: ID TECH readers encrypt tag 57 with its tag and length;
// a bare value, even one whose PAN begins with 57, is read as before.
func TestEMVTag57TLV(t *testing.T) {
	tests := []struct {
		name, plain, pan string
	}{
		// VP3300 contact (captures.md §2) and NEO 2 contactless (§3)
		// layouts, with sandbox test numbers in place of the captures'.
		{"tlv odd, F pad", "5713" + "4111111111111111D22122011143804400000F" + "000000", "4111111111111111"},
		{"tlv even", "5712" + "5454545454545454D201220100000000000000" + "00000000", "5454545454545454"},
		{"bare, PAN starts 57", "5712345678901234D2512201000000000F" + "0000000000000000"[:14], "5712345678901234"},
		{"bare", "4111111111111111D2512201123456789F00", "4111111111111111"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := hex.DecodeString(tc.plain)
			if err != nil {
				t.Fatal(err)
			}
			pan, _, ok := parseBCDTrack2(emvTag57(p))
			if !ok || pan != tc.pan {
				t.Errorf("read %v, PAN matches: %v", ok, pan == tc.pan)
			}
		})
	}
	// A TLV whose length runs past the data, or with data after the value,
	// is not taken for one.
	for _, bad := range []string{"5714" + "4111111111111111D2212201F0", "5708" + "4111111111111111" + "D2212201F000"} {
		p, _ := hex.DecodeString(bad)
		if got := emvTag57(p); len(got) != len(p) {
			t.Errorf("%s taken for a TLV", bad[:4])
		}
	}
}
