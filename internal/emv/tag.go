package emv

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Tag is a BER-TLV tag: its bytes read as a big-endian number, so tag 9F02 is
// Tag(0x9F02) and DFDFDF37 is Tag(0xDFDFDF37). Tags are at most 4 bytes long.
// A tag never starts with a 00 byte (00 is padding), so the number gives the
// byte length back unambiguously.
type Tag uint32

// MaxTagLen is the longest tag the parser accepts. MagTek's private tags
// (DFDFDF37…) use all four bytes.
const MaxTagLen = 4

// Len is the number of bytes of the tag.
func (t Tag) Len() int {
	switch {
	case t > 0xFFFFFF:
		return 4
	case t > 0xFFFF:
		return 3
	case t > 0xFF:
		return 2
	}
	return 1
}

// firstByte is the tag's first byte, which carries the class and the
// constructed bit.
func (t Tag) firstByte() byte { return byte(t >> (8 * uint(t.Len()-1))) }

// AppendTo appends the tag's bytes to dst.
func (t Tag) AppendTo(dst []byte) []byte {
	for i := t.Len() - 1; i >= 0; i-- {
		dst = append(dst, byte(t>>(8*uint(i))))
	}
	return dst
}

// Bytes is the tag's encoding.
func (t Tag) Bytes() []byte { return t.AppendTo(make([]byte, 0, MaxTagLen)) }

// String is the tag in upper-case hex, e.g. "9F02", "DFEE12".
func (t Tag) String() string {
	const digits = "0123456789ABCDEF"
	var buf [2 * MaxTagLen]byte
	n := t.Len()
	for i := 0; i < n; i++ {
		b := byte(t >> (8 * uint(n-1-i)))
		buf[2*i] = digits[b>>4]
		buf[2*i+1] = digits[b&0x0F]
	}
	return string(buf[:2*n])
}

// Legacy reports whether t is one of ID TECH's legacy two-byte FFxx tags
// (see isLegacySecond).
func (t Tag) Legacy() bool {
	return t.Len() == 2 && t>>8 == 0xFF && isLegacySecond(byte(t))
}

// Constructed reports whether a value under t holds nested TLVs.
//
// BER says so by bit 6 of the first tag byte. Vendors break the rule in two
// known ways, both handled here:
//   - ID TECH's FFEE12 (KSN) and FFEE1F (error detail) have the bit set but
//     hold plain bytes; FFEE01 has it too and really is a container;
//   - ID TECH's legacy two-byte FFxx tags (FFE4 group number, FFF1 limits …)
//     are configuration values, not containers.
func (t Tag) Constructed() bool {
	if t.primitiveOverride() || t.Legacy() {
		return false
	}
	return t.firstByte()&0x20 != 0
}

// primitiveOverride reports tags whose first byte has the constructed bit
// but whose value is plain data: ID TECH's FFEE12 (KSN, captures 2 and 3) and
// FFEE1F (error detail: error code, SW1, SW2, RF state).
func (t Tag) primitiveOverride() bool { return t == 0xFFEE12 || t == 0xFFEE1F }

// isLegacySecond is the rule for ID TECH's legacy two-byte tags. Older NEO
// firmware emits tags FFE1…FFE9 and FFF0…FFFF (NEO 2 guide §4.4: "2-byte tags
// that begin with 'FF'", replaced by DFEExx tags when DFEF3D/DFED11 selects the
// BER form). Their second byte has bit 8 set, which in BER would announce a
// third tag byte. So after a first byte FF, a second byte in E0…FF ends the
// tag, with one exception: EE, ID TECH's BER-valid three-byte FFEExx family
// (FFEE01 group, FFEE12 KSN, FFEE1F error detail) seen in real captures.
// FF81xx (Mastercard FF8105/FF8106) and FF42 (MagTek) are unaffected.
func isLegacySecond(c byte) bool { return c >= 0xE0 && c != 0xEE }

// ParseTag parses a tag written in hex, e.g. "9F02" or "dfee12". The tag must
// be complete: "9F" alone is an error because 9F announces a second byte.
func ParseTag(s string) (Tag, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("parse tag %q: not hex: %w", s, err)
	}
	if len(b) == 0 || b[0] == 0x00 {
		return 0, fmt.Errorf("parse tag %q: %w: empty or starting with 00", s, ErrMalformed)
	}
	t, n, f := readTag(b)
	if f != faultNone {
		return 0, fmt.Errorf("parse tag %q: %w: %s", s, ErrMalformed, f)
	}
	if n != len(b) {
		return 0, fmt.Errorf("parse tag %q: %w: tag ends after %d bytes", s, ErrMalformed, n)
	}
	return t, nil
}

// MustTag is ParseTag for constants in tables and tests; it panics on a bad tag.
func MustTag(s string) Tag {
	t, err := ParseTag(s)
	if err != nil {
		panic(err)
	}
	return t
}

// readTag reads one tag from the start of b.
func readTag(b []byte) (Tag, int, fault) {
	if len(b) == 0 {
		return 0, 0, faultTruncatedTag
	}
	t := Tag(b[0])
	if b[0]&0x1F != 0x1F {
		return t, 1, faultNone
	}
	if b[0] == 0xFF && len(b) >= 2 && isLegacySecond(b[1]) {
		return t<<8 | Tag(b[1]), 2, faultNone
	}
	n := 1
	for {
		if n >= len(b) {
			return 0, 0, faultTruncatedTag
		}
		c := b[n]
		t = t<<8 | Tag(c)
		n++
		if c&0x80 == 0 {
			return t, n, faultNone
		}
		if n == MaxTagLen {
			return 0, 0, faultTagTooLong
		}
	}
}
