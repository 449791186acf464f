//go:build !headless

package ui

import (
	"strings"

	"github.com/posagent/posagent/internal/card"
)

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
		// A run glued to letters is part of a hex field (an EMV AID such as
		// A0000000041010, a transaction id), not a card number, unless it
		// passes the Luhn check every card number passes.
		glued := (i > 0 && isLetter(runes[i-1])) || (j < len(runes) && isLetter(runes[j]))
		if len(digits) >= 13 && len(digits) <= 19 && (!glued || card.Mod10(string(digits))) {
			b.WriteString(string(digits[:6]))
			b.WriteString(strings.Repeat("*", len(digits)-10))
			b.WriteString(string(digits[len(digits)-4:]))
		} else {
			b.WriteString(string(runes[i:j]))
		}
		i = j
	}
	return b.String()
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }
