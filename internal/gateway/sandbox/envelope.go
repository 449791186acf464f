package sandbox

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt/dukpt"
)

// This file cuts the KSN and the track ciphertext out of the four
// e_track_data layouts and reads the card out of the decrypted tracks. It is
// the sandbox's own small, strict reader, not internal/decrypt's parsers:
// the gateway side needs nothing but the KSN and the T1/T2 ciphertext, and a
// gateway must judge the bytes it received, not what the agent meant to send.
// Layouts: docs/formats.md ("Gateway fields per input"), card-formats.md §1.5, §2.2, §2.3, §2.5, §9.
//
// Every error here becomes a decline with reason 1621 and its text becomes
// response_message, so no message may quote the input: they name the field
// and give lengths only.

// errEnvelope is wrapped by every failure to read encrypted track data.
var errEnvelope = errors.New("encrypted track data")

func envErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errEnvelope, fmt.Sprintf(format, args...))
}

// sealed is one read's ciphertext as cut from e_track_data.
type sealed struct {
	format card.Format
	ksn    []byte
	t1, t2 []byte // ciphertext; nil when the track is absent
	// joint: t1 holds tracks 1 and 2 encrypted as one block (ID TECH
	// original format); l1 and l2 split the plaintext.
	joint  bool
	l1, l2 int
	aes    bool // AES-CBC with the TDES DUKPT data key (ID TECH field 8 bit 4)
}

// maxTrackData bounds e_track_data: an ID TECH frame with three tracks,
// hashes and serial is under 1,500 characters.
const maxTrackData = 4096

// cutEnvelope reads e_track_data in the layout e_format names. serial is
// e_serial_number, the KSN for ksn and ksnpin (the other layouts carry their
// own).
func cutEnvelope(format card.Format, data, serial string) (sealed, error) {
	data = strings.TrimRight(data, "\r\n")
	if len(data) > maxTrackData {
		return sealed{}, envErr("e_track_data is %d characters, more than any reader sends", len(data))
	}
	var (
		s   sealed
		err error
	)
	switch format {
	case card.FormatIDTech:
		s, err = cutIDTech(data)
	case card.FormatMagneSafe:
		s, err = cutMagneSafe(data)
	case card.FormatKSN, card.FormatKSNPIN:
		s, err = cutKSNPipe(data, serial)
	default:
		return sealed{}, envErr("e_format is not one of idtech, magnesafe, ksn, ksnpin")
	}
	if err != nil {
		return sealed{}, err
	}
	if len(s.t1) == 0 && len(s.t2) == 0 {
		return sealed{}, envErr("%s data holds no encrypted track", format)
	}
	s.format = format
	return s, nil
}

// cutIDTech reads an ID TECH enhanced or original frame in keyboard text
// form: STX "02", length (LE, characters of card data), card data with
// binary fields as hex and masked tracks as ASCII, LRC, checksum, ETX "03".
func cutIDTech(f string) (sealed, error) {
	const frameMin = 2 + 4 + 10 + 4 + 2
	if len(f) < frameMin {
		return sealed{}, envErr("idtech frame is %d characters, too short", len(f))
	}
	if f[:2] != "02" || f[len(f)-2:] != "03" {
		return sealed{}, envErr("idtech frame must start with 02 and end with 03 (keyboard text form)")
	}
	lb, err := hex.DecodeString(f[2:6])
	if err != nil {
		return sealed{}, envErr("idtech length field is not hex")
	}
	n := int(lb[0]) | int(lb[1])<<8
	body := f[6 : len(f)-6]
	if len(body) != n {
		return sealed{}, envErr("idtech length field says %d characters, frame has %d", n, len(body))
	}
	tail, err := hex.DecodeString(f[len(f)-6 : len(f)-2])
	if err != nil {
		return sealed{}, envErr("idtech LRC/checksum is not hex")
	}
	var lrc, sum byte
	for i := 0; i < len(body); i++ {
		lrc ^= body[i]
		sum += body[i]
	}
	if lrc != tail[0] {
		return sealed{}, envErr("idtech LRC mismatch")
	}
	if sum != tail[1] {
		return sealed{}, envErr("idtech checksum mismatch")
	}
	hdr, err := hex.DecodeString(body[:10])
	if err != nil {
		return sealed{}, envErr("idtech header is not hex")
	}
	typ, status := hdr[0], hdr[1]
	lens := [3]int{int(hdr[2]), int(hdr[3]), int(hdr[4])}
	if typ&0x80 == 0 {
		return cutIDTechOriginal(body, lens)
	}
	if len(body) < 14 {
		return sealed{}, envErr("idtech enhanced header is short")
	}
	fl, err := hex.DecodeString(body[10:14])
	if err != nil {
		return sealed{}, envErr("idtech field 8/9 is not hex")
	}
	f8, f9 := fl[0], fl[1]
	if status&0x40 != 0 {
		return sealed{}, envErr("idtech optional status bytes are not supported")
	}
	if f9&0x80 == 0 {
		return sealed{}, envErr("idtech frame carries no KSN")
	}
	pos := 14
	for i := range 3 {
		if f8&(1<<i) != 0 {
			pos += lens[i]
		}
	}
	if pos > len(body) || !printable(body[14:pos]) {
		return sealed{}, envErr("idtech masked tracks do not fit the frame")
	}
	s := sealed{aes: f8&0x10 != 0}
	blk := 8
	if s.aes {
		blk = 16
	}
	var ct [3][]byte
	for i := range 3 {
		if f9&(1<<i) == 0 {
			continue
		}
		m := 2 * roundUp(lens[i], blk)
		if pos+m > len(body) {
			return sealed{}, envErr("idtech encrypted track %d does not fit the frame", i+1)
		}
		if ct[i], err = hex.DecodeString(body[pos : pos+m]); err != nil {
			return sealed{}, envErr("idtech encrypted track %d is not hex", i+1)
		}
		pos += m
	}
	rest := 0
	if f9&0x40 != 0 {
		rest += 8 // session id
	}
	for i := 3; i < 6; i++ {
		if f9&(1<<i) != 0 {
			rest += 20 // SHA-1 hash
		}
	}
	if f8&0x80 != 0 {
		rest += 10 // reader serial number
	}
	rest += 10 // KSN
	if len(body)-pos != 2*rest {
		return sealed{}, envErr("idtech trailing fields are %d characters, flags say %d", len(body)-pos, 2*rest)
	}
	if s.ksn, err = hex.DecodeString(body[len(body)-20:]); err != nil {
		return sealed{}, envErr("idtech KSN is not hex")
	}
	s.t1, s.t2 = ct[0], ct[1]
	s.l1, s.l2 = lens[0], lens[1]
	return s, nil
}

// cutIDTechOriginal reads the original format's card data: three masked
// tracks, one TDES block holding tracks 1 and 2, 20-byte hash slots, KSN.
func cutIDTechOriginal(body string, lens [3]int) (sealed, error) {
	pos := 10 + lens[0] + lens[1] + lens[2]
	if pos > len(body) || !printable(body[10:pos]) {
		return sealed{}, envErr("idtech masked tracks do not fit the frame")
	}
	m := 2 * roundUp(lens[0]+lens[1], 8)
	rest := len(body) - pos - m
	if rest < 20 || (rest-20)%40 != 0 {
		return sealed{}, envErr("idtech original frame has %d characters after the tracks, want hash slots and a KSN", len(body)-pos)
	}
	ct, err := hex.DecodeString(body[pos : pos+m])
	if err != nil {
		return sealed{}, envErr("idtech encrypted tracks are not hex")
	}
	ksn, err := hex.DecodeString(body[len(body)-20:])
	if err != nil {
		return sealed{}, envErr("idtech KSN is not hex")
	}
	return sealed{ksn: ksn, t1: ct, joint: true, l1: lens[0], l2: lens[1]}, nil
}

// cutMagneSafe reads the MagTek keyboard field order: masked tracks |
// encryption status | enc T1 | enc T2 | enc T3 | MagnePrint status |
// MagnePrint | serial | session id | KSN [| more].
func cutMagneSafe(d string) (sealed, error) {
	fields := strings.Split(d, "|")
	if len(fields) < 10 {
		return sealed{}, envErr("magnesafe data has %d fields, want at least 10", len(fields))
	}
	if !printable(fields[0]) {
		return sealed{}, envErr("magnesafe masked tracks are not printable")
	}
	ksn, err := parseKSNHex(fields[9])
	if err != nil {
		return sealed{}, envErr("magnesafe KSN field: %v", err)
	}
	t1, err := cipherHex(fields[2], "magnesafe track 1")
	if err != nil {
		return sealed{}, err
	}
	t2, err := cipherHex(fields[3], "magnesafe track 2")
	if err != nil {
		return sealed{}, err
	}
	return sealed{ksn: ksn, t1: t1, t2: t2}, nil
}

// cutKSNPipe reads "masked tracks|enc T1 hex|enc T2 hex" with the KSN in
// e_serial_number.
func cutKSNPipe(d, serial string) (sealed, error) {
	fields := strings.Split(d, "|")
	if len(fields) != 3 {
		return sealed{}, envErr("ksn data has %d fields, want 3 (masked tracks|enc T1|enc T2)", len(fields))
	}
	if !printable(fields[0]) {
		return sealed{}, envErr("ksn masked tracks are not printable")
	}
	if strings.TrimSpace(serial) == "" {
		return sealed{}, envErr("e_serial_number (the KSN) is required with this e_format")
	}
	ksn, err := parseKSNHex(serial)
	if err != nil {
		return sealed{}, envErr("e_serial_number: %v", err)
	}
	t1, err := cipherHex(fields[1], "track 1")
	if err != nil {
		return sealed{}, err
	}
	t2, err := cipherHex(fields[2], "track 2")
	if err != nil {
		return sealed{}, err
	}
	return sealed{ksn: ksn, t1: t1, t2: t2}, nil
}

func parseKSNHex(s string) ([]byte, error) {
	k, err := card.ParseKSN(s)
	if err != nil {
		return nil, errors.New("want 20 or 24 hex digits")
	}
	return k, nil
}

// cipherHex decodes one ciphertext field; empty means the track is absent.
func cipherHex(s, what string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if len(s)%16 != 0 {
		return nil, envErr("%s ciphertext is %d hex digits, not whole 8-byte blocks", what, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, envErr("%s ciphertext is not hex", what)
	}
	return b, nil
}

func roundUp(n, blk int) int { return (n + blk - 1) / blk * blk }

func printable[T string | []byte](b T) bool {
	for i := 0; i < len(b); i++ {
		if b[i] < 0x20 || b[i] > 0x7E {
			return false
		}
	}
	return true
}

// Keys the sandbox decrypts with: the public ANSI test BDKs. A real gateway
// holds the merchant's BDK instead.
var (
	testBDK    = mustHex(dukpt.TestBDK)
	testAESBDK = mustHex(dukpt.TestAESBDK128)
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("sandbox: bad built-in key constant")
	}
	return b
}

// open decrypts the tracks and reads the card. idtech and ksn use the TDES
// DUKPT data key, magnesafe and ksnpin the PIN variant (card-formats.md §9).
// A 12-byte KSN means AES DUKPT: MagTek AES readers use the data key for
// both directions (usage 3002), ID TECH the encryption key (3000).
func (s sealed) open() (cardData, error) {
	var (
		key     []byte
		err     error
		decrypt = dukpt.DecryptTDESCBC
	)
	switch len(s.ksn) {
	case dukpt.KSNLen:
		kind, kerr := dukpt.TrackKeyKindForFormat(string(s.format))
		if kerr != nil {
			return cardData{}, envErr("no key rule for this e_format")
		}
		key, err = dukpt.TrackKey(testBDK, s.ksn, kind)
		if s.aes {
			decrypt = dukpt.DecryptAESCBC
		}
	case dukpt.AESKSNLen:
		usage := dukpt.UsageDataEncrypt
		switch s.format {
		case card.FormatMagneSafe:
			usage = dukpt.UsageDataBoth
		case card.FormatKSNPIN:
			return cardData{}, envErr("ksnpin takes a TDES KSN (20 hex digits)")
		}
		key, err = dukpt.AESWorkingKey(testAESBDK, s.ksn, usage)
		decrypt = dukpt.DecryptAESCBC
	default:
		return cardData{}, envErr("KSN is %d bytes, want 10 or 12", len(s.ksn))
	}
	if err != nil {
		return cardData{}, envErr("cannot derive the key for this KSN")
	}
	var p1, p2 []byte
	if len(s.t1) > 0 {
		if p1, err = decrypt(key, s.t1); err != nil {
			return cardData{}, envErr("track 1 ciphertext is not whole cipher blocks")
		}
	}
	if len(s.t2) > 0 {
		if p2, err = decrypt(key, s.t2); err != nil {
			return cardData{}, envErr("track 2 ciphertext is not whole cipher blocks")
		}
	}
	if s.joint {
		if s.l1+s.l2 > len(p1) {
			return cardData{}, envErr("decrypted block is shorter than the track lengths")
		}
		p1, p2 = p1[:s.l1], p1[s.l1:s.l1+s.l2]
	}
	// EMV track-2-equivalent data (tag 57, BCD) arrives only in the ksn
	// forms, from chip and contactless readers that encrypt tag 57 where a
	// swipe puts track 2.
	allowBCD := s.format == card.FormatKSN || s.format == card.FormatKSNPIN
	c, ok := readTracks(p1, p2, allowBCD)
	clear(p1)
	clear(p2)
	if !ok {
		return cardData{}, envErr("decrypted data is not card tracks (wrong key or corrupted data)")
	}
	return c, nil
}

// readTracks reads PAN, name and expiry from decrypted track 1 and track 2
// (either may be empty). Track 2 wins for the PAN; both must agree.
func readTracks(p1, p2 []byte, allowBCD bool) (cardData, bool) {
	var c cardData
	pan1, name, exp1, ok1 := parseTrack1(p1)
	pan2, exp2, ok2 := parseTrack2(p2)
	if !ok2 && allowBCD && len(p2) > 0 && p2[0] != ';' {
		pan2, exp2, ok2 = parseBCDTrack2(emvTag57(p2))
	}
	switch {
	case ok1 && ok2:
		if pan1 != pan2 {
			return c, false
		}
		c = cardData{pan: pan2, name: name, exp: exp2}
	case ok2:
		c = cardData{pan: pan2, exp: exp2}
	case ok1:
		c = cardData{pan: pan1, name: name, exp: exp1}
	default:
		return c, false
	}
	return c, true
}

// trackText cuts a track after its end sentinel: the padding after it (00
// or '0' bytes, depending on the reader) and the LRC are not needed.
func trackText(p []byte, start byte) ([]byte, bool) {
	if len(p) < 3 || p[0] != start {
		return nil, false
	}
	end := bytes.IndexByte(p, '?')
	if end < 0 || !printable(p[:end]) {
		return nil, false
	}
	return p[1:end], true
}

// parseTrack2 reads ";PAN=YYMM…?".
func parseTrack2(p []byte) (pan, exp string, ok bool) {
	t, ok := trackText(p, ';')
	if !ok {
		return "", "", false
	}
	i := bytes.IndexByte(t, '=')
	if i < 0 {
		return "", "", false
	}
	pan = string(t[:i])
	if !validTrackPAN(pan) || len(t) < i+5 || !digitsOnly(string(t[i+1:i+5])) {
		return "", "", false
	}
	return pan, string(t[i+1 : i+5]), true
}

// parseTrack1 reads "%B PAN ^ NAME ^ YYMM …?".
func parseTrack1(p []byte) (pan, name, exp string, ok bool) {
	t, ok := trackText(p, '%')
	if !ok || len(t) < 1 || t[0] != 'B' {
		return "", "", "", false
	}
	parts := bytes.SplitN(t[1:], []byte{'^'}, 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	pan = string(parts[0])
	if !validTrackPAN(pan) || len(parts[2]) < 4 || !digitsOnly(string(parts[2][:4])) {
		return "", "", "", false
	}
	return pan, strings.TrimSpace(string(parts[1])), string(parts[2][:4]), true
}

// emvTag57 returns the value of tag 57 when p is the whole TLV encrypted
// (57, one length byte, the BCD value, then the cipher's zero padding), as
// ID TECH VP3300 and NEO 2 readers encrypt it: the public VP3300 contact and
// NEO 2 contactless captures decrypt to "57 13 …" and "57 12 …"
// (captures.md §2, §3). Otherwise p is returned unchanged: the bare BCD
// value, as the simulated reader and older tests send it.
//
// A bare value whose PAN starts with 57 also begins with the byte 57, so
// the TLV reading is taken only when it fits exactly: the length covers at
// most 19 bytes (track 2 holds 37 digits), an F pad nibble may only be the
// value's last nibble, and nothing but less than one cipher block of zero
// bytes follows. A bare track is F-padded and zero-filled right after its
// last digit, so its bytes cannot also read as such a TLV.
func emvTag57(p []byte) []byte {
	const maxTrack2Equivalent = 19
	if len(p) < 2 || p[0] != 0x57 {
		return p
	}
	n := int(p[1])
	if n == 0 || n > maxTrack2Equivalent || 2+n > len(p) {
		return p
	}
	v, rest := p[2:2+n], p[2+n:]
	if len(rest) >= dukptBlockMax {
		return p
	}
	for _, b := range rest {
		if b != 0 {
			return p
		}
	}
	for i, b := range v {
		last := i == len(v)-1
		if b>>4 == 0xF || (b&0x0F == 0xF && !last) {
			return p
		}
	}
	return v
}

// dukptBlockMax is the largest cipher block (AES): the zero padding after
// a value is always shorter.
const dukptBlockMax = 16

// parseBCDTrack2 reads EMV track 2 equivalent data (tag 57): BCD digits, the
// separator nibble D, expiry YYMM, service code and discretionary digits,
// an F nibble padding to a whole byte, then the cipher's zero padding.
func parseBCDTrack2(p []byte) (pan, exp string, ok bool) {
	var digits [40]byte
	n, sep := 0, -1
loop:
	for _, b := range p {
		for _, nib := range [2]byte{b >> 4, b & 0x0F} {
			switch {
			case nib <= 9:
				if n == len(digits) {
					// Track 2 holds at most 37 digits: what follows an
					// unpadded (even-length) tag 57 is the cipher's zero
					// padding, not more track.
					break loop
				}
				digits[n] = '0' + nib
				n++
			case nib == 0xD && sep < 0:
				sep = n
			case nib == 0xF:
				break loop
			default:
				return "", "", false
			}
		}
	}
	if sep < 0 || n-sep < 4 {
		return "", "", false
	}
	pan = string(digits[:sep])
	if !validTrackPAN(pan) {
		return "", "", false
	}
	return pan, string(digits[sep : sep+4]), true
}

// validTrackPAN: 12 to 19 digits. A wrong key yields random bytes that fail
// the track structure long before this. Luhn is not checked here: a card
// whose number fails it was still read (old vendor samples carry such
// numbers), and the sale declines it as an account error instead.
func validTrackPAN(pan string) bool {
	return len(pan) >= 12 && len(pan) <= 19 && digitsOnly(pan)
}
