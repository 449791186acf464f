package emv

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func seedDecode(f *testing.F) {
	for _, tc := range decodeTests {
		f.Add(hx(tc.in))
	}
	for _, name := range captureNames {
		f.Add(tlvBytes(f, name))
		f.Add(capture(f, name)) // uncut: attribution byte, length prefix, IDG header
	}
	f.Add(nest(MaxDepth + 1))
}

// FuzzDecode: any input gives a tree or an error wrapping ErrMalformed, never
// a panic; the scanner agrees with the tree; a decoded tree re-encodes to
// bytes that decode to the same tree; the receipt does not depend on the path.
func FuzzDecode(f *testing.F) {
	seedDecode(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, trailing, err := Decode(data)
		var s Scanner
		s.Reset(data)
		n, maxDepth := 0, 0
		for s.Next() {
			n++
			maxDepth = max(maxDepth, s.Field().Depth)
		}
		if (err == nil) != (s.Err() == nil) {
			t.Fatalf("Decode error %v, Scanner error %v", err, s.Err())
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if maxDepth >= MaxDepth {
			t.Fatalf("depth %d reported, limit %d", maxDepth, MaxDepth)
		}
		if n != countNodes(tree) || s.Trailing() != trailing || trailing < 0 || trailing > len(data) {
			t.Fatalf("Scanner %d objects trailing %d; Decode %d objects trailing %d", n, s.Trailing(), countNodes(tree), trailing)
		}
		enc := Encode(tree...)
		back, tr, err := Decode(enc)
		if err != nil || tr != 0 {
			t.Fatalf("Decode(Encode(tree)): trailing %d, %v", tr, err)
		}
		if !reflect.DeepEqual(shape(back), shape(tree)) {
			t.Fatalf("round trip changed the tree")
		}
		r, err := ReceiptFromBytes(data)
		if err != nil || r != ReceiptFrom(tree) {
			t.Fatalf("ReceiptFromBytes = %+v, %v; ReceiptFrom = %+v", r, err, ReceiptFrom(tree))
		}
		_ = Dump(tree)
	})
}

// FuzzWalk drives the allocation-free path on its own, stopping at a
// data-dependent point, with FirstValue on a tag taken from the input.
func FuzzWalk(f *testing.F) {
	seedDecode(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		stop := 1 + len(data)%7
		seen := 0
		_, err := Walk(data, func(fl Field) bool {
			if fl.Depth < 0 || fl.Depth >= MaxDepth || fl.Offset < 0 || fl.Offset >= len(data) {
				t.Fatalf("bad field %+v", fl)
			}
			if len(fl.Value) > len(data)-fl.Offset {
				t.Fatalf("value of %s overruns the input", fl.Tag)
			}
			seen++
			return seen < stop
		})
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		// FirstValue finds what a full walk finds first.
		if tag, _, fault := readTag(data); fault == faultNone {
			var first []byte
			found := false
			Walk(data, func(fl Field) bool {
				if fl.Tag == tag {
					first, found = fl.Value, true
					return false
				}
				return true
			})
			v, ok, _ := FirstValue(data, tag)
			if ok != found || !bytes.Equal(v, first) {
				t.Fatalf("FirstValue(%s) = %X, %v; Walk found %X, %v", tag, v, ok, first, found)
			}
		}
	})
}

func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"4F", "9F02", "DFEE12", "DFDFDF37", "FFE4", "FFEE01", "9F", "DFDFDFDF37", "00", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tag, err := ParseTag(s)
		if err != nil {
			return
		}
		back, err := ParseTag(tag.String())
		if err != nil || back != tag {
			t.Fatalf("ParseTag(%q) = %s, which parses back as %s, %v", s, tag, back, err)
		}
		if got, n, f := readTag(tag.Bytes()); f != faultNone || got != tag || n != tag.Len() {
			t.Fatalf("readTag(%X) = %s, %d, %v", tag.Bytes(), got, n, f)
		}
	})
}

func FuzzParseN12(f *testing.F) {
	for _, s := range []string{"000000001250", "999999999999", "00000000001A", "0000000000"} {
		f.Add(hx(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseN12(b)
		if err != nil {
			return
		}
		back, err := AmountN12(v)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("ParseN12(%X) = %d, AmountN12 gives %X, %v", b, v, back, err)
		}
	})
}
