package decrypt

import (
	"bytes"

	"github.com/posagent/posagent/internal/card"
)

// maskedTracks are the masked (or, for a non-encrypting reader, clear) track
// strings of a read, as sub-slices of the input.
type maskedTracks [3][]byte

// splitTracks cuts a concatenation of track strings ("%…?;…?+…?") into its
// tracks. A track runs from its start sentinel to its end sentinel '?', plus
// one LRC character when one follows that does not start another track
// (ID TECH masks it as '*'). A track that failed to read is sent as "E".
func splitTracks(s []byte) (t maskedTracks, ok bool) {
	next := 0
	for len(s) > 0 {
		switch s[0] {
		case '%':
			next = 0
		case ';':
			// MagTek sends track 3 with ';' too: a second ';' track is track 3.
			if next <= 1 {
				next = 1
			} else {
				next = 2
			}
		case '+', '#':
			next = 2
		case 'E', 'e':
			s = s[1:]
			next++
			continue
		default:
			return t, false
		}
		end := bytes.IndexByte(s, '?')
		if end < 0 || next > 2 || t[next] != nil {
			return t, false
		}
		end++
		if end < len(s) && !isSentinel(s[end]) {
			end++ // LRC character
		}
		t[next] = s[:end:end]
		s = s[end:]
		next++
	}
	return t, true
}

func isSentinel(c byte) bool { return c == '%' || c == ';' || c == '+' || c == '#' || c == 'E' }

// panOf returns the PAN field of a masked or clear track: track 2 between
// ';' and '=', else track 1 between the format code and '^'.
func panOf(t maskedTracks) []byte {
	if t2 := t[1]; len(t2) > 1 && t2[0] == ';' {
		if i := bytes.IndexByte(t2, '='); i > 1 {
			return t2[1:i]
		}
	}
	if t1 := t[0]; len(t1) > 2 && t1[0] == '%' {
		if i := bytes.IndexByte(t1, '^'); i > 2 {
			return t1[2:i]
		}
	}
	return nil
}

// nameOf returns the cardholder name of track 1 (between the two '^'),
// trimmed of the padding spaces.
func nameOf(t maskedTracks) []byte {
	t1 := t[0]
	i := bytes.IndexByte(t1, '^')
	if i < 0 {
		return nil
	}
	j := bytes.IndexByte(t1[i+1:], '^')
	if j < 0 {
		return nil
	}
	return bytes.TrimSpace(t1[i+1 : i+1+j])
}

// looksClear reports whether a track string carries a clear PAN: a start
// sentinel, then (after a clear format code on track 1) 12–19 digits that
// pass Luhn. A masked track has mask characters in the PAN.
func looksClearPAN(pan []byte) bool {
	if len(pan) < 12 || len(pan) > 19 {
		return false
	}
	for _, c := range pan {
		if c < '0' || c > '9' {
			return false
		}
	}
	return card.Mod10(string(pan))
}

// printable reports whether b is printable ASCII: masked tracks must be, or
// they cannot travel in the text form the gateway takes.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}
