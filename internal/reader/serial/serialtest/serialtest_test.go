package serialtest

import (
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/decrypt"
)

// Each frame parses as an encrypting ID TECH read with a new KSN, and
// carries only the masked number in the clear.
func TestFramesHaveFreshKSNs(t *testing.T) {
	c, err := NewIDTechCard(DemoKSN, "TEST0001")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 5 {
		f, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		rd, err := decrypt.ParseIDTech(f)
		if err != nil {
			t.Fatal(err)
		}
		ksn := string(rd.Envelope.KSN)
		if seen[ksn] || !rd.Envelope.KSN.Valid() {
			t.Errorf("KSN %s reused or invalid", ksn)
		}
		seen[ksn] = true
		if mp := string(rd.MaskedPAN); !strings.HasPrefix(mp, "4111") || !strings.Contains(mp, "****") {
			t.Errorf("masked PAN %q", mp)
		}
	}
}
