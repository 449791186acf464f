//go:build !headless

package ui

import "strings"

// safeText masks every run of 13 to 19 digits (spaces and dashes inside
// allowed, as card numbers are often grouped) down to its first six and last
// four digits. The Backend hands over masked values only; this second guard
// exists because the window also shows free text from the gateway and the
// agent (verbiage, messages), and a clear card number must never be painted
// even if one of those ever echoes it.
func safeText(s string) string {
	var b strings.Builder
	runes := []rune(s)
	for i := 0; i < len(runes); {
		if !isDigit(runes[i]) {
			b.WriteRune(runes[i])
			i++
			continue
		}
		// Collect a digit run, allowing single separators between digits.
		j := i
		var digits []rune
		for j < len(runes) {
			if isDigit(runes[j]) {
				digits = append(digits, runes[j])
				j++
				continue
			}
			if (runes[j] == ' ' || runes[j] == '-') && j+1 < len(runes) && isDigit(runes[j+1]) {
				j++
				continue
			}
			break
		}
		if len(digits) >= 13 && len(digits) <= 19 {
			b.WriteString(string(digits[:6]))
			b.WriteString(strings.Repeat("*", len(digits)-10))
			b.WriteString(string(digits[len(digits)-4:]))
		} else if len(digits) > 19 {
			// Too long for a card number (a transaction id, a hash): but
			// a card number could hide inside, so keep it only if it is
			// not purely digits — which it is here. Show the last four.
			b.WriteString(strings.Repeat("*", len(digits)-4))
			b.WriteString(string(digits[len(digits)-4:]))
		} else {
			b.WriteString(string(runes[i:j]))
		}
		i = j
	}
	return b.String()
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// longestDigitRun returns the longest run of consecutive digits in s; tests
// use it to prove no clear card number was painted.
func longestDigitRun(s string) int {
	best, cur := 0, 0
	for _, r := range s {
		if isDigit(r) {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}
