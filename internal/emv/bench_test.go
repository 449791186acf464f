package emv

import (
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

// naiveTLV and naiveDecode are the baseline the production parser is
// measured against: the straightforward recursive parser many projects
// start with. Hex-string tags, every value copied into a fresh slice, and a
// new child slice per constructed object. It knows the same quirks as
// Decode (legacy FFxx tags, FFEE12, A1/C1 markers) so that the two do the
// same work; it is not used outside this benchmark.
type naiveTLV struct {
	Tag       string
	Value     []byte
	Children  []naiveTLV
	Masked    bool
	Encrypted bool
}

func naiveDecode(b []byte, depth int) ([]naiveTLV, error) {
	if depth > MaxDepth {
		return nil, errors.New("too deep")
	}
	var out []naiveTLV
	i := 0
	for i < len(b) {
		if b[i] == 0x00 {
			i++
			continue
		}
		var tagBytes []byte
		tagBytes = append(tagBytes, b[i])
		i++
		if tagBytes[0]&0x1F == 0x1F {
			if tagBytes[0] == 0xFF && i < len(b) && b[i] >= 0xE0 && b[i] != 0xEE {
				tagBytes = append(tagBytes, b[i])
				i++
			} else {
				for {
					if i >= len(b) {
						return nil, errors.New("truncated tag")
					}
					tagBytes = append(tagBytes, b[i])
					i++
					if tagBytes[len(tagBytes)-1]&0x80 == 0 {
						break
					}
				}
			}
		}
		tag := hex.EncodeToString(tagBytes)
		if i >= len(b) {
			return nil, errors.New("truncated length")
		}
		t := naiveTLV{Tag: tag}
		if b[i] == 0xA1 || b[i] == 0xC1 {
			t.Masked, t.Encrypted = b[i] == 0xA1, b[i] == 0xC1
			i++
		}
		if i >= len(b) {
			return nil, errors.New("truncated length")
		}
		l := int(b[i])
		i++
		if l > 0x80 {
			k := l & 0x7F
			if k > 4 || i+k > len(b) {
				return nil, errors.New("bad length")
			}
			l = 0
			for _, c := range b[i : i+k] {
				l = l<<8 | int(c)
			}
			i += k
		} else if l == 0x80 {
			return nil, errors.New("indefinite length")
		}
		if l > len(b)-i {
			return nil, errors.New("overrun")
		}
		t.Value = make([]byte, l)
		copy(t.Value, b[i:i+l])
		i += l
		constructed := tagBytes[0]&0x20 != 0 && !t.Masked && !t.Encrypted &&
			tag != "ffee12" && tag != "ffee1f" && !(len(tagBytes) == 2 && tagBytes[0] == 0xFF && tagBytes[1] >= 0xE0)
		if constructed {
			children, err := naiveDecode(t.Value, depth+1)
			if err != nil {
				return nil, err
			}
			t.Children = children
		}
		out = append(out, t)
	}
	return out, nil
}

// benchResponse is a ~300-byte EMV response assembled from the VP3300 contact
// capture: its EMV tags from 9F39 on, wrapped in a 77 template (GENERATE AC
// format 2), so the parse walks one level of nesting like a real response.
func benchResponse(tb testing.TB) []byte {
	tb.Helper()
	tree, _, err := Decode(tlvBytes(tb, "idtech_vp3300_contact_emv_tlv"))
	if err != nil {
		tb.Fatal(err)
	}
	var content []byte
	started := false
	for _, t := range tree {
		if t.Tag == TagPOSEntryMode {
			started = true
		}
		if started && len(content) < 290 {
			content = Append(content, t)
		}
	}
	return AppendTLV(nil, 0x77, content)
}

func TestBenchInput(t *testing.T) {
	b := benchResponse(t)
	if len(b) < 280 || len(b) > 330 {
		t.Fatalf("benchmark input is %d bytes, want about 300", len(b))
	}
	tree, _, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	naive, err := naiveDecode(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The baseline does the same work: same tags, values and shape.
	var conv func([]TLV) []naiveTLV
	conv = func(l []TLV) []naiveTLV {
		var out []naiveTLV
		for _, t := range l {
			n := naiveTLV{Tag: hex.EncodeToString(t.Tag.Bytes()), Value: append([]byte{}, t.Value...), Masked: t.Masked, Encrypted: t.Encrypted}
			if len(t.Children) > 0 {
				n.Children = conv(t.Children)
			}
			out = append(out, n)
		}
		return out
	}
	if !reflect.DeepEqual(conv(tree), naive) {
		t.Error("naive baseline and Decode disagree")
	}
	for _, name := range captureNames {
		if _, err := naiveDecode(tlvBytes(t, name), 0); err != nil {
			t.Errorf("baseline fails on %s: %v", name, err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	in := benchResponse(b)
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if _, err := naiveDecode(in, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if _, _, err := Decode(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Scanner", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		var s Scanner
		for b.Loop() {
			s.Reset(in)
			for s.Next() {
			}
			if s.Err() != nil {
				b.Fatal(s.Err())
			}
		}
	})
	b.Run("ReceiptFromBytes", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if _, err := ReceiptFromBytes(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
