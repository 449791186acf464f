package emv

import "fmt"

// fault is why a header failed to parse. Faults are plain values so that a
// failed attempt (an FF that turns out to be padding) costs no allocation;
// they become errors only when reported.
type fault uint8

const (
	faultNone fault = iota
	faultTruncatedTag
	faultTagTooLong
	faultTruncatedLength
	faultIndefinite
	faultBadLength
	faultOverrun
)

func (f fault) String() string {
	switch f {
	case faultTruncatedTag:
		return "truncated tag"
	case faultTagTooLong:
		return fmt.Sprintf("tag longer than %d bytes", MaxTagLen)
	case faultTruncatedLength:
		return "truncated length"
	case faultIndefinite:
		return "indefinite length"
	case faultBadLength:
		return "invalid length byte"
	case faultOverrun:
		return "value runs past the end of its container"
	}
	return "ok"
}

// Length markers of ID TECH NEO2 records: a sensitive tag's masked and
// encrypted copies carry A1 / C1 where the length would be, then the length
// (57 A1 12 <18 masked bytes>, 57 C1 18 <24 ciphertext bytes>). As BER
// lengths both would announce 33 / 65 length bytes, so they cannot be
// mistaken for real lengths.
const (
	markerMasked    = 0xA1
	markerEncrypted = 0xC1
)

// header is a parsed tag + length.
type header struct {
	tag       Tag
	hdrLen    int // tag, marker and length bytes
	valLen    int
	masked    bool
	encrypted bool
	// constructed: the scanner descends into the value (never for a marked
	// value, a legacy FFxx tag or a primitive override).
	constructed bool
}

// readHeader parses the header at the start of b, where b ends at the end of
// the enclosing container, and checks that the value fits.
func readHeader(b []byte) (header, fault) {
	// Fast path: most EMV objects have a one- or two-byte tag and a short
	// length, and none of the quirks (FF tags, markers) apply.
	if len(b) >= 3 && b[0] != 0xFF {
		if b[0]&0x1F != 0x1F {
			if l := int(b[1]); l < 0x80 && l <= len(b)-2 {
				return header{tag: Tag(b[0]), hdrLen: 2, valLen: l, constructed: b[0]&0x20 != 0}, faultNone
			}
		} else if b[1]&0x80 == 0 {
			if l := int(b[2]); l < 0x80 && l <= len(b)-3 {
				return header{tag: Tag(b[0])<<8 | Tag(b[1]), hdrLen: 3, valLen: l, constructed: b[0]&0x20 != 0}, faultNone
			}
		}
	}
	var h header
	t, n, f := readTag(b)
	if f != faultNone {
		return h, f
	}
	h.tag = t
	// n == 2 with first byte FF is exactly a legacy tag (readTag).
	h.constructed = b[0]&0x20 != 0 && !(b[0] == 0xFF && n == 2 && isLegacySecond(b[1])) && !t.primitiveOverride()
	if n >= len(b) {
		return h, faultTruncatedLength
	}
	l := b[n]
	n++
	if l == markerMasked || l == markerEncrypted {
		h.masked, h.encrypted = l == markerMasked, l == markerEncrypted
		h.constructed = false
		if n >= len(b) {
			return h, faultTruncatedLength
		}
		l = b[n]
		n++
	}
	var v uint64
	switch {
	case l < 0x80:
		v = uint64(l)
	case l == 0x80:
		return h, faultIndefinite
	default:
		k := int(l & 0x7F)
		if k > 4 {
			return h, faultBadLength
		}
		if k > len(b)-n {
			return h, faultTruncatedLength
		}
		for _, c := range b[n : n+k] {
			v = v<<8 | uint64(c)
		}
		n += k
	}
	h.hdrLen = n
	if v > uint64(len(b)-n) {
		h.valLen = int(min(v, 1<<32))
		return h, faultOverrun
	}
	h.valLen = int(v)
	return h, faultNone
}

// Field is one object reported by the Scanner or Walk. Value aliases the
// scanned buffer; for a constructed object it holds the encoded children,
// which the scanner reports next, one level deeper.
type Field struct {
	Tag         Tag
	Value       []byte
	Depth       int  // 0 for top-level objects
	Offset      int  // offset of the tag in the scanned buffer
	Constructed bool // the scanner will descend into Value
	Masked      bool // NEO2 A1 marker
	Encrypted   bool // NEO2 C1 marker
}

// Scanner iterates over every object of a BER-TLV buffer in input order,
// descending into constructed objects, without allocating. It applies the
// same rules as Decode. The zero value is ready after Reset.
//
//	var s emv.Scanner
//	s.Reset(b)
//	for s.Next() {
//		f := s.Field()
//		…
//	}
//	if err := s.Err(); err != nil { … }
type Scanner struct {
	buf      []byte
	off      int
	ends     [MaxDepth]int // ends[i]: end offset of the open container at depth i+1
	depth    int           // number of open containers
	lastEnd  int           // end of the last top-level object; 0 before the first
	cur      Field
	err      error
	trailing int
	done     bool
}

// Reset starts scanning b.
func (s *Scanner) Reset(b []byte) {
	*s = Scanner{buf: b}
}

// Field is the object found by the last successful Next.
func (s *Scanner) Field() Field { return s.cur }

// Err is the error that stopped the scan, if any.
func (s *Scanner) Err() error { return s.err }

// Trailing is the number of bytes after the last top-level object (padding
// and a MAC), valid once Next has returned false without an error.
func (s *Scanner) Trailing() int { return s.trailing }

// Next advances to the next object and reports whether there is one.
func (s *Scanner) Next() bool {
	if s.done {
		return false
	}
	for {
		for s.depth > 0 && s.off >= s.ends[s.depth-1] {
			s.depth--
		}
		limit := len(s.buf)
		if s.depth > 0 {
			limit = s.ends[s.depth-1]
		}
		pos, h, f := nextObject(s.buf, s.off, limit)
		s.off = pos
		if f != faultNone {
			if s.depth == 0 && s.lastEnd > 0 && limit-s.off <= MaxTrailer {
				return s.finish()
			}
			return s.fail(f, h)
		}
		if s.off >= limit {
			if s.depth > 0 {
				continue // container ends with padding
			}
			return s.finish()
		}
		valStart := s.off + h.hdrLen
		valEnd := valStart + h.valLen
		s.cur = Field{
			Tag:       h.tag,
			Value:     s.buf[valStart:valEnd:valEnd],
			Depth:     s.depth,
			Offset:    s.off,
			Masked:    h.masked,
			Encrypted: h.encrypted,
		}
		s.cur.Constructed = h.constructed
		if s.depth == 0 {
			s.lastEnd = valEnd
		}
		if s.cur.Constructed {
			if s.depth == MaxDepth {
				s.done = true
				s.err = fmt.Errorf("%w: tag %s at offset %d", ErrTooDeep, h.tag, s.off)
				return false
			}
			s.ends[s.depth] = valEnd
			s.depth++
			s.off = valStart
		} else {
			s.off = valEnd
		}
		return true
	}
}

// nextObject skips padding in b[off:limit] and parses the header of the next
// object. It returns pos == limit and no fault at the end of the range, or the
// position and fault of bytes that are neither padding nor an object.
//
// Padding is 00, and runs of two or more FF: a whole run is skipped so that
// its last FF cannot pair with the next object's first byte into a bogus FFxx
// tag (so tag FFFF is never read). A single FF starts a tag when a
// well-formed object follows (FF42, FF8105, FFEE01, FFE4) and is padding
// otherwise.
func nextObject(b []byte, off, limit int) (pos int, h header, f fault) {
	for off < limit {
		c := b[off]
		if c == 0x00 {
			off++
			continue
		}
		if c == 0xFF && off+1 < limit && b[off+1] == 0xFF {
			for off < limit && b[off] == 0xFF {
				off++
			}
			continue
		}
		h, f = readHeader(b[off:limit])
		if f != faultNone && c == 0xFF {
			off++
			continue
		}
		return off, h, f
	}
	return limit, header{}, faultNone
}

func (s *Scanner) finish() bool {
	s.done = true
	s.trailing = len(s.buf) - s.lastEnd
	s.cur = Field{}
	return false
}

func (s *Scanner) fail(f fault, h header) bool {
	s.done = true
	s.cur = Field{}
	s.err = faultError(f, h, s.off, s.depth)
	return false
}

// faultError turns a fault at offset off into an error naming the tag,
// offset and length — never the value.
func faultError(f fault, h header, off, depth int) error {
	switch f {
	case faultIndefinite:
		return fmt.Errorf("%w: tag %s at offset %d", ErrIndefiniteLength, h.tag, off)
	case faultOverrun:
		return fmt.Errorf("%w: tag %s at offset %d: %s (length %d, depth %d)", ErrMalformed, h.tag, off, f, h.valLen, depth)
	case faultTruncatedTag, faultTagTooLong:
		return fmt.Errorf("%w: %s at offset %d (depth %d)", ErrMalformed, f, off, depth)
	}
	return fmt.Errorf("%w: tag %s at offset %d: %s (depth %d)", ErrMalformed, h.tag, off, f, depth)
}

// Walk calls fn for every object of b in input order, descending into
// constructed objects, until fn returns false. It does not allocate. It
// returns the trailing byte count as Decode does.
func Walk(b []byte, fn func(f Field) bool) (trailing int, err error) {
	var s Scanner
	s.Reset(b)
	for s.Next() {
		if !fn(s.cur) {
			return 0, nil
		}
	}
	return s.trailing, s.err
}

// FirstValue returns the value of the first object with the tag, scanning b
// without building a tree.
func FirstValue(b []byte, tag Tag) (value []byte, ok bool, err error) {
	var s Scanner
	s.Reset(b)
	for s.Next() {
		if s.cur.Tag == tag {
			return s.cur.Value, true, nil
		}
	}
	return nil, false, s.err
}
