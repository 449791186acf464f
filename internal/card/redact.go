package card

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The card-data policy: the one definition of "this text holds a card
// number or card track" that every place uses — the journal's guard, the
// log handler, the websocket's request validation and echoes, the gateway
// request guard and cmd/leakscan. docs/security.md ("Card numbers in free
// text") gives the reasoning and the false-positive rates.
//
// A card number (FoundPAN) is 13 to 19 digits that pass the Luhn check and
// start with an issuer prefix of a card network (plausibleIIN), where:
//   - a digit is any Unicode decimal digit (unicode.IsDigit): fullwidth
//     "４１１１…" or Arabic-Indic digits are digits of their value;
//   - the digits may be split into groups by single separators (a space,
//     a dash, or their Unicode relatives: no-break and ideographic spaces,
//     en/em dashes; an invisible format character such as a zero-width
//     space; and '.', '/', '_', a tab or a line break, which join only the
//     groupings cards are printed in: printedGrouping); every run of whole
//     consecutive groups with 13 to 19 digits is a candidate, so
//     "4111 1111 1111 1111 5454 5454 5454 5454" holds two;
//   - a candidate may be glued to letters ("INV6011…", "t4111…"), except
//     where its digits are part of an identifier: a canonical UUID, or a
//     word made of hex digits only of an identifier's length (16, 20, 24,
//     32, 40 or more: EMV cryptograms, KSNs, gateway ids, hashes);
//   - a single group longer than 19 digits is no card number (KSNs,
//     nanosecond times), and neither is a run inside it.
//
// Track data is "%B" followed by 12 to 19 digits (single spaces allowed) and
// "^" (track 1), or ";" followed by 12 to 19 digits and "=" (track 2). A
// "%B" or ";" anywhere else ("20%Bonus coffee") is text.

// Kinds of card data FindCardData reports.
const (
	FoundPAN    = "pan"
	FoundTrack1 = "track1"
	FoundTrack2 = "track2"
)

// Found is one piece of card data in a text.
type Found struct {
	Kind string
	// Start and End are byte offsets: a PAN's first and last digit (with
	// the separators between), a track from its start sentinel through its
	// end sentinel '?' (or the end of the text).
	Start, End int
	// Digits is the PAN in ASCII digits (of the track's PAN for a track).
	// It is clear card data: compare it, mask it, never print it.
	Digits string
}

// Masked is the finding's PAN masked to first 6 / last 4.
func (f Found) Masked() MaskedPAN { return Mask(f.Digits) }

// ContainsCardData reports whether s holds a card number or track data
// under the policy above. Places that must refuse card data (request
// validation, the journal, gateway requests) use it.
func ContainsCardData(s string) bool {
	hit := false
	scan(s, func(Found) bool { hit = true; return false })
	return hit
}

// FindCardData returns every card number and track in s, in order of
// their start; card numbers may overlap (windows of one digit sequence).
func FindCardData(s string) []Found {
	var out []Found
	scan(s, func(f Found) bool { out = append(out, f); return true })
	return out
}

// RedactPANs masks every card number in s to its first six and last four
// digits (separators kept, every other digit a '*') and replaces track data
// with "[track redacted]". The result holds no card data under the policy:
// masking can leave a short group that joins its neighbours into a new
// candidate, so it repeats until none is left. It is the logging layer's
// safety net and what echoes pass through.
func RedactPANs(s string) string {
	for pass := 0; ; pass++ {
		found := FindCardData(s)
		if len(found) == 0 {
			return s
		}
		// After a few passes (never seen outside the fuzzer), hide every
		// digit of what is left: that cannot make a new candidate.
		s = redactOnce(s, found, pass >= 3)
	}
}

const trackRedacted = "[track redacted]"

func redactOnce(s string, found []Found, all bool) string {
	hide := make([]bool, len(s))
	for _, f := range found {
		if f.Kind != FoundPAN {
			continue
		}
		n := len(f.Digits)
		k := 0
		for i := f.Start; i < f.End; {
			r, size := utf8.DecodeRuneInString(s[i:])
			if _, ok := digitValue(r); ok {
				if all || (k >= maxLead && k < n-maxTrail) {
					hide[i] = true
				}
				k++
			}
			i += size
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	next := 0 // the next track to cut
	for i := 0; i < len(s); {
		for next < len(found) && (found[next].Kind == FoundPAN || found[next].End <= i) {
			next++
		}
		if next < len(found) && found[next].Start == i {
			b.WriteString(trackRedacted)
			i = found[next].End
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		if hide[i] {
			b.WriteByte('*')
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// The lengths of a card number (ISO/IEC 7812 as the networks issue them)
// and of a track's PAN field, which the track format bounds, not Luhn.
const (
	minPAN      = 13
	maxPAN      = 19
	minTrackPAN = 12
)

// identifierLength: the lengths hex identifiers come in — EMV cryptograms
// (16), KSNs (20), gateway ids (24), UUIDs without dashes and MD5 (32),
// SHA-1 and longer (40 and more). An order number of a few hex letters and
// a card number ("ABC4111…", 19 characters) is no identifier.
func identifierLength(n int) bool {
	return n == 16 || n == 20 || n == 24 || n == 32 || n >= 40
}

// scan calls yield for each finding in s until yield returns false.
func scan(s string, yield func(Found) bool) {
	if !mayHold(s) {
		return
	}
	// Most texts hold few groups: keep them on the stack.
	var gbuf [8]group
	var dbuf [32]byte
	groups, digits := gbuf[:0], dbuf[:0]
	prev := rune(-1) // the rune before i; -1 at the start
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		// A UUID is an identifier, whatever digits it holds.
		if !isAlnum(prev) && isHex(r) {
			if n := uuidAt(s[i:]); n > 0 {
				if !flush(s, groups, digits, yield) {
					return
				}
				groups, digits = groups[:0], digits[:0]
				i += n
				prev = rune(s[i-1])
				continue
			}
		}
		if r == '%' || r == ';' {
			if f, ok := trackAt(s, i); ok {
				if !flush(s, groups, digits, yield) || !yield(f) {
					return
				}
				groups, digits = groups[:0], digits[:0]
				i = f.End
				prev = '?'
				continue
			}
		}
		if v, ok := digitValue(r); ok {
			// A new group starts a new sequence unless one separator
			// joins it to the group before.
			if len(groups) > 0 && groups[len(groups)-1].end != i && !joined(s, groups[len(groups)-1].end, i) {
				if !flush(s, groups, digits, yield) {
					return
				}
				groups, digits = groups[:0], digits[:0]
			}
			if len(groups) == 0 || groups[len(groups)-1].end != i {
				groups = append(groups, group{start: i, from: len(digits)})
			}
			g := &groups[len(groups)-1]
			g.end = i + size
			digits = append(digits, byte('0'+v))
			g.to = len(digits)
		}
		prev = r
		i += size
	}
	flush(s, groups, digits, yield)
}

// group is a run of digits: bytes [start,end) of the text, digits[from:to].
type group struct{ start, end, from, to int }

// joined reports whether s[a:b] is exactly one separator.
func joined(s string, a, b int) bool {
	r, size := utf8.DecodeRuneInString(s[a:])
	return a+size == b && isSeparator(r)
}

// printedGrouping reports whether groups, a candidate's digit groups, are
// split the way a card number is printed when a weak separator ('.', '/',
// '_', a tab or a line break) joins any two of them: fours with a shorter
// last group (4-4-4-4, 4-4-4-4-3, 4-4-4-1) or Amex and Diners' 4-6-5 and
// 4-6-4. These marks join other numbers far more often than card numbers
// — a path "/tmp/run2926436426/001", amounts "12.34 5.60", a date or a
// version — and any grouping of them would refuse one ordinary text in
// twenty. Spaces, dashes and invisible characters join any grouping.
func printedGrouping(s string, groups []group) bool {
	weak := false
	for k := 1; k < len(groups); k++ {
		r, _ := utf8.DecodeRuneInString(s[groups[k-1].end:])
		if weakSeparator(r) {
			weak = true
			break
		}
	}
	if !weak {
		return true
	}
	sizes := make([]int, len(groups))
	for k, g := range groups {
		sizes[k] = g.to - g.from
	}
	if len(sizes) == 3 && sizes[0] == 4 && sizes[1] == 6 && (sizes[2] == 5 || sizes[2] == 4) {
		return true
	}
	for k, n := range sizes {
		if k < len(sizes)-1 && n != 4 || k == len(sizes)-1 && (n < 1 || n > 4) {
			return false
		}
	}
	return true
}

// weakSeparator: the separators that also join numbers other than card
// numbers (printedGrouping).
func weakSeparator(r rune) bool {
	switch r {
	case '.', '/', '_', '\t', '\n', '\r':
		return true
	}
	return false
}

// isSeparator: spaces and dashes of every script, the minus sign, the
// other marks people group digits with ('.', '/', '_'), a tab or line
// break (a spreadsheet or form paste), and the invisible format characters
// (zero-width space, soft hyphen, word joiner, BOM: unicode.Cf), which
// print nothing, so the number looks whole wherever it is shown.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '-', '\u2212', '.', '/', '_', '\t', '\n', '\r':
		return true
	}
	return unicode.In(r, unicode.Zs, unicode.Pd, unicode.Cf)
}

// flush reports the card numbers of one digit sequence.
func flush(s string, groups []group, digits []byte, yield func(Found) bool) bool {
	if len(digits) < minPAN {
		return true
	}
	// An edge group glued into a hex identifier is part of it.
	if len(groups) > 0 && inHexWord(s, groups[0]) {
		groups = groups[1:]
	}
	if len(groups) > 0 && inHexWord(s, groups[len(groups)-1]) {
		groups = groups[:len(groups)-1]
	}
	for i := range groups {
		for j := i; j < len(groups); j++ {
			n := groups[j].to - groups[i].from
			if n > maxPAN {
				break
			}
			d := digits[groups[i].from:groups[j].to]
			if n >= minPAN && plausibleIIN(d) && Mod10(string(d)) && printedGrouping(s, groups[i:j+1]) {
				if !yield(Found{Kind: FoundPAN, Start: groups[i].start, End: groups[j].end, Digits: string(d)}) {
					return false
				}
			}
		}
	}
	return true
}

// inHexWord reports whether g is glued to letters into a word of hex digits
// only, of an identifier's length.
func inHexWord(s string, g group) bool {
	a, b := g.start, g.end
	for a > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:a])
		if !isAlnum(r) {
			break
		}
		a -= size
	}
	for b < len(s) {
		r, size := utf8.DecodeRuneInString(s[b:])
		if !isAlnum(r) {
			break
		}
		b += size
	}
	if a == g.start && b == g.end {
		return false // not glued to anything
	}
	if !identifierLength(b - a) {
		return false
	}
	for i := a; i < b; i++ {
		if !isHex(rune(s[i])) {
			return false
		}
	}
	return true
}

// plausibleIIN: the number starts like a card of a network that issues
// cards for readers: 2200–2204 (Mir), 2221–2720 (Mastercard), 3 (Amex,
// Diners, JCB), 4 (Visa), 5 (Mastercard, Maestro), 6 (Discover, UnionPay,
// Maestro, RuPay), 81–82 (UnionPay, RuPay). The prefix keeps timestamps
// (1…, 20…), zero-padded counters (0…) and most order numbers out.
func plausibleIIN(d []byte) bool {
	switch d[0] {
	case '3', '4', '5', '6':
		return true
	case '2':
		p := atoi(string(d[:4]))
		return (p >= 2200 && p <= 2204) || (p >= 2221 && p <= 2720)
	case '8':
		return d[1] == '1' || d[1] == '2'
	}
	return false
}

// trackAt reads a clear track start at s[i]: "%B" + PAN + "^" or ";" + PAN
// + "=", the PAN 12 to 19 digits (single spaces allowed in track 1). The
// finding runs through the end sentinel '?' or to the end of s.
func trackAt(s string, i int) (Found, bool) {
	kind, j, field := FoundTrack2, i+1, byte('=')
	if s[i] == '%' {
		if i+1 >= len(s) || s[i+1] != 'B' {
			return Found{}, false
		}
		kind, j, field = FoundTrack1, i+2, '^'
	}
	var d []byte
	for j < len(s) {
		r, size := utf8.DecodeRuneInString(s[j:])
		if v, ok := digitValue(r); ok {
			d = append(d, byte('0'+v))
		} else if !(r == ' ' && kind == FoundTrack1 && len(d) > 0 && s[j-1] != ' ') {
			break
		}
		j += size
	}
	if j >= len(s) || s[j] != field || len(d) < minTrackPAN || len(d) > maxPAN {
		return Found{}, false
	}
	end := strings.IndexByte(s[j:], '?')
	if end < 0 {
		end = len(s)
	} else {
		end += j + 1
	}
	return Found{Kind: kind, Start: i, End: end, Digits: string(d)}, true
}

// uuidAt returns 36 when s starts with a canonical UUID (8-4-4-4-12 hex
// digits) that no letter or digit continues, else 0.
func uuidAt(s string) int {
	const n = 36
	if len(s) < n {
		return 0
	}
	for i := 0; i < n; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return 0
			}
		default:
			if !isHex(rune(s[i])) {
				return 0
			}
		}
	}
	if len(s) > n {
		if r, _ := utf8.DecodeRuneInString(s[n:]); isAlnum(r) {
			return 0
		}
	}
	return n
}

// mayHold is the fast path: ASCII text with fewer digits than the shortest
// track PAN holds no card data. Most log lines and every short field end here.
func mayHold(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return true
		}
		if isDigit(c) {
			n++
			if n >= minTrackPAN {
				return true
			}
		}
	}
	return false
}

// digitValue is the value of a decimal digit of any script. Unicode encodes
// every decimal digit set as ten consecutive code points from zero to nine
// (a stability guarantee), and unicode.Nd lists them as such ranges.
func digitValue(r rune) (int, bool) {
	if r < utf8.RuneSelf {
		if r >= '0' && r <= '9' {
			return int(r - '0'), true
		}
		return 0, false
	}
	if !unicode.IsDigit(r) {
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10, true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10, true
		}
	}
	return 0, false
}

func isAlnum(r rune) bool {
	if r < 0 {
		return false
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isHex(r rune) bool {
	return (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F')
}
