package decrypt

import (
	"strings"

	"github.com/posagent/posagent/internal/card"
)

// ID TECH frame: STX LenL LenH <card data> LRC SUM ETX (card-formats.md §2).
const (
	stx = 0x02
	etx = 0x03

	// maxFrame bounds a frame: the largest seen is ~540 bytes; keyboard text
	// doubles the binary fields.
	maxFrame = 4096
)

// Enhanced-format status bits (field 8 and field 9 of §2.2).
const (
	f8SerialPresent = 0x80
	f8PINVariant    = 0x40
	f8AES           = 0x10
	f9SessionID     = 0x40
	f9KSNPresent    = 0x80
	statusOptional  = 0x40
)

// cursor walks <card data> in either representation. In binary every field
// is bytes; in keyboard text binary fields are hex pairs and masked tracks are
// raw ASCII. Lengths in the frame always count binary bytes of a field.
type cursor struct {
	b    []byte
	i    int
	text bool
}

// hexByte reads one binary field byte.
func (c *cursor) hexByte() (byte, bool) {
	if !c.text {
		if c.i >= len(c.b) {
			return 0, false
		}
		c.i++
		return c.b[c.i-1], true
	}
	if c.i+2 > len(c.b) {
		return 0, false
	}
	v, ok := hexPair(c.b[c.i], c.b[c.i+1])
	c.i += 2
	return v, ok
}

// field returns the span of an n-byte binary field as it appears in the input.
func (c *cursor) field(n int) ([]byte, bool) {
	w := n
	if c.text {
		w = 2 * n
	}
	if n < 0 || c.i+w > len(c.b) {
		return nil, false
	}
	s := c.b[c.i : c.i+w]
	c.i += w
	if c.text && !isHex(s) {
		return nil, false
	}
	return s, true
}

// raw returns n raw bytes (masked track characters).
func (c *cursor) raw(n int) ([]byte, bool) {
	if n < 0 || c.i+n > len(c.b) {
		return nil, false
	}
	s := c.b[c.i : c.i+n]
	c.i += n
	return s, true
}

// idtechFrame is a parsed ID TECH frame. Its slices point into the input.
type idtechFrame struct {
	text     bool
	enhanced bool
	encode   byte // card encode type
	status   byte
	lens     [3]int
	f8, f9   byte
	masked   maskedTracks
	// enc holds the ciphertext fields as they appear in the input (hex in
	// text form). In the original format enc[0] is the joint T1+T2 block.
	enc     [3][]byte
	hashes  [3]bool
	serial  []byte
	ksn     []byte
	headLen int // bytes of header fields before the masked tracks
	rest    []byte
	// cardData is the <card data> span of the input.
	cardData []byte
}

// parseIDTech parses one ID TECH frame in binary or keyboard-text form.
// Binary frames may be followed by zero fill (HID reports).
func parseIDTech(in []byte, f *idtechFrame) error {
	if len(in) > maxFrame {
		return errorf(CodeTooLarge, "ID TECH frame of %d bytes is larger than any reader sends", len(in))
	}
	var cd []byte
	switch {
	case len(in) >= 6 && in[0] == stx:
		n := int(in[1]) | int(in[2])<<8
		if 3+n+3 > len(in) {
			return errorf(CodeBadLength, "ID TECH frame says %d bytes of card data but %d follow", n, len(in)-6)
		}
		cd = in[3 : 3+n]
		tail := in[3+n:]
		if tail[2] != etx {
			return errorf(CodeMalformed, "ID TECH frame does not end with ETX after its length")
		}
		for _, z := range tail[3:] {
			if z != 0 {
				return errorf(CodeBadLength, "ID TECH frame has data after ETX: length field too short")
			}
		}
		if lrc, sum := lrcSum(cd); lrc != tail[0] {
			return errorf(CodeBadLRC, "ID TECH frame LRC is %02X, computed %02X: the read is damaged, swipe again", tail[0], lrc)
		} else if sum != tail[1] {
			return errorf(CodeBadChecksum, "ID TECH frame checksum is %02X, computed %02X: the read is damaged, swipe again", tail[1], sum)
		}
	case len(in) >= 12 && in[0] == '0' && in[1] == '2':
		f.text = true
		lo, ok1 := hexPair(in[2], in[3])
		hi, ok2 := hexPair(in[4], in[5])
		if !ok1 || !ok2 {
			return errorf(CodeMalformed, "ID TECH keyboard frame: length is not hex")
		}
		n := int(lo) | int(hi)<<8
		if 6+n+6 != len(in) {
			return errorf(CodeBadLength, "ID TECH keyboard frame says %d characters of card data but %d are there", n, len(in)-12)
		}
		cd = in[6 : 6+n]
		tail := in[6+n:]
		lrc, ok1 := hexPair(tail[0], tail[1])
		sum, ok2 := hexPair(tail[2], tail[3])
		if !ok1 || !ok2 || tail[4] != '0' || tail[5] != '3' {
			return errorf(CodeMalformed, "ID TECH keyboard frame: LRC, checksum or ETX is not hex")
		}
		if l, s := lrcSum(cd); l != lrc {
			return errorf(CodeBadLRC, "ID TECH frame LRC is %02X, computed %02X over the typed characters: the read is damaged, swipe again", lrc, l)
		} else if s != sum {
			return errorf(CodeBadChecksum, "ID TECH frame checksum is %02X, computed %02X over the typed characters: the read is damaged, swipe again", sum, s)
		}
	default:
		return errorf(CodeUnknownFormat, "not an ID TECH frame: it must start with STX (0x02) or the characters \"02\"")
	}
	f.cardData = cd
	return f.parseCardData(cd)
}

func lrcSum(b []byte) (lrc, sum byte) {
	for _, c := range b {
		lrc ^= c
		sum += c
	}
	return lrc, sum
}

func (f *idtechFrame) parseCardData(cd []byte) error {
	c := &cursor{b: cd, text: f.text}
	bad := func(what string) error {
		return errorf(CodeMalformed, "ID TECH frame: %s", what)
	}
	var ok bool
	if f.encode, ok = c.hexByte(); !ok {
		return bad("no card encode type")
	}
	f.enhanced = f.encode&0x80 != 0
	if f.encode&0x7F > 5 {
		return bad("unknown card encode type")
	}
	if f.status, ok = c.hexByte(); !ok {
		return bad("no track status")
	}
	for i := range f.lens {
		v, ok := c.hexByte()
		if !ok {
			return bad("track lengths cut short")
		}
		f.lens[i] = int(v)
	}
	if f.enhanced {
		return f.parseEnhanced(c, bad)
	}
	return f.parseOriginal(c, bad)
}

func (f *idtechFrame) parseEnhanced(c *cursor, bad func(string) error) error {
	var ok bool
	if f.f8, ok = c.hexByte(); !ok {
		return bad("no clear/masked data status")
	}
	if f.f9, ok = c.hexByte(); !ok {
		return bad("no encrypted/hash data status")
	}
	if f.status&statusOptional != 0 {
		n, ok := c.hexByte()
		if !ok {
			return bad("optional bytes cut short")
		}
		if _, ok := c.field(int(n)); !ok {
			return bad("optional bytes cut short")
		}
	}
	f.headLen = c.i
	for i := 0; i < 3; i++ {
		if f.f8&(1<<i) == 0 {
			continue
		}
		t, ok := c.raw(f.lens[i])
		if !ok {
			return bad("masked track cut short")
		}
		if !printable(t) {
			return bad("masked track holds non-printable bytes")
		}
		f.masked[i] = t
	}
	restStart := c.i
	block := 8
	if f.f8&f8AES != 0 {
		block = 16
	}
	for i := 0; i < 3; i++ {
		if f.f9&(1<<i) == 0 {
			continue
		}
		n := roundUp(f.lens[i], block)
		if n == 0 {
			return bad("encrypted track present with length 0")
		}
		if f.enc[i], ok = c.field(n); !ok {
			return bad("encrypted track cut short")
		}
	}
	if f.f9&f9SessionID != 0 {
		if _, ok := c.field(8); !ok {
			return bad("session id cut short")
		}
	}
	for i := 0; i < 3; i++ {
		if f.f9&(8<<i) == 0 {
			continue
		}
		if _, ok := c.field(20); !ok {
			return bad("track hash cut short")
		}
		f.hashes[i] = true
	}
	if f.f8&f8SerialPresent != 0 {
		if f.serial, ok = c.field(10); !ok {
			return bad("reader serial number cut short")
		}
	}
	if f.f9&f9KSNPresent != 0 {
		// TDES KSNs are 10 bytes; an AES-DUKPT reader sends 12.
		w := 10
		if rem := len(c.b) - c.i; rem == 12 || (c.text && rem == 24) {
			w = 12
		}
		if f.ksn, ok = c.field(w); !ok {
			return bad("KSN cut short")
		}
	}
	if c.i != len(c.b) {
		return errorf(CodeBadLength, "ID TECH frame has %d unexplained bytes after its last field", len(c.b)-c.i)
	}
	f.rest = c.b[restStart:]
	return nil
}

// parseOriginal reads the original format (§2.3): masked T1, T2, T3, one
// encrypted block for T1+T2, two hash slots, KSN.
func (f *idtechFrame) parseOriginal(c *cursor, bad func(string) error) error {
	f.headLen = c.i
	for i := 0; i < 3; i++ {
		t, ok := c.raw(f.lens[i])
		if !ok {
			return bad("track cut short")
		}
		if !printable(t) {
			return bad("track holds non-printable bytes")
		}
		if len(t) > 0 {
			f.masked[i] = t
		}
	}
	restStart := c.i
	n := roundUp(f.lens[0]+f.lens[1], 8)
	// What follows the encrypted block: hash slots (20 each) and the KSN.
	remaining := len(c.b) - c.i
	if c.text {
		remaining /= 2
	}
	switch remaining - n {
	case 50: // two hash slots + KSN
		f.hashes[0], f.hashes[1] = true, true
	case 10: // KSN only
	case 0:
		return clearData("the frame carries no encrypted data and no KSN")
	default:
		return errorf(CodeBadLength, "ID TECH original frame: %d bytes follow the tracks, want encrypted block + hashes + KSN", remaining)
	}
	var ok bool
	if f.enc[0], ok = c.field(n); !ok {
		return bad("encrypted block cut short")
	}
	if f.hashes[0] {
		if _, ok := c.field(40); !ok {
			return bad("hash slots cut short")
		}
	}
	if f.ksn, ok = c.field(10); !ok {
		return bad("KSN cut short")
	}
	f.rest = c.b[restStart:]
	return nil
}

func roundUp(n, block int) int { return (n + block - 1) / block * block }

// read turns a parsed frame into a Read with the idtech gateway fields.
func (f *idtechFrame) read(in []byte) (card.Read, error) {
	var r card.Read
	if err := f.checkEncrypted(); err != nil {
		return r, err
	}
	ksn, err := decodeKSN(f.ksn, f.text)
	if err != nil {
		return r, err
	}
	r.Envelope = card.Envelope{Format: card.FormatIDTech, Data: f.textForm(in), KSN: ksn}
	r.Source = "idtech"
	if !f.text {
		r.Source = "idtech-binary"
	}
	r.EntryMode = card.EntrySwiped
	if f.encode&0x7F == 5 {
		r.EntryMode = card.EntryKeyed
	}
	for i := 0; i < 3; i++ {
		present := f.masked[i] != nil || f.enc[i] != nil
		if !f.enhanced {
			present = f.lens[i] > 0
		} else if f.status&(8<<i) != 0 {
			present = true
		}
		t := card.Track{Present: present, HashPresent: f.hashes[i]}
		if present {
			t.Length = f.lens[i]
		}
		if f.enc[i] != nil {
			t.EncryptedLength = len(f.enc[i])
			if f.text {
				t.EncryptedLength /= 2
			}
		}
		r.Tracks[i] = t
	}
	var serial []byte
	if f.serial != nil {
		serial = f.serial
		if f.text {
			serial = nil
			var buf [10]byte
			if n, ok := decodeHexInto(buf[:], f.serial); ok {
				serial = trimSerial(buf[:n])
			}
		}
		serial = trimSerial(serial)
	}
	fillPublic(&r, f.masked, serial)
	if f.encode&0x7F == 4 {
		r.Warnings = append(r.Warnings, "raw (undecoded) card data: no masked PAN")
	}
	if !f.enhanced && f.masked[2] != nil {
		if r.Warnings == nil {
			r.Warnings = warnClearT3[:1:1]
		} else {
			r.Warnings = append(r.Warnings, warnClearT3...)
		}
	}
	return r, nil
}

// warnClearT3 is shared by every read that needs it: one allocation less.
var warnClearT3 = []string{"track 3 is sent in clear by this reader (it carries no PAN)"}

// checkEncrypted refuses a frame whose tracks are not encrypted.
func (f *idtechFrame) checkEncrypted() error {
	if f.ksn == nil {
		return clearData("the ID TECH frame has no KSN")
	}
	if !f.enhanced {
		return nil // the original format always carries the encrypted block
	}
	for i := 0; i < 2; i++ {
		if f.masked[i] != nil && f.enc[i] == nil {
			return clearData("track " + string(rune('1'+i)) + " is not encrypted")
		}
	}
	if f.enc[0] == nil && f.enc[1] == nil && f.enc[2] == nil {
		return clearData("the frame holds no encrypted track")
	}
	return nil
}

// textForm is e_track_data: the frame in the keyboard text form of the
// seed sample. A text frame is forwarded as received; a binary one is
// re-encoded: binary fields as upper-case hex, masked tracks as ASCII, the
// length counting characters and LRC/checksum computed over them.
func (f *idtechFrame) textForm(in []byte) string {
	if f.text {
		return string(in)
	}
	head := f.cardData[:f.headLen]
	masked := f.cardData[f.headLen : len(f.cardData)-len(f.rest)]
	n := 2*len(head) + len(masked) + 2*len(f.rest)
	var w textWriter
	w.b.Grow(6 + n + 6)
	w.hex([]byte{stx, byte(n), byte(n >> 8)})
	w.lrc, w.sum = 0, 0 // STX and length are outside the LRC and checksum
	w.hex(head)
	w.raw(masked)
	w.hex(f.rest)
	lrc, sum := w.lrc, w.sum
	w.hex([]byte{lrc, sum})
	w.char('0')
	w.char('3')
	w.flush()
	return w.b.String()
}

// textWriter builds a keyboard text frame, keeping the LRC and checksum of
// the card-data characters as it writes them. It stages characters in a
// small array because byte-at-a-time Builder writes cost more than the parse.
type textWriter struct {
	b        strings.Builder
	lrc, sum byte
	buf      [256]byte
	n        int
}

func (w *textWriter) char(c byte) {
	if w.n == len(w.buf) {
		w.flush()
	}
	w.buf[w.n] = c
	w.n++
	w.lrc ^= c
	w.sum += c
}

func (w *textWriter) flush() {
	w.b.Write(w.buf[:w.n])
	w.n = 0
}

// raw writes ASCII as it is, in chunks.
func (w *textWriter) raw(src []byte) {
	for len(src) > 0 {
		if w.n == len(w.buf) {
			w.flush()
		}
		k := copy(w.buf[w.n:], src)
		for _, c := range src[:k] {
			w.lrc ^= c
			w.sum += c
		}
		w.n += k
		src = src[k:]
	}
}

func (w *textWriter) hex(src []byte) {
	for _, c := range src {
		if w.n+2 > len(w.buf) {
			w.flush()
		}
		hi, lo := hexUpper[c>>4], hexUpper[c&0x0F]
		w.buf[w.n], w.buf[w.n+1] = hi, lo
		w.n += 2
		w.lrc ^= hi ^ lo
		w.sum += hi + lo
	}
}
