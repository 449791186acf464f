package decrypt

import (
	"github.com/posagent/posagent/internal/card"
)

const hexUpper = "0123456789ABCDEF"

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func hexPair(a, b byte) (byte, bool) {
	x, ok1 := unhex(a)
	y, ok2 := unhex(b)
	return x<<4 | y, ok1 && ok2
}

func isHex(s []byte) bool {
	for _, c := range s {
		if _, ok := unhex(c); !ok {
			return false
		}
	}
	return true
}

// decodeHexInto decodes hex text into dst and returns the byte count.
func decodeHexInto(dst, src []byte) (int, bool) {
	if len(src)%2 != 0 || len(src)/2 > len(dst) {
		return 0, false
	}
	for i := 0; i < len(src); i += 2 {
		v, ok := hexPair(src[i], src[i+1])
		if !ok {
			return 0, false
		}
		dst[i/2] = v
	}
	return len(src) / 2, true
}

func appendHex(dst, src []byte) []byte {
	for _, b := range src {
		dst = append(dst, hexUpper[b>>4], hexUpper[b&0x0F])
	}
	return dst
}

// decodeKSN turns a KSN field (binary, or hex text) into a card.KSN and
// refuses a zero KSN: a reader without a key sends zeros and its data is not
// encrypted.
func decodeKSN(field []byte, text bool) (card.KSN, error) {
	n := len(field)
	if text {
		n /= 2
	}
	if n != 10 && n != 12 {
		return nil, errorf(CodeBadKSN, "KSN must be 10 or 12 bytes, got %d", n)
	}
	k := make(card.KSN, n)
	if text {
		if _, ok := decodeHexInto(k, field); !ok {
			return nil, errorf(CodeBadKSN, "KSN is not hex")
		}
	} else {
		copy(k, field)
	}
	if !k.Valid() {
		return nil, clearData("the reader reports a zero KSN (no encryption key loaded)")
	}
	return k, nil
}

// trimSerial cuts a serial number field at its first NUL or 0xFF fill and
// drops surrounding spaces.
func trimSerial(b []byte) []byte {
	for i, c := range b {
		if c == 0 || c == 0xFF {
			b = b[:i]
			break
		}
	}
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	if !printable(b) {
		return nil
	}
	return b
}

// fillPublic sets the masked PAN, cardholder name and device serial of r from
// the masked tracks. Name and serial share one allocation.
func fillPublic(r *card.Read, t maskedTracks, serial []byte) {
	if pan := panOf(t); pan != nil {
		r.MaskedPAN = card.MaskFromReaderBytes(pan)
	}
	name := nameOf(t)
	if len(name)+len(serial) > 0 {
		s := string(name) + string(serial)
		r.CardholderName = s[:len(name)]
		r.Device.Serial = s[len(name):]
	}
	if r.MaskedPAN == "" {
		r.Warnings = append(r.Warnings, "the read has no masked PAN")
	}
}
