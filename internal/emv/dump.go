package emv

import (
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
)

// Dump renders a decoded tree for debugging, one object a line, indented by
// depth: tag, name and length, then the value for known non-sensitive tags
// (hex, plus the text of an/ans values). Sensitive and unknown tags, and
// everything inside a sensitive container, print their length only, so a
// dump is safe to log.
func Dump(tlvs []TLV) string {
	var sb strings.Builder
	dump(&sb, tlvs, 0, false)
	return sb.String()
}

func dump(sb *strings.Builder, tlvs []TLV, depth int, hidden bool) {
	for _, t := range tlvs {
		sb.WriteString(strings.Repeat("  ", depth))
		sb.WriteString(t.Tag.String())
		inf, known := Lookup(t.Tag)
		if known {
			sb.WriteString(" ")
			sb.WriteString(inf.Name)
		}
		sb.WriteString(" [")
		sb.WriteString(strconv.Itoa(len(t.Value)))
		sb.WriteString("]")
		switch {
		case t.Masked:
			sb.WriteString(" masked")
		case t.Encrypted:
			sb.WriteString(" encrypted")
		}
		hide := hidden || !known || inf.Sensitive
		switch {
		case len(t.Children) > 0:
			sb.WriteString("\n")
			dump(sb, t.Children, depth+1, hide)
			continue
		case len(t.Value) == 0:
		case hide:
			sb.WriteString(" (value not shown)")
		default:
			sb.WriteString(": ")
			sb.WriteString(strings.ToUpper(hex.EncodeToString(t.Value)))
			if inf.Format == FormatAN || inf.Format == FormatANS {
				sb.WriteString(" ")
				sb.WriteString(strconv.Quote(Text(t.Value)))
			}
		}
		sb.WriteString("\n")
	}
}

// String is Dump of the single object: safe to print.
func (t TLV) String() string { return strings.TrimSuffix(Dump([]TLV{t}), "\n") }

// LogValue makes slog print the object as Dump does, never a sensitive value.
func (t TLV) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Text turns an an/ans value into printable ASCII for a receipt or a log:
// bytes outside 0x20–0x7E become '?', surrounding spaces are trimmed. Card
// labels are meant to be ASCII (code table 9F11 is not consulted), and a
// broken or hostile card must not put control characters on a receipt.
func Text(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			c = '?'
		}
		out[i] = c
	}
	return strings.TrimSpace(string(out))
}
