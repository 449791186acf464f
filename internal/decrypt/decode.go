package decrypt

import (
	"bytes"
	"encoding/hex"

	"github.com/posagent/posagent/internal/card"
)

// Input formats `posagent decode --format` accepts.
const (
	InputAuto      = "auto"
	InputMagneSafe = "magnesafe"
	InputIDTech    = "idtech"
	InputKSN       = "ksn"
	InputKSNPIN    = "ksnpin"
	InputMagTekHID = "magtek-hid"
	InputVivopay   = "vivopay"
)

// InputFormats lists the --format values.
var InputFormats = []string{InputAuto, InputMagneSafe, InputIDTech, InputKSN, InputKSNPIN, InputMagTekHID, InputVivopay}

// maxInput bounds what Decode reads: hex of the largest IDG response.
const maxInput = 1 << 18

// ParseIDTech parses an ID TECH enhanced or original frame, binary (HID,
// serial, IDG DFEE23; zero fill after ETX allowed) or keyboard text.
func ParseIDTech(frame []byte) (card.Read, error) {
	var f idtechFrame
	if err := parseIDTech(frame, &f); err != nil {
		return card.Read{}, err
	}
	return f.read(frame)
}

// ParseMagneSafe parses a MagneSafe keyboard-format string (line end allowed).
func ParseMagneSafe(line []byte) (card.Read, error) { return parseMagneSafe(line) }

// ParseMagTekHID parses a MagneSafe V5 HID input report (856 or 887 bytes).
func ParseMagTekHID(report []byte) (card.Read, error) { return parseMagTekHID(report) }

// ParseKSNForm parses the ksn or ksnpin pipe form; the KSN travels apart.
func ParseKSNForm(data []byte, format card.Format, ksn card.KSN) (card.Read, error) {
	if format != card.FormatKSN && format != card.FormatKSNPIN {
		return card.Read{}, errorf(CodeUnknownFormat, "ParseKSNForm takes ksn or ksnpin, not %q", format)
	}
	return parseKSNForm(data, format, ksn)
}

// ParseEnvelope re-parses gateway fields, checking that e_track_data is what
// its e_format says and that it is encrypted.
func ParseEnvelope(env card.Envelope) (card.Read, error) {
	data := []byte(env.Data)
	switch env.Format {
	case card.FormatIDTech:
		return ParseIDTech(data)
	case card.FormatMagneSafe:
		r, err := parseMagneSafe(data)
		if err == nil && env.KSN != nil && !bytes.Equal(env.KSN, r.Envelope.KSN) {
			return r, errorf(CodeBadKSN, "e_serial_number differs from the KSN inside e_track_data")
		}
		return r, err
	case card.FormatKSN, card.FormatKSNPIN:
		return parseKSNForm(data, env.Format, env.KSN)
	}
	return card.Read{}, errorf(CodeUnknownFormat, "unknown e_format %q", env.Format)
}

// Options tell Decode what it is looking at.
type Options struct {
	// Format is one of InputFormats; "" means auto.
	Format string
	// KSN is required for the ksn and ksnpin forms.
	KSN card.KSN
}

// Decode parses one raw reader capture given as text: a keyboard string,
// or hex of binary (ID TECH frame, MagTek HID report, IDG frame or EMV TLVs).
// Whitespace around and inside hex is ignored.
func Decode(input []byte, o Options) (card.Read, error) {
	if len(input) > maxInput {
		return card.Read{}, errorf(CodeTooLarge, "input of %d bytes is larger than any reader capture", len(input))
	}
	in := bytes.TrimSpace(input)
	if len(in) == 0 {
		return card.Read{}, errorf(CodeMalformed, "empty input: give a reader capture (text, or hex of binary)")
	}
	bin, isHexInput := hexInput(in)
	switch o.Format {
	case "", InputAuto:
		return decodeAuto(in, bin, isHexInput, o)
	case InputMagneSafe:
		return parseMagneSafe(in)
	case InputIDTech:
		if isHexInput {
			return ParseIDTech(bin)
		}
		return ParseIDTech(in)
	case InputKSN:
		return parseKSNForm(in, card.FormatKSN, o.KSN)
	case InputKSNPIN:
		return parseKSNForm(in, card.FormatKSNPIN, o.KSN)
	case InputMagTekHID:
		if !isHexInput {
			return card.Read{}, errorf(CodeMalformed, "a MagTek HID report must be given as hex")
		}
		return parseMagTekHID(bin)
	case InputVivopay:
		if !isHexInput {
			return card.Read{}, errorf(CodeMalformed, "IDG frames and EMV TLVs must be given as hex")
		}
		return ParseVivopay(bin)
	}
	return card.Read{}, errorf(CodeUnknownFormat, "unknown --format %q", o.Format)
}

func decodeAuto(in, bin []byte, isHexInput bool, o Options) (card.Read, error) {
	if isHexInput {
		switch {
		case bytes.HasPrefix(bin, idgHeader):
			return ParseVivopay(bin)
		case len(bin) == hidSizeV5 || len(bin) == hidSizeV5Long || len(bin) == hidSizeMT211:
			return parseMagTekHID(bin)
		case bin[0] == stx:
			r, err := ParseIDTech(bin)
			if err != nil {
				// A keyboard frame without masked tracks (raw encode type)
				// is all hex too: try it as text before giving up.
				if rt, errText := ParseIDTech(in); errText == nil {
					return rt, nil
				}
			}
			return r, err
		}
		if r, err := ParseVivopay(bin); err == nil || CodeOf(err) != CodeUnknownFormat {
			return r, err
		}
		return card.Read{}, errorf(CodeUnknownFormat, "hex input is neither an ID TECH frame, a MagTek HID report, an IDG frame nor EMV TLVs")
	}
	if len(in) > 2 && in[0] == '0' && in[1] == '2' {
		return ParseIDTech(in)
	}
	switch n := bytes.Count(in, []byte{'|'}); {
	case n >= kbMinFields-1:
		return parseMagneSafe(in)
	case n == 2:
		if o.KSN == nil {
			return card.Read{}, errorf(CodeUnknownFormat, "this is the ksn or ksnpin form, which look alike: pass --format ksn (data key) or --format ksnpin (PIN variant), and --ksn")
		}
		return card.Read{}, errorf(CodeUnknownFormat, "the ksn and ksnpin forms look alike: pass --format ksn or --format ksnpin")
	case n > 0:
		return parseMagneSafe(in)
	}
	if t, ok := splitTracks(bytes.TrimRight(in, "\r\n")); ok && looksClearPAN(panOf(t)) {
		return card.Read{}, clearData("plain track data: the reader is in clear keyboard mode")
	}
	return card.Read{}, errorf(CodeUnknownFormat, "unrecognized input: expected an ID TECH frame, a MagneSafe string, ksn/ksnpin data, or hex of a HID report, IDG frame or EMV TLVs")
}

// hexInput reports whether in is hex (whitespace allowed) and returns the
// decoded bytes.
func hexInput(in []byte) ([]byte, bool) {
	clean := make([]byte, 0, len(in))
	for _, c := range in {
		switch c {
		case ' ', '\n', '\r', '\t':
			continue
		}
		if _, ok := unhex(c); !ok {
			return nil, false
		}
		clean = append(clean, c)
	}
	if len(clean)%2 != 0 || len(clean) == 0 {
		return nil, false
	}
	b := make([]byte, len(clean)/2)
	if _, err := hex.Decode(b, clean); err != nil {
		return nil, false
	}
	return b, true
}
