package emv

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Limits of the parser.
const (
	// MaxDepth is the deepest nesting of constructed TLVs accepted. Real
	// reader data nests 4 levels (MagTek F9 › FA › 70 › FF42); the cap keeps
	// hostile input from building unbounded trees.
	MaxDepth = 16
	// MaxTrailer is the most unparsable bytes tolerated after the last
	// top-level object, besides 00/FF padding: room for a 4-byte CBC-MAC
	// (MagTek ARQC) or a 16-byte AES MAC. More than that is a malformed
	// object, reported as an error rather than silently dropped.
	MaxTrailer = 16
)

// Errors. Every parse error wraps ErrMalformed; messages name offsets, tags
// and lengths only, never values.
var (
	ErrMalformed        = errors.New("malformed tlv")
	ErrIndefiniteLength = fmt.Errorf("%w: indefinite length (80) is not used in emv", ErrMalformed)
	ErrTooDeep          = fmt.Errorf("%w: nesting deeper than %d", ErrMalformed, MaxDepth)
)

// TLV is one decoded object. Value aliases the decoded buffer; for a
// constructed object it holds the encoded children and Children holds them
// decoded.
type TLV struct {
	Tag      Tag
	Value    []byte
	Children []TLV
	// Masked and Encrypted are set when an ID TECH NEO2 record marked the
	// value with A1 (masked copy) or C1 (encrypted copy) before its length.
	// VP3300-style output sends the same two copies as plain TLVs with one
	// tag, masked first; they are kept as two TLVs in order, unflagged.
	Masked    bool
	Encrypted bool
}

// IsConstructed reports whether t holds nested TLVs. A marked (masked or
// encrypted) value is always opaque.
func (t TLV) IsConstructed() bool {
	return !t.Masked && !t.Encrypted && t.Tag.Constructed()
}

// Clone returns a deep copy of t that no longer aliases the decoded buffer.
func (t TLV) Clone() TLV {
	c := t
	if t.Value != nil {
		c.Value = append([]byte(nil), t.Value...)
	}
	if t.Children != nil {
		c.Children = cloneList(t.Children)
	}
	return c
}

func cloneList(l []TLV) []TLV {
	out := make([]TLV, len(l))
	for i, t := range l {
		out[i] = t.Clone()
	}
	return out
}

// Decode parses b into a tree of TLVs, walking into constructed objects.
//
// Padding: 00 bytes and runs of two or more FF bytes before, between and
// after objects are skipped, at any depth. A single FF starts a tag when a
// well-formed object follows (FF42, FF8105, FFEE01, FFE4 are real tags) and
// is skipped as padding otherwise.
//
// Trailer: after at least one top-level object, up to MaxTrailer bytes that
// do not parse (a MagTek MAC) end the parse without error; trailing reports
// how many bytes followed the end of the last top-level object, padding
// included. The price of that tolerance: a buffer cut short inside its last
// top-level object loses that object silently when at most MaxTrailer bytes
// of it remain. Callers that know the exact length (CutLengthPrefix, an IDG
// frame's length field) should cut first.
//
// Errors: indefinite lengths, invalid length bytes, truncated objects,
// anything unparsable inside a container, nesting beyond MaxDepth, and input
// with no object at all that is not pure padding.
func Decode(b []byte) (tlvs []TLV, trailing int, err error) {
	// Every level of the tree is a sub-slice of one arena, sized from a
	// typical object size (about 7 bytes in EMV data) and capped so that a
	// large hostile buffer cannot force a big allocation up front. A regrowth
	// leaves finished levels in the old array, which they keep referencing,
	// so no slice is ever invalidated.
	d := treeBuilder{arena: make([]TLV, 0, min(len(b)/6+4, 1024))}
	lastEnd := 0
	tlvs, err = d.level(b, 0, 0, &lastEnd)
	if err != nil {
		return nil, 0, err
	}
	return tlvs, len(b) - lastEnd, nil
}

type treeBuilder struct {
	arena []TLV
}

// level decodes the objects of one level (b is a container's value, base
// its offset in the input) by the rules of nextObject, the same ones the
// Scanner follows. It places them contiguously in the arena first and fills
// the containers' children after, so each header is parsed once. lastEnd
// records the end of the last top-level object for the trailer count.
func (d *treeBuilder) level(b []byte, base, depth int, lastEnd *int) ([]TLV, error) {
	start := len(d.arena)
	// This level's containers: arena index and value offset in the input.
	type container struct{ i, off int }
	var local [8]container
	cs := local[:0]
	for pos := 0; ; {
		var h header
		p := pos
		// Fast path, as in readHeader: a plain one-byte tag (neither padding
		// nor FF) with a short length. Everything else goes through
		// nextObject, which knows the quirks.
		if pos+3 <= len(b) && fastTag(b[pos]) && b[pos+1] < 0x80 && int(b[pos+1]) <= len(b)-pos-2 {
			h = header{tag: Tag(b[pos]), hdrLen: 2, valLen: int(b[pos+1]), constructed: b[pos]&0x20 != 0}
		} else {
			var f fault
			p, h, f = nextObject(b, pos, len(b))
			if f != faultNone {
				if depth == 0 && *lastEnd > 0 && len(b)-p <= MaxTrailer {
					break
				}
				return nil, faultError(f, h, base+p, depth)
			}
			if p >= len(b) {
				break
			}
		}
		vs, ve := p+h.hdrLen, p+h.hdrLen+h.valLen
		if h.constructed {
			if depth == MaxDepth {
				return nil, fmt.Errorf("%w: tag %s at offset %d", ErrTooDeep, h.tag, base+p)
			}
			cs = append(cs, container{len(d.arena), base + vs})
		}
		d.arena = append(d.arena, TLV{Tag: h.tag, Value: b[vs:ve:ve], Masked: h.masked, Encrypted: h.encrypted})
		if depth == 0 {
			*lastEnd = ve
		}
		pos = ve
	}
	if len(d.arena) == start {
		return nil, nil
	}
	out := d.arena[start:len(d.arena):len(d.arena)]
	for _, c := range cs {
		t := &out[c.i-start]
		children, err := d.level(t.Value, c.off, depth+1, lastEnd)
		if err != nil {
			return nil, err
		}
		t.Children = children
	}
	return out, nil
}

// fastTag reports a one-byte tag that is neither padding nor FF.
func fastTag(c byte) bool { return c != 0x00 && c&0x1F != 0x1F }

// Find returns the first TLV with the tag, searching depth first through
// constructed objects, in input order.
func Find(tlvs []TLV, tag Tag) (TLV, bool) {
	for _, t := range tlvs {
		if t.Tag == tag {
			return t, true
		}
		if len(t.Children) > 0 {
			if c, ok := Find(t.Children, tag); ok {
				return c, true
			}
		}
	}
	return TLV{}, false
}

// FindAll returns every TLV with the tag, depth first in input order. A
// VP3300 sends a sensitive tag twice, masked copy first, ciphertext second;
// both come back in that order.
func FindAll(tlvs []TLV, tag Tag) []TLV {
	var out []TLV
	var walk func([]TLV)
	walk = func(l []TLV) {
		for _, t := range l {
			if t.Tag == tag {
				out = append(out, t)
			}
			walk(t.Children)
		}
	}
	walk(tlvs)
	return out
}

// SplitAttribution splits an ID TECH 02-40 (or 03-40) response payload into
// its leading attribution byte and the TLVs that follow. 02-01 responses have
// no attribution byte: only the caller knows which command it sent, so this
// does not guess.
func SplitAttribution(b []byte) (attribution byte, tlvs []byte, err error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: empty response, no attribution byte", ErrMalformed)
	}
	return b[0], b[1:], nil
}

// CutLengthPrefix splits a MagTek ARQC/batch blob: a 2-byte big-endian length,
// that many bytes of TLV, then padding and a MAC outside the TLV (returned as
// rest, unchecked).
func CutLengthPrefix(b []byte) (tlvs, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%w: %d bytes, want a 2-byte length prefix", ErrMalformed, len(b))
	}
	n := int(binary.BigEndian.Uint16(b))
	if n > len(b)-2 {
		return nil, nil, fmt.Errorf("%w: length prefix %d exceeds the %d bytes that follow", ErrMalformed, n, len(b)-2)
	}
	return b[2 : 2+n], b[2+n:], nil
}
