package emv

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseTag(t *testing.T) {
	tests := []struct {
		in      string
		want    Tag
		wantLen int
		wantErr bool
	}{
		{"4F", 0x4F, 1, false},
		{"9f02", 0x9F02, 2, false},
		{"5F2A", 0x5F2A, 2, false},
		{"DFEE12", 0xDFEE12, 3, false},
		{"FFEE01", 0xFFEE01, 3, false},
		{"FF8105", 0xFF8105, 3, false},
		{"DFDFDF37", 0xDFDFDF37, 4, false},
		{"FFE4", 0xFFE4, 2, false}, // legacy ID TECH: two bytes although E4 has bit 8 set
		{"FFF0", 0xFFF0, 2, false},
		{"FF42", 0xFF42, 2, false},
		{"9F", 0, 0, true},         // 9F announces a second byte
		{"DFEE", 0, 0, true},       // EE announces a third byte
		{"9F0201", 0, 0, true},     // tag ends after 2 bytes
		{"DFDFDFDF37", 0, 0, true}, // 5 bytes
		{"00", 0, 0, true},
		{"", 0, 0, true},
		{"zz", 0, 0, true},
	}
	for _, tc := range tests {
		got, err := ParseTag(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseTag(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		if got != tc.want || got.Len() != tc.wantLen {
			t.Errorf("ParseTag(%q) = %#x (len %d), want %#x (len %d)", tc.in, uint32(got), got.Len(), uint32(tc.want), tc.wantLen)
		}
		if s := got.String(); s != strings.ToUpper(tc.in) {
			t.Errorf("Tag(%#x).String() = %q, want %q", uint32(got), s, strings.ToUpper(tc.in))
		}
		if b := got.Bytes(); !bytes.Equal(b, hx(tc.in)) {
			t.Errorf("Tag(%#x).Bytes() = %X, want %s", uint32(got), b, tc.in)
		}
	}
}

func TestTagConstructed(t *testing.T) {
	tests := []struct {
		tag  Tag
		want bool
	}{
		{0x70, true}, {0x77, true}, {0xA5, true}, {0xBF0C, true}, {0xE1, true},
		{0xF8, true}, {0xF9, true}, {0xFA, true}, {0xFC, true}, {0xFF42, true},
		{0xFF8105, true}, {0xFFEE01, true},
		{0xFFEE12, false}, // KSN: constructed bit, primitive value
		{0xFFEE1F, false},
		{0xFFE4, false}, // legacy configuration value
		{0x57, false}, {0x9F26, false}, {0xDFEE12, false}, {0xDFDFDF37, false},
	}
	for _, tc := range tests {
		if got := tc.tag.Constructed(); got != tc.want {
			t.Errorf("%s.Constructed() = %v, want %v", tc.tag, got, tc.want)
		}
	}
}

// decodeTests also seed FuzzDecode.
var decodeTests = []struct {
	name     string
	in       string
	want     []node
	trailing int
	err      error // nil: success
}{
	{name: "empty", in: ""},
	{name: "only zero padding", in: "00 00 00", trailing: 3},
	{name: "only FF padding", in: "FF FF FF FF", trailing: 4},
	{name: "one primitive", in: "9F39 01 05",
		want: []node{{Tag: "9F39", Len: 1, Value: "05"}}},
	{name: "zero length", in: "9F42 00 9C 01 00",
		want: []node{{Tag: "9F42"}, {Tag: "9C", Len: 1, Value: "00"}}},
	{name: "4-byte MagTek tag", in: "DFDFDF38 02 A117",
		want: []node{{Tag: "DFDFDF38", Len: 2, Value: "A117"}}},
	{name: "long form 81", in: "DFEE23 81 03 010203",
		want: []node{{Tag: "DFEE23", Len: 3, Value: "010203"}}},
	{name: "long form 82", in: "57 82 0002 AABB",
		want: []node{{Tag: "57", Len: 2, Value: "AABB"}}},
	{name: "long form 83", in: "57 83 000001 AA",
		want: []node{{Tag: "57", Len: 1, Value: "AA"}}},
	{name: "long form 84", in: "57 84 00000001 AA",
		want: []node{{Tag: "57", Len: 1, Value: "AA"}}},
	{name: "nested", in: "70 0B 9F36 02 007A 77 04 9F27 01 80",
		want: []node{{Tag: "70", Len: 11, Children: []node{
			{Tag: "9F36", Len: 2, Value: "007A"},
			{Tag: "77", Len: 4, Children: []node{{Tag: "9F27", Len: 1, Value: "80"}}},
		}}}},
	{name: "padding between objects and inside a container", in: "00 9F39 01 05 00 00 70 05 5A 01 11 00 00 FF FF 9C 01 00",
		want: []node{
			{Tag: "9F39", Len: 1, Value: "05"},
			{Tag: "70", Len: 5, Children: []node{{Tag: "5A", Len: 1, Value: "11"}}},
			{Tag: "9C", Len: 1, Value: "00"},
		}},
	{name: "FF run before an object is padding, not a tag", in: "FF FF FF 5A 01 11",
		want: []node{{Tag: "5A", Len: 1, Value: "11"}}},
	{name: "trailing FF padding", in: "9F39 01 05 FF FF FF", trailing: 3,
		want: []node{{Tag: "9F39", Len: 1, Value: "05"}}},
	{name: "trailing single FF", in: "9F39 01 05 FF", trailing: 1,
		want: []node{{Tag: "9F39", Len: 1, Value: "05"}}},
	{name: "trailing zero padding and MAC", in: "F9 03 9C 01 00 00 00 00 64 53 30 5B", trailing: 7,
		want: []node{{Tag: "F9", Len: 3, Children: []node{{Tag: "9C", Len: 1, Value: "00"}}}}},
	{name: "legacy two-byte FFE4", in: "FFE4 01 05 9F39 01 05",
		want: []node{{Tag: "FFE4", Len: 1, Value: "05"}, {Tag: "9F39", Len: 1, Value: "05"}}},
	{name: "FFEE12 is primitive", in: "FFEE12 03 DF 30 01",
		want: []node{{Tag: "FFEE12", Len: 3, Value: "DF3001"}}},
	{name: "FFEE01 is constructed", in: "FFEE01 04 DF30 01 0C",
		want: []node{{Tag: "FFEE01", Len: 4, Children: []node{{Tag: "DF30", Len: 1, Value: "0C"}}}}},
	{name: "empty container", in: "FFEE01 00",
		want: []node{{Tag: "FFEE01", Children: nil}}},
	{name: "NEO2 masked and encrypted markers", in: "57 A1 02 1234 57 C1 03 AABBCC 5A A1 81 01 99",
		want: []node{
			{Tag: "57", Len: 2, Value: "1234", Masked: true},
			{Tag: "57", Len: 3, Value: "AABBCC", Encrypted: true},
			{Tag: "5A", Len: 1, Value: "99", Masked: true},
		}},
	{name: "VP3300 twin copies keep their order", in: "57 81 02 1234 57 81 03 AABBCC",
		want: []node{{Tag: "57", Len: 2, Value: "1234"}, {Tag: "57", Len: 3, Value: "AABBCC"}}},

	{name: "indefinite length", in: "70 80 9C 01 00 00 00 9C 01 00 9C 01 00 9C 01 00 9C 01 00 9C 01 00 9C 01 00", err: ErrIndefiniteLength},
	{name: "indefinite length in a container", in: "70 04 77 80 00 00", err: ErrIndefiniteLength},
	{name: "length of 5 bytes", in: "57 85 0000000001 AA 9C 01 00 9C 01 00 9C 01 00 9C 01 00 9C 01 00", err: ErrMalformed},
	{name: "value overruns a container", in: "70 03 5A 05 11", err: ErrMalformed},
	{name: "garbage inside a container", in: "70 04 5A 01 11 9F", err: ErrMalformed},
	{name: "container overruns the buffer by a lot", in: "70 7F 5A 01 11 5A 01 11 5A 01 11 5A 01 11 5A 01 11 5A 01 11", err: ErrMalformed},
	{name: "truncated object and nothing before it", in: "9F02 06 0000", err: ErrMalformed},
	{name: "tag of 5 bytes", in: "DFDFDFDF37 01 00", err: ErrMalformed},
	{name: "marker then nothing", in: "9C 01 00 70 02 57 A1", err: ErrMalformed},
	{name: "marker then indefinite", in: "70 04 57 A1 80 00", err: ErrIndefiniteLength},
	{name: "too much garbage after the last object", in: "9C 01 00 5A 7F" + strings.Repeat(" 11", 20), err: ErrMalformed},
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeTests {
		t.Run(tc.name, func(t *testing.T) {
			got, trailing, err := Decode(hx(tc.in))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Decode error = %v, want %v", err, tc.err)
				}
				if got != nil {
					t.Errorf("Decode returned %d objects with an error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if trailing != tc.trailing {
				t.Errorf("trailing = %d, want %d", trailing, tc.trailing)
			}
			if g := nodes(got); !reflect.DeepEqual(g, tc.want) {
				t.Errorf("Decode =\n%+v\nwant\n%+v", g, tc.want)
			}
			// The scanner must agree with the tree, object for object.
			var s Scanner
			s.Reset(hx(tc.in))
			n := 0
			for s.Next() {
				n++
			}
			if s.Err() != nil || n != countNodes(got) || s.Trailing() != trailing {
				t.Errorf("Scanner: %d objects, trailing %d, err %v; Decode: %d objects, trailing %d", n, s.Trailing(), s.Err(), countNodes(got), trailing)
			}
		})
	}
}

func nest(depth int) []byte {
	b := hx("9C 01 00")
	for i := 0; i < depth; i++ {
		b = AppendTLV(nil, 0x70, b)
	}
	return b
}

func TestDecodeDepth(t *testing.T) {
	if _, _, err := Decode(nest(MaxDepth)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	_, _, err := Decode(nest(MaxDepth + 1))
	if !errors.Is(err, ErrTooDeep) || !errors.Is(err, ErrMalformed) {
		t.Errorf("depth %d: error %v, want ErrTooDeep", MaxDepth+1, err)
	}
	if _, err := Walk(nest(1000), func(Field) bool { return true }); !errors.Is(err, ErrTooDeep) {
		t.Errorf("Walk depth 1000: error %v, want ErrTooDeep", err)
	}
}

func TestErrorsCarryNoValues(t *testing.T) {
	// A truncated track 2 inside a container: the error names tag and offset,
	// never the bytes.
	in := hx("70 0C 57 0F 4761 7300 0000 0119 D2 21")
	_, _, err := Decode(in)
	if err == nil {
		t.Fatal("no error")
	}
	for _, leak := range []string{"4761", "47 61", "0119"} {
		if strings.Contains(strings.ToUpper(err.Error()), leak) {
			t.Errorf("error %q contains value bytes %q", err, leak)
		}
	}
	if !strings.Contains(err.Error(), "57") || !strings.Contains(err.Error(), "offset 2") {
		t.Errorf("error %q should name tag 57 at offset 2", err)
	}
}

func TestScannerFields(t *testing.T) {
	in := hx("00 70 09 57 A1 01 11 FFEE12 01 22 9C 01 00")
	type ev struct {
		tag                 Tag
		depth, off          int
		constructed, masked bool
		value               string
	}
	want := []ev{
		{0x70, 0, 1, true, false, "57A10111FFEE120122"},
		{0x57, 1, 3, false, true, "11"},
		{0xFFEE12, 1, 7, false, false, "22"},
		{0x9C, 0, 12, false, false, "00"},
	}
	var got []ev
	trailing, err := Walk(in, func(f Field) bool {
		got = append(got, ev{f.Tag, f.Depth, f.Offset, f.Constructed, f.Masked, strings.ToUpper(bytesHex(f.Value))})
		return true
	})
	if err != nil || trailing != 0 {
		t.Fatalf("Walk: trailing %d, err %v", trailing, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Walk =\n%+v\nwant\n%+v", got, want)
	}
	// Stopping early.
	n := 0
	if _, err := Walk(in, func(Field) bool { n++; return n < 2 }); err != nil || n != 2 {
		t.Errorf("Walk stop: n=%d err=%v", n, err)
	}
	v, ok, err := FirstValue(in, 0xFFEE12)
	if err != nil || !ok || !bytes.Equal(v, []byte{0x22}) {
		t.Errorf("FirstValue(FFEE12) = %X, %v, %v", v, ok, err)
	}
	if _, ok, err := FirstValue(in, 0x5A); ok || err != nil {
		t.Errorf("FirstValue(5A) found=%v err=%v, want absent", ok, err)
	}
}

func bytesHex(b []byte) string {
	const d = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, d[c>>4], d[c&15])
	}
	return string(out)
}

func TestFind(t *testing.T) {
	tree, _, err := Decode(hx("57 01 11 70 09 57 01 22 77 04 9F27 01 80 57 01 33"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := Find(tree, 0x9F27); !ok || !bytes.Equal(v.Value, []byte{0x80}) {
		t.Errorf("Find(9F27) = %v, %v", v.Value, ok)
	}
	if _, ok := Find(tree, 0x5A); ok {
		t.Error("Find(5A) found an absent tag")
	}
	var got []byte
	for _, v := range FindAll(tree, 0x57) {
		got = append(got, v.Value...)
	}
	if !bytes.Equal(got, []byte{0x11, 0x22, 0x33}) {
		t.Errorf("FindAll(57) values = %X, want 112233 in input order", got)
	}
}

func TestClone(t *testing.T) {
	in := hx("70 03 5A 01 11")
	tree, _, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	c := tree[0].Clone()
	in[4] = 0x99
	if c.Children[0].Value[0] != 0x11 {
		t.Error("Clone still aliases the input")
	}
	if tree[0].Children[0].Value[0] != 0x99 {
		t.Error("Decode copies values; it is documented to alias")
	}
}

func TestAppendTLVLengths(t *testing.T) {
	tests := []struct {
		n      int
		header string
	}{
		{0, "57 00"}, {1, "57 01"}, {127, "57 7F"}, {128, "57 81 80"}, {255, "57 81 FF"},
		{256, "57 82 0100"}, {65535, "57 82 FFFF"}, {65536, "57 83 010000"},
	}
	for _, tc := range tests {
		v := bytes.Repeat([]byte{0xAB}, tc.n)
		got := AppendTLV([]byte{0xEE}, 0x57, v)
		want := append(append([]byte{0xEE}, hx(tc.header)...), v...)
		if !bytes.Equal(got, want) {
			t.Errorf("AppendTLV len %d: header % X, want %s", tc.n, got[1:min(len(got), 6)], tc.header)
		}
		back, _, err := Decode(got[1:])
		if err != nil || len(back) != 1 || !bytes.Equal(back[0].Value, v) {
			t.Errorf("AppendTLV len %d does not decode back: %v", tc.n, err)
		}
	}
}

func TestEncode(t *testing.T) {
	tree := []TLV{
		{Tag: 0xFFEE01, Children: []TLV{{Tag: 0xDF30, Value: []byte{0x0C}}}},
		{Tag: 0x57, Value: []byte{0x12, 0x34}, Masked: true},
		{Tag: 0x57, Value: []byte{0xAA}, Encrypted: true},
		{Tag: 0xDFDFDF39, Value: []byte{0x9D}},
		{Tag: 0x70, Value: hx("9C0100")}, // raw value, no Children
	}
	want := hx("FFEE01 04 DF30 01 0C 57 A1 02 1234 57 C1 01 AA DFDFDF39 01 9D 70 03 9C0100")
	if got := Encode(tree...); !bytes.Equal(got, want) {
		t.Errorf("Encode = % X\nwant     % X", got, want)
	}
}

// More objects than the arena's initial capacity: the regrowth must not
// lose or corrupt levels filled before it.
func TestDecodeArenaGrowth(t *testing.T) {
	var inner []byte
	for i := 0; i < 1500; i++ {
		inner = AppendTLV(inner, 0x9F36, []byte{byte(i >> 8), byte(i)})
	}
	in := AppendTLV(nil, 0x9C, []byte{0x00})
	in = AppendTLV(in, 0x70, AppendTLV(nil, 0x77, inner))
	in = AppendTLV(in, 0xFFEE01, AppendTLV(nil, 0xDF30, []byte{0x0C}))
	tree, trailing, err := Decode(in)
	if err != nil || trailing != 0 {
		t.Fatalf("Decode: trailing %d, %v", trailing, err)
	}
	if len(tree) != 3 || countNodes(tree) != 3+1+1500+1 {
		t.Fatalf("objects: %d top-level, %d total", len(tree), countNodes(tree))
	}
	atcs := tree[1].Children[0].Children
	for i, a := range atcs {
		if a.Tag != 0x9F36 || int(a.Value[0])<<8|int(a.Value[1]) != i {
			t.Fatalf("object %d of the big level is %s %X", i, a.Tag, a.Value)
		}
	}
	if c := tree[2].Children; len(c) != 1 || c[0].Tag != 0xDF30 {
		t.Errorf("FFEE01 children after the regrowth: %+v", c)
	}
}
