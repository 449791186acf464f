package emv

import (
	"errors"
	"fmt"
)

// MaxN12 is the largest amount an n12 field holds: 999 999 999 999 minor
// units.
const MaxN12 = 999_999_999_999

// ErrAmount is wrapped by amount errors.
var ErrAmount = errors.New("invalid amount")

// AmountN12 encodes an amount in minor units (cents) as the 6-byte n12 BCD of
// 9F02/9F03: 1250 → 00 00 00 00 12 50.
func AmountN12(cents int64) ([]byte, error) {
	if cents < 0 || cents > MaxN12 {
		return nil, fmt.Errorf("%w: %d is outside 0…%d", ErrAmount, cents, int64(MaxN12))
	}
	b := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		lo := cents % 10
		cents /= 10
		hi := cents % 10
		cents /= 10
		b[i] = byte(hi<<4 | lo)
	}
	return b, nil
}

// ParseN12 decodes an n12 BCD amount (9F02/9F03) into minor units.
func ParseN12(b []byte) (int64, error) {
	if len(b) != 6 {
		return 0, fmt.Errorf("%w: n12 is 6 bytes, got %d", ErrAmount, len(b))
	}
	var v int64
	for i, c := range b {
		hi, lo := c>>4, c&0x0F
		if hi > 9 || lo > 9 {
			return 0, fmt.Errorf("%w: byte %d is not BCD", ErrAmount, i)
		}
		v = v*100 + int64(hi)*10 + int64(lo)
	}
	return v, nil
}
