package card

import (
	"log/slog"
	"strings"
)

// MaskedPAN is a card number with at most the first six and last four digits
// visible and every other digit replaced by '*', e.g. "5428********0254".
// Only Mask and MaskFromReader make one, so a MaskedPAN can never hold more.
type MaskedPAN string

// Most digits PCI DSS lets a masked PAN show.
const (
	maxLead  = 6
	maxTrail = 4
)

// Mask masks a clear PAN to first 6 / last 4. It is for the sandbox and the
// simulator, which know clear numbers; readers deliver masked data already.
func Mask(pan string) MaskedPAN {
	return maskDigits(pan, maxLead)
}

// MaskFromReader normalizes a PAN as a reader masked it. Any non-digit is a
// mask character. MagTek readers may mask with '0' (then a masked PAN cannot
// be told from a clear one), so a PAN without any mask character keeps only
// its first 4 and last 4 digits; one that shows more than 6/4 is cut back.
func MaskFromReader(pan string) MaskedPAN {
	return MaskFromReaderBytes([]byte(pan))
}

// MaskFromReaderBytes is MaskFromReader for a slice of a reader's buffer; it
// makes one allocation, the result.
func MaskFromReaderBytes(pan []byte) MaskedPAN {
	for len(pan) > 0 && pan[0] == ' ' {
		pan = pan[1:]
	}
	for len(pan) > 0 && pan[len(pan)-1] == ' ' {
		pan = pan[:len(pan)-1]
	}
	if len(pan) == 0 {
		return ""
	}
	lead := 0
	for lead < len(pan) && isDigit(pan[lead]) {
		lead++
	}
	trail := 0
	for trail < len(pan)-lead && isDigit(pan[len(pan)-1-trail]) {
		trail++
	}
	if lead == len(pan) {
		// No mask character at all: keep first 4 / last 4 (see above).
		lead, trail = min(4, len(pan)/2-2), min(4, len(pan)/2-2)
		if lead < 0 {
			lead, trail = 0, 0
		}
	}
	lead, trail = min(lead, maxLead), min(trail, maxTrail)
	var b strings.Builder
	b.Grow(len(pan))
	for i, c := range pan {
		if i < lead || i >= len(pan)-trail {
			b.WriteByte(c)
		} else {
			b.WriteByte('*')
		}
	}
	return MaskedPAN(b.String())
}

func maskDigits(pan string, lead int) MaskedPAN {
	if len(pan) <= maxTrail {
		return MaskedPAN(strings.Repeat("*", len(pan)))
	}
	// Short numbers keep fewer leading digits so that at least half stay hidden.
	if len(pan) < lead+maxTrail+4 {
		lead = max(0, len(pan)-maxTrail-4)
	}
	b := []byte(pan)
	for i := lead; i < len(b)-maxTrail; i++ {
		b[i] = '*'
	}
	return MaskedPAN(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// LastFour is the last four characters when they are digits, else "".
func (m MaskedPAN) LastFour() string {
	if len(m) < 4 {
		return ""
	}
	s := string(m[len(m)-4:])
	for i := 0; i < 4; i++ {
		if !isDigit(s[i]) {
			return ""
		}
	}
	return s
}

// Brand is the card brand read from the visible leading digits.
func (m MaskedPAN) Brand() Brand { return BrandOf(string(m)) }

// LogValue: a MaskedPAN is safe to log by construction.
func (m MaskedPAN) LogValue() slog.Value { return slog.StringValue(string(m)) }

// Brand is a card brand, spelled as the gateway's account_type.
type Brand string

// Brands the agent recognizes.
const (
	BrandVisa     Brand = "visa"
	BrandMC       Brand = "mc"
	BrandAmex     Brand = "amex"
	BrandDiscover Brand = "disc"
	BrandJCB      Brand = "jcb"
	BrandDiners   Brand = "diners"
	BrandUnknown  Brand = ""
)

// BrandOf tells the brand from the leading digits of a (masked or clear) PAN.
func BrandOf(pan string) Brand {
	n := 0
	for n < len(pan) && n < 6 && isDigit(pan[n]) {
		n++
	}
	p := pan[:n]
	in := func(lo, hi int, digits int) bool {
		if len(p) < digits {
			return false
		}
		v := atoi(p[:digits])
		return v >= lo && v <= hi
	}
	switch {
	case in(4, 4, 1):
		return BrandVisa
	case in(51, 55, 2), in(2221, 2720, 4):
		return BrandMC
	case in(34, 34, 2), in(37, 37, 2):
		return BrandAmex
	case in(6011, 6011, 4), in(644, 649, 3), in(65, 65, 2), in(622126, 622925, 6):
		return BrandDiscover
	case in(3528, 3589, 4):
		return BrandJCB
	case in(300, 305, 3), in(36, 36, 2), in(38, 39, 2):
		return BrandDiners
	}
	return BrandUnknown
}

func atoi(s string) int {
	v := 0
	for i := 0; i < len(s); i++ {
		v = v*10 + int(s[i]-'0')
	}
	return v
}

// Luhn reports whether digits is a Luhn-valid number of 13 to 19 digits: the
// shape of a clear PAN. Leak scans use it.
func Luhn(digits string) bool {
	return len(digits) >= 13 && len(digits) <= 19 && Mod10(digits)
}

// Mod10 reports whether digits (any length, digits only) pass the Luhn
// mod-10 check. Callers with their own length rules use it directly.
func Mod10(digits string) bool {
	if digits == "" {
		return false
	}
	sum, alt := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if !isDigit(c) {
			return false
		}
		d := int(c - '0')
		if alt {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		alt = !alt
	}
	return sum%10 == 0
}
