package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// field is one request value as the real APIs take it: a JSON string, number
// or boolean (clients send "10.00", 10 and 10.0 interchangeably, and 1/true
// for flags). Set tells a present value from an absent or null one.
type field struct {
	Set bool
	V   string
}

// UnmarshalJSON accepts a string, number, boolean or null; objects and
// arrays are refused so that a wrong shape is a validation error, not a
// silent empty value.
func (f *field) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("empty value")
	case string(b) == "null":
		*f = field{}
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = field{Set: true, V: s}
	case string(b) == "true":
		*f = field{Set: true, V: "1"}
	case string(b) == "false":
		*f = field{Set: true, V: "0"}
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = field{Set: true, V: n.String()}
	default:
		return errors.New("must be a string, number or boolean")
	}
	return nil
}

// str is the trimmed value.
func (f field) str() string { return strings.TrimSpace(f.V) }

// present reports a non-blank value.
func (f field) present() bool { return f.Set && f.str() != "" }

// flag reads a boolean-ish value: 1, true, yes.
func (f field) flag() bool {
	switch strings.ToLower(f.str()) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// Errors of parseAmount; their text is shown to clients as field messages.
var (
	errAmountFormat = errors.New("must be a number with at most two decimals")
	errAmountRange  = errors.New("is out of range")
)

// maxAmount is the largest amount the 10-character transaction_amount field
// can carry (9999999.99).
const maxAmount = 999999999

// parseAmount parses a dollar amount ("12.34", "12", "12.3", "1e1" is
// refused) into cents.
func parseAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 13 {
		return 0, errAmountFormat
	}
	whole, frac, _ := strings.Cut(s, ".")
	if (whole == "" && frac == "") || len(frac) > 2 {
		return 0, errAmountFormat
	}
	if whole == "" {
		whole = "0"
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, errAmountFormat
			}
		}
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, errAmountFormat
	}
	for len(frac) < 2 {
		frac += "0"
	}
	c, _ := strconv.ParseInt(frac, 10, 64) // two digits: cannot fail
	if w > maxAmount/100 {
		return 0, errAmountRange
	}
	v := w*100 + c
	if v > maxAmount {
		return 0, errAmountRange
	}
	return v, nil
}

// money formats cents the way the newer API samples do: "10.00".
func money(c int64) string {
	neg := ""
	if c < 0 {
		neg, c = "-", -c
	}
	return neg + strconv.FormatInt(c/100, 10) + "." + string([]byte{byte('0' + c%100/10), byte('0' + c%10)})
}

// ptr returns a pointer to a copy of v, for nullable JSON fields.
func ptr[T any](v T) *T { return &v }

// optStr is nil for an empty string, so that the JSON shows null as the
// real API does for fields it did not get.
func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
