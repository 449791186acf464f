package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Amount is a sum of money in cents. Money never travels as a float inside
// the agent: 0.1+0.2 is not 0.3, and a gateway reconciles to the cent.
type Amount int64

// maxAmountDigits bounds parsed amounts well below int64 overflow; gateway
// amount fields are at most 10 characters anyway.
const maxAmountDigits = 15

// ErrAmount is wrapped by every amount parse error.
var ErrAmount = errors.New("invalid amount")

// ParseAmount parses a decimal amount such as "12.34", "12.3", "12" or
// "-1.00" (at most two decimals; no exponent, no currency sign).
func ParseAmount(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("%w: empty", ErrAmount)
	}
	if hasDot && frac == "" {
		return 0, fmt.Errorf("%w: %q ends with a dot", ErrAmount, s)
	}
	if len(frac) > 2 {
		// Gateways send "20.00" but some send "20.000"; accept trailing zeros only.
		if strings.Trim(frac[2:], "0") != "" {
			return 0, fmt.Errorf("%w: %q has more than two decimals", ErrAmount, s)
		}
		frac = frac[:2]
	}
	if whole == "" {
		whole = "0"
	}
	if len(whole) > maxAmountDigits || !allDigits(whole) || !allDigits(frac) {
		return 0, fmt.Errorf("%w: %q is not a decimal number", ErrAmount, s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %w", ErrAmount, s, err)
	}
	if neg {
		v = -v
	}
	return Amount(v), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the amount with two decimals, e.g. "12.34".
func (a Amount) String() string {
	var b [24]byte
	return string(a.AppendTo(b[:0]))
}

// AppendTo appends the two-decimal form of a to dst.
func (a Amount) AppendTo(dst []byte) []byte {
	v := int64(a)
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	dst = strconv.AppendInt(dst, v/100, 10)
	c := v % 100
	return append(dst, '.', byte('0'+c/10), byte('0'+c%10))
}

// UnmarshalJSON accepts what gateways send for money: a JSON number (1,
// 20.00) or a string ("120.00"). null and "" leave the amount zero.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
		if s == "" {
			*a = 0
			return nil
		}
	}
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}
