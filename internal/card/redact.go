package card

import "strings"

// RedactPANs masks, in free text, every run of 13–19 digits that passes
// Luhn to first 6 / last 4, and cuts clear track data after its start
// sentinel. It is the logging layer's safety net: card data should never
// reach a log line in the first place, but if a bug or a gateway echo puts
// it there, the line still leaks nothing.
func RedactPANs(s string) string {
	if !needsRedaction(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for i < len(s) {
		c := s[i]
		if isDigit(c) {
			j := i
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			run := s[i:j]
			if len(run) >= 13 && len(run) <= 19 && Luhn(run) {
				b.WriteString(string(Mask(run)))
			} else {
				b.WriteString(run)
			}
			i = j
			continue
		}
		// "%B<digits>^" and ";<digits>=" are clear track starts.
		if (c == '%' && i+2 < len(s) && s[i+1] == 'B' && isDigit(s[i+2])) || (c == ';' && i+1 < len(s) && isDigit(s[i+1]) && strings.IndexByte(s[i:], '=') > 0) {
			end := strings.IndexByte(s[i:], '?')
			if end < 0 {
				end = len(s) - i - 1
			}
			b.WriteString("[track redacted]")
			i += end + 1
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// needsRedaction is the fast path: most log text has no long digit run and
// no track sentinel.
func needsRedaction(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) {
			run++
			if run >= 13 {
				return true
			}
			continue
		}
		run = 0
		if c == '%' || c == ';' {
			return true
		}
	}
	return false
}

// ContainsPAN reports whether s holds something shaped like a clear card
// number: a whole run of 13–19 digits, not glued to letters (hex ids are
// full of digit runs), that passes Luhn and starts like a card brand. Places
// that must refuse card data (the journal, text a page sends) use it; it is
// deliberately narrower than RedactPANs so that ids and timestamps never
// block a sale, while every real PAN still matches.
func ContainsPAN(s string) bool {
	run := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isDigit(s[i]) {
			run++
			continue
		}
		if run >= 13 && run <= 19 {
			start := i - run
			glued := (start > 0 && isLetter(s[start-1])) || (i < len(s) && isLetter(s[i]))
			if d := s[start:i]; !glued && Luhn(d) && BrandOf(d) != BrandUnknown {
				return true
			}
		}
		run = 0
	}
	return false
}

func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
