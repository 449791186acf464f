package decrypt

import (
	"bytes"
	"strings"

	"github.com/posagent/posagent/internal/card"
)

// MagneSafe keyboard fields, split on '|' (card-formats.md §1.4). The seed's
// magnesafe sample stops after the KSN (10 fields); a V5 reader adds CRC,
// encrypted CRC and format code (13), and the optional encryption counter (14).
const (
	kbMasked = iota
	kbStatus
	kbEncT1
	kbEncT2
	kbEncT3
	kbMPStatus
	kbMP
	kbSerial
	kbSession
	kbKSN
	kbMinFields = 10
	kbMaxFields = 14
)

// placeholder reports whether a keyboard field is empty or the seed's "1"
// placeholder for "not present".
func placeholder(f []byte) bool { return len(f) == 0 || (len(f) == 1 && f[0] == '1') }

// parseMagneSafe parses a MagneSafe keyboard-format string. The string is
// forwarded as received, less its line end.
func parseMagneSafe(in []byte) (card.Read, error) {
	var r card.Read
	in = bytes.TrimRight(in, "\r\n")
	if len(in) > maxFrame {
		return r, errorf(CodeTooLarge, "MagneSafe string of %d characters is longer than any reader sends", len(in))
	}
	var fields [kbMaxFields][]byte
	n := 0
	rest := in
	for {
		i := bytes.IndexByte(rest, '|')
		if n == kbMaxFields {
			return r, errorf(CodeMalformed, "MagneSafe string has more than %d '|' fields", kbMaxFields)
		}
		if i < 0 {
			fields[n] = rest
			n++
			break
		}
		fields[n] = rest[:i]
		rest = rest[i+1:]
		n++
	}
	if n == 1 {
		if t, ok := splitTracks(in); ok && panOf(t) != nil {
			return r, clearData("plain track data without encryption fields (keyboard wedge in clear mode)")
		}
		return r, errorf(CodeUnknownFormat, "not a MagneSafe string: no '|' fields")
	}
	if n < kbMinFields {
		return r, errorf(CodeMalformed, "MagneSafe string has %d fields, want at least %d (masked tracks … KSN)", n, kbMinFields)
	}
	t, ok := splitTracks(fields[kbMasked])
	if !ok {
		return r, errorf(CodeMalformed, "MagneSafe masked tracks are not %%…?;…? track strings")
	}
	if !printable(fields[kbMasked]) {
		return r, errorf(CodeMalformed, "MagneSafe masked tracks hold non-printable characters")
	}
	for i := kbStatus; i < n; i++ {
		if i == kbMasked || i == kbSerial || placeholder(fields[i]) {
			continue
		}
		if i != kbMasked && i < kbMaxFields && i != n-1 && !isHex(fields[i]) {
			return r, errorf(CodeMalformed, "MagneSafe field %d is not hex", i)
		}
	}
	encrypted := false
	for i := 0; i < 3; i++ {
		e := fields[kbEncT1+i]
		tr := card.Track{Present: t[i] != nil, Length: len(t[i])}
		if !placeholder(e) {
			if len(e)%16 != 0 {
				return r, errorf(CodeBadLength, "MagneSafe encrypted track %d is %d hex digits, not whole 8-byte blocks", i+1, len(e))
			}
			tr.Present = true
			tr.EncryptedLength = len(e) / 2
			encrypted = true
		} else if t[i] != nil && i < 2 {
			return r, clearData("track " + string(rune('1'+i)) + " has no encrypted data")
		}
		r.Tracks[i] = tr
	}
	if !encrypted {
		return r, clearData("the MagneSafe string holds no encrypted track")
	}
	ksn, err := decodeKSN(fields[kbKSN], true)
	if err != nil {
		return r, err
	}
	var serial []byte
	if s := fields[kbSerial]; !placeholder(s) && printable(s) {
		serial = s
	}
	r.Envelope = card.Envelope{Format: card.FormatMagneSafe, Data: string(in), KSN: ksn}
	r.Source = "magnesafe"
	r.EntryMode = card.EntrySwiped
	fillPublic(&r, t, serial)
	return r, nil
}

// MagneSafe V5 HID input report layout (§1.2).
const (
	hidSizeV5       = 856
	hidSizeV5Long   = 887
	hidSizeMT211    = 337 // non-encrypting MT-211
	hidEncLen       = 3
	hidEncodeType   = 6
	hidEncT1        = 7
	hidSlot         = 112
	hidMPStatus     = 344
	hidMPLen        = 348
	hidMP           = 349
	hidMPSlot       = 128
	hidSerial       = 477
	hidSerialLen    = 16
	hidReaderStatus = 493
	hidKSN          = 495
	hidMaskedLen    = 505
	hidMaskedT1     = 508
	hidSession      = 844
)

// parseMagTekHID parses a V5 input report and builds the magnesafe string in
// MagTek's keyboard field order: masked tracks | encryption status | enc T1 |
// enc T2 | enc T3 | MagnePrint status | MagnePrint | device serial | session
// id | KSN.
func parseMagTekHID(rep []byte) (card.Read, error) {
	var r card.Read
	switch len(rep) {
	case hidSizeV5, hidSizeV5Long:
	case hidSizeMT211:
		return r, clearData("this MagTek reader (337-byte report, MT-211) does not encrypt")
	default:
		return r, errorf(CodeBadLength, "MagTek HID report is %d bytes, want 856 or 887", len(rep))
	}
	var t maskedTracks
	var encLen [3]int
	encrypted := false
	for i := 0; i < 3; i++ {
		ml := int(rep[hidMaskedLen+i])
		el := int(rep[hidEncLen+i])
		if ml > hidSlot || el > hidSlot {
			return r, errorf(CodeBadLength, "MagTek HID report: track %d length exceeds its %d-byte slot", i+1, hidSlot)
		}
		if ml > 0 {
			m := rep[hidMaskedT1+i*hidSlot : hidMaskedT1+i*hidSlot+ml]
			if !printable(m) {
				return r, errorf(CodeMalformed, "MagTek HID report: masked track %d holds non-printable bytes", i+1)
			}
			t[i] = m
		}
		if el > 0 {
			enc := rep[hidEncT1+i*hidSlot : hidEncT1+i*hidSlot+el]
			// At security level 2 the "encrypted" slots carry clear ASCII.
			if el%8 != 0 || looksLikeClearTrack(enc) {
				return r, clearData("the reader sends track data in clear (security level below 3)")
			}
			encrypted = true
		} else if ml > 0 && i < 2 {
			return r, clearData("track " + string(rune('1'+i)) + " is not encrypted")
		}
		encLen[i] = el
	}
	if !encrypted {
		return r, clearData("the report holds no encrypted track")
	}
	mpLen := int(rep[hidMPLen])
	if mpLen > hidMPSlot {
		return r, errorf(CodeBadLength, "MagTek HID report: MagnePrint length exceeds its slot")
	}
	ksn, err := decodeKSN(rep[hidKSN:hidKSN+10], false)
	if err != nil {
		return r, err
	}
	serial := trimSerial(rep[hidSerial : hidSerial+hidSerialLen])

	var b strings.Builder
	b.Grow(hidSlot*3 + 2*(hidSlot*3+hidMPSlot+8+10+4+2) + 16 + 10)
	for i := 0; i < 3; i++ {
		b.Write(t[i])
	}
	// The keyboard text shows the 2-byte reader status LSB first, the HID
	// report MSB first (MagTek's own example: HID 00 06, keyboard "0600").
	b.WriteByte('|')
	writeHex(&b, rep[hidReaderStatus+1:hidReaderStatus+2])
	writeHex(&b, rep[hidReaderStatus:hidReaderStatus+1])
	for i := 0; i < 3; i++ {
		b.WriteByte('|')
		writeHex(&b, rep[hidEncT1+i*hidSlot:hidEncT1+i*hidSlot+encLen[i]])
	}
	b.WriteByte('|')
	writeHex(&b, rep[hidMPStatus:hidMPStatus+4])
	b.WriteByte('|')
	writeHex(&b, rep[hidMP:hidMP+mpLen])
	b.WriteByte('|')
	b.Write(serial)
	b.WriteByte('|')
	writeHex(&b, rep[hidSession:hidSession+8])
	b.WriteByte('|')
	writeHex(&b, rep[hidKSN:hidKSN+10])

	data := b.String()
	// The masked tracks must split the way the keyboard parser splits them,
	// or the envelope would not parse at the gateway (or here, again).
	var buf [3 * hidSlot]byte
	masked := buf[:copy(buf[:], data[:strings.IndexByte(data, '|')])]
	if len(masked) > 0 {
		st, ok := splitTracks(masked)
		if !ok {
			return r, errorf(CodeMalformed, "MagTek HID report: masked tracks are not %%…?;…? track strings")
		}
		t = st
	}
	r.Envelope = card.Envelope{Format: card.FormatMagneSafe, Data: data, KSN: ksn}
	r.Source = "magtek-hid"
	r.EntryMode = card.EntrySwiped
	for i := 0; i < 3; i++ {
		r.Tracks[i] = card.Track{Present: t[i] != nil || encLen[i] > 0, Length: int(rep[hidMaskedLen+i]), EncryptedLength: encLen[i]}
	}
	if len(rep) == hidSizeV5Long {
		r.Tracks[1].HashPresent = !allZero(rep[867:887])
	}
	fillPublic(&r, t, serial)
	return r, nil
}

func writeHex(b *strings.Builder, src []byte) {
	for _, c := range src {
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&0x0F])
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// looksLikeClearTrack reports whether a ciphertext slot starts with a clear
// track: a start sentinel, then at least 10 printable characters up to '?'.
// Random ciphertext does that with negligible probability.
func looksLikeClearTrack(b []byte) bool {
	if len(b) < 12 || (b[0] != '%' && b[0] != ';' && b[0] != '+') {
		return false
	}
	end := bytes.IndexByte(b, '?')
	return end > 10 && printable(b[:end])
}
