package card

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
)

// testBINs are issuer prefixes reserved for testing, with the card length of
// each brand. The simulated reader (and the bridge's test engine) make up
// the rest of the number, so that no card number needs to be written in the
// product, its pages or its docs.
var testBINs = map[string]struct {
	bin    string
	length int
}{
	"visa":     {"411111", 16},
	"mc":       {"545454", 16},
	"amex":     {"371449", 15},
	"disc":     {"601100", 16},
	"discover": {"601100", 16},
}

// TestBrands lists the brand names TestPAN accepts.
func TestBrands() []string { return []string{"visa", "mc", "amex", "disc"} }

// TestPAN returns a fresh Luhn-valid number on a test BIN of the brand
// ("visa", "mc", "amex", "disc"). The sandbox approves or declines it by the
// sale's amount, like any valid card.
func TestPAN(brand string) (string, error) {
	b, ok := testBINs[strings.ToLower(strings.TrimSpace(brand))]
	if !ok {
		return "", fmt.Errorf("unknown test card brand %q: use one of %s", brand, strings.Join(TestBrands(), ", "))
	}
	digits := []byte(b.bin)
	for len(digits) < b.length-1 {
		n, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return "", err
		}
		digits = append(digits, byte('0'+n.Int64()))
	}
	return string(digits) + string(rune('0'+luhnCheckDigit(digits))), nil
}

// luhnCheckDigit is the digit that makes payload+digit pass Luhn.
func luhnCheckDigit(payload []byte) int {
	sum := 0
	double := true // the rightmost payload digit is doubled once the check digit is appended
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}
