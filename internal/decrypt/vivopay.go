package decrypt

import (
	"bytes"
	"strings"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/emv"
)

// IDG response status codes that carry a card read (§3.2): 00 OK and 23
// "request online authorization" (the ARQC case, card data included).
const (
	idgStatusOK            = 0x00
	idgStatusGoOnline      = 0x23
	idgStatusNACK          = 0x0A
	idgStatusTimeout       = 0x08
	idgStatusUserInterface = 0x0E
)

var (
	tagKSN       = emv.MustTag("DFEE12")
	tagKSNLegacy = emv.MustTag("FFEE12")
	tagMSRFrame  = emv.MustTag("DFEE23")
	tagT2Eq      = emv.MustTag("57")
	tagMaskedT2  = emv.MustTag("DFEF5D") // Augusta: masked copy of 57
	tag9F39      = emv.MustTag("9F39")
	tagName      = emv.MustTag("5F20")
	tagIFDSerial = emv.MustTag("9F1E")
)

// ParseVivopay parses an ID TECH IDG response frame that holds a card read
// (Activate Transaction or Get Transaction Result), or the bare TLVs of such
// a response. A swipe arrives as the enhanced MSR frame in DFEE23 and is
// forwarded as e_format idtech; a chip or contactless read arrives as EMV
// TLVs with the encrypted track-2-equivalent (57) and the KSN (DFEE12), and
// is forwarded in the ksn form: masked track 2 | (no track 1) | enc 57 hex.
func ParseVivopay(b []byte) (card.Read, error) {
	data := b
	if bytes.HasPrefix(b, idgHeader) {
		fr, _, err := ParseIDG(b)
		if err != nil {
			return card.Read{}, err
		}
		switch fr.Sub {
		case idgStatusOK, idgStatusGoOnline:
		case idgStatusTimeout:
			return card.Read{}, errorf(CodeReaderStatus, "the reader timed out waiting for a card (IDG status 08)")
		case idgStatusNACK:
			return card.Read{}, errorf(CodeReaderStatus, "the reader declined or failed the transaction (IDG status 0A)")
		default:
			return card.Read{}, errorf(CodeReaderStatus, "the reader answered IDG command %02X with status %02X", fr.Cmd, fr.Sub)
		}
		if len(fr.Data) == 0 {
			return card.Read{}, errorf(CodeNoCardData, "the IDG response (command %02X) holds no card data", fr.Cmd)
		}
		data = fr.Data
	}
	if rawClearTracks(data) {
		return card.Read{}, clearData("the reader returned track data without encryption")
	}
	tlvs, err := decodeResponseTLVs(data)
	if err != nil {
		return card.Read{}, err
	}
	var r card.Read
	if f, ok := emv.Find(tlvs, tagMSRFrame); ok {
		if r, err = ParseIDTech(f.Value); err != nil {
			return card.Read{}, err
		}
	} else if r, err = emvRead(tlvs); err != nil {
		return card.Read{}, err
	}
	r.Source = "vivopay"
	if f, ok := findDeep(tlvs, tag9F39); ok && len(f.Value) == 1 {
		if m, ok := emv.EntryModeFrom9F39(f.Value[0]); ok {
			r.EntryMode = card.EntryMode(m)
		}
	}
	r.Receipt = card.Receipt(emv.ReceiptFrom(tlvs))
	return r, nil
}

// decodeResponseTLVs decodes the response payload. 02-40 responses start
// with an attribution byte and 02-01 responses do not; the response does not
// say which command it answers, so a payload that fails as TLVs from byte 0
// is tried from byte 1.
func decodeResponseTLVs(data []byte) ([]emv.TLV, error) {
	tlvs, _, err := emv.Decode(data)
	if err == nil && len(tlvs) > 0 {
		return tlvs, nil
	}
	if len(data) > 1 {
		if t2, _, err2 := emv.Decode(data[1:]); err2 == nil && len(t2) > 0 {
			return t2, nil
		}
	}
	if err == nil {
		return nil, errorf(CodeNoCardData, "the response holds no TLVs")
	}
	return nil, &Error{Code: CodeMalformed, Msg: "the reader response is not valid TLV data", Err: err}
}

// rawClearTracks recognizes the unencrypted 03-00 result layout: a length
// byte, a clear track 1 (format code, digits, '^'), a length byte, track 2.
func rawClearTracks(d []byte) bool {
	if len(d) < 2 {
		return false
	}
	n := int(d[0])
	if n < 10 || 1+n > len(d) {
		return false
	}
	t := d[1 : 1+n]
	return printable(t) && (bytes.IndexByte(t, '^') > 0 || bytes.IndexByte(t, '=') > 0) && looksClearPAN(leadingDigits(t))
}

func leadingDigits(t []byte) []byte {
	if len(t) > 0 && (t[0] == 'B' || t[0] == 'b') {
		t = t[1:]
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	return t[:i]
}

func findDeep(tlvs []emv.TLV, tag emv.Tag) (emv.TLV, bool) { return emv.Find(tlvs, tag) }

// emvRead builds a read from chip or contactless TLVs.
func emvRead(tlvs []emv.TLV) (card.Read, error) {
	var r card.Read
	var masked, enc []byte
	all := emv.FindAll(tlvs, tagT2Eq)
	maskedCopy, hasMaskedCopy := emv.Find(tlvs, tagMaskedT2)
	for i, t := range all {
		switch {
		case t.Masked:
			masked = t.Value
		case t.Encrypted:
			enc = t.Value
		case hasMaskedCopy:
			enc = t.Value // Augusta: 57 is the ciphertext, DFEF5D the masked copy
		case len(all) >= 2 && i == 0:
			masked = t.Value // VP3300: masked copy first, ciphertext second
		case len(all) >= 2:
			enc = t.Value
		default:
			enc = t.Value
		}
	}
	if hasMaskedCopy {
		masked = maskedCopy.Value
	}
	// VP3300 firmware sends the KSN as legacy FFEE12 and an empty DFEE12.
	ksnTLV, ok := emv.Find(tlvs, tagKSN)
	if !ok || len(ksnTLV.Value) == 0 {
		ksnTLV, ok = emv.Find(tlvs, tagKSNLegacy)
	}
	if enc == nil && masked == nil {
		return r, errorf(CodeNoCardData, "the response holds no track 2 equivalent (tag 57)")
	}
	if !ok || len(ksnTLV.Value) == 0 {
		return r, clearData("the EMV response has no KSN (DFEE12): card data is not encrypted")
	}
	if enc == nil || len(enc)%8 != 0 || looksClearBCD(enc) {
		return r, clearData("the track 2 equivalent (tag 57) is not encrypted")
	}
	ksn, err := decodeKSN(ksnTLV.Value, false)
	if err != nil {
		return r, err
	}
	t2 := maskedTrack2(masked)
	var b strings.Builder
	b.Grow(len(t2) + 2 + 2*len(enc))
	b.WriteString(t2)
	b.WriteString("||")
	writeHex(&b, enc)
	r.Envelope = card.Envelope{Format: card.FormatKSN, Data: b.String(), KSN: ksn}
	r.EntryMode = card.EntryChip
	r.Tracks[1] = card.Track{Present: true, Length: len(t2), EncryptedLength: len(enc)}
	var serial []byte
	if s, ok := emv.Find(tlvs, tagIFDSerial); ok {
		serial = trimSerial(s.Value)
	}
	var mt maskedTracks
	if t2 != "" {
		mt[1] = []byte(t2)
	}
	fillPublic(&r, mt, serial)
	if n, ok := emv.Find(tlvs, tagName); ok && r.CardholderName == "" && printable(n.Value) {
		r.CardholderName = strings.TrimSpace(string(n.Value))
	}
	return r, nil
}

// maskedTrack2 renders a masked track-2-equivalent (BCD: PAN, 'D' separator,
// expiry…, 'F' pad; ID TECH masks digits with 'C') as track 2 text.
func maskedTrack2(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(2*len(v) + 2)
	b.WriteByte(';')
	for _, x := range v {
		for _, nib := range [2]byte{x >> 4, x & 0x0F} {
			switch {
			case nib <= 9:
				b.WriteByte('0' + nib)
			case nib == 0x0D:
				b.WriteByte('=')
			case nib == 0x0F:
				// pad
			default:
				b.WriteByte('*')
			}
		}
	}
	b.WriteByte('?')
	return b.String()
}

// looksClearBCD reports whether v is a clear track-2-equivalent: BCD digits
// forming a Luhn-valid PAN, then the 'D' separator.
func looksClearBCD(v []byte) bool {
	var pan []byte
	for _, x := range v {
		for _, nib := range [2]byte{x >> 4, x & 0x0F} {
			if nib == 0x0D {
				return looksClearPAN(pan)
			}
			if nib > 9 {
				return false
			}
			pan = append(pan, '0'+nib)
		}
	}
	return false
}
