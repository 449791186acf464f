package decrypt

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt/dukpt"
)

// Plaintext of every seed sample (card-formats.md §9): a Mastercard gift card.
const (
	seedT1 = "%B5428377011880254^YOU/A GIFT FOR^2109521000000000000000198000000?%"
	seedT2 = ";5428377011880254=21095210000019800000?>"
)

// seedCiphertexts takes the encrypted T1 and T2 out of a seed sample with the
// package's own parsers, so the test also proves the parsers find the bytes.
func seedCiphertexts(t *testing.T, format card.Format, data []byte) (t1, t2 []byte) {
	t.Helper()
	var h1, h2 []byte
	switch format {
	case card.FormatIDTech:
		var f idtechFrame
		if err := parseIDTech(data, &f); err != nil {
			t.Fatal(err)
		}
		h1, h2 = f.enc[0], f.enc[1]
	case card.FormatMagneSafe:
		fs := bytes.Split(data, []byte("|"))
		h1, h2 = fs[kbEncT1], fs[kbEncT2]
	default:
		fs := bytes.Split(data, []byte("|"))
		h1, h2 = fs[1], fs[2]
	}
	var err error
	if t1, err = hex.DecodeString(string(h1)); err != nil {
		t.Fatal(err)
	}
	if t2, err = hex.DecodeString(string(h2)); err != nil {
		t.Fatal(err)
	}
	return t1, t2
}

// TestSeedSampleVariants decrypts the four seed samples with the public
// ANSI test BDK and shows which DUKPT key each e_format uses: idtech and
// ksn the data key, magnesafe and ksnpin the PIN variant. The other key
// must not decrypt them, or the test would prove nothing.
func TestSeedSampleVariants(t *testing.T) {
	bdk, _ := hex.DecodeString(dukpt.TestBDK)
	ksn := mustKSN(t, "62994900730004200002")
	tests := []struct {
		file   string
		format card.Format
		right  dukpt.TrackKeyKind
		wrong  dukpt.TrackKeyKind
	}{
		{"seed_idtech.txt", card.FormatIDTech, dukpt.TrackDataKey, dukpt.TrackPINKey},
		{"seed_ksn.txt", card.FormatKSN, dukpt.TrackDataKey, dukpt.TrackPINKey},
		{"seed_magnesafe.txt", card.FormatMagneSafe, dukpt.TrackPINKey, dukpt.TrackDataKey},
		{"seed_ksnpin.txt", card.FormatKSNPIN, dukpt.TrackPINKey, dukpt.TrackDataKey},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			c1, c2 := seedCiphertexts(t, tc.format, bytes.TrimSpace(readSample(t, tc.file)))
			key, err := dukpt.TrackKey(bdk, ksn, tc.right)
			if err != nil {
				t.Fatal(err)
			}
			p1, err := dukpt.DecryptTDESCBC(key, c1)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := dukpt.DecryptTDESCBC(key, c2)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(p1), seedT1) || !strings.HasPrefix(string(p2), seedT2) {
				t.Fatalf("%v does not decrypt the %s sample", tc.right, tc.format)
			}
			wrongKey, _ := dukpt.TrackKey(bdk, ksn, tc.wrong)
			if w1, _ := dukpt.DecryptTDESCBC(wrongKey, c1); bytes.HasPrefix(w1, []byte("%B")) {
				t.Fatalf("%v decrypts the %s sample too: the test cannot tell the variants apart", tc.wrong, tc.format)
			}
		})
	}
}
