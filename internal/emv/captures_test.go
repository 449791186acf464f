package emv

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// tlvBytes returns the TLV part of a capture, cut the way its caller cuts it:
// the VP3300 payload starts with an attribution byte, the MagTek blobs with a
// 2-byte length (padding and MAC follow the TLVs), the VP3350 capture is a
// whole IDG frame (14-byte header with a big-endian length, then attribution).
func tlvBytes(tb testing.TB, name string) []byte {
	tb.Helper()
	b := capture(tb, name)
	switch {
	case strings.HasPrefix(name, "magtek_arqc"):
		body, _, err := CutLengthPrefix(b)
		if err != nil {
			tb.Fatal(err)
		}
		return body
	case name == "idtech_vp3300_contact_emv_tlv":
		attr, rest, err := SplitAttribution(b)
		if err != nil || attr != 0xC0 {
			tb.Fatalf("attribution %02X, %v", attr, err)
		}
		return rest
	case name == "idtech_vp3350_0240_swipe_frame":
		n := int(b[12])<<8 | int(b[13])
		_, rest, err := SplitAttribution(b[14 : 14+n])
		if err != nil {
			tb.Fatal(err)
		}
		return rest
	}
	return b
}

var captureNames = []string{
	"idtech_vp3300_contact_emv_tlv",
	"idtech_augusta_kb_emv_tlv",
	"idtech_neo2_ctls_mastercard_record",
	"idtech_vp3350_0240_swipe_frame",
	"magtek_arqc_aes_ff42",
	"magtek_arqc_webhid_unigate",
	"magtek_arqc_dynamag_manual_legacy",
}

// want is one expected object, addressed by a path of tags from the top; #n
// picks the n-th (0-based) object with that tag at that level.
type want struct {
	path  string // "FF8105/57#1"
	value string // hex; "" with n >= 0 checks the length only
	n     int    // expected length, -1: do not check
	mask  bool
	enc   bool
}

func lookupPath(tb testing.TB, tree []TLV, path string) TLV {
	tb.Helper()
	level := tree
	var cur TLV
	for _, part := range strings.Split(path, "/") {
		idx := 0
		if i := strings.IndexByte(part, '#'); i >= 0 {
			idx = int(part[i+1] - '0')
			part = part[:i]
		}
		tag := MustTag(part)
		found := false
		for _, t := range level {
			if t.Tag == tag {
				if idx == 0 {
					cur, found = t, true
					break
				}
				idx--
			}
		}
		if !found {
			tb.Fatalf("path %s: %s not found", path, part)
		}
		level = cur.Children
	}
	return cur
}

func TestCaptures(t *testing.T) {
	tests := []struct {
		name     string
		top      int // top-level objects
		total    int // all objects
		wants    []want
		receipt  Receipt
		entry    string
		trailing int
	}{
		{
			// captures.md §2: KSN FFEE12, twin 57 (19 masked, 24 enc) and 5A
			// (8, 16), FFEE01 {DF30 01}, DFEE26 C0; 9F34 5E0300 → 1E signature.
			name: "idtech_vp3300_contact_emv_tlv", top: 58, total: 59,
			wants: []want{
				{path: "FFEE12", value: "62994900AB0008C001ED"},
				{path: "DFEE25", value: "0004"},
				{path: "57", n: 19}, {path: "57#1", n: 24},
				{path: "5A", n: 8}, {path: "5A#1", n: 16},
				{path: "DFEE12", n: 0},
				{path: "9F10", value: "06010A03A08002"},
				{path: "9F37", value: "031584C9"},
				{path: "9F02", value: "000000001250"},
				{path: "9A", value: "210120"},
				{path: "82", value: "3C00"},
				{path: "5F24", n: 3}, {path: "5F20", n: 26},
				{path: "FFEE01/DF30", value: "01"},
				{path: "DFEE26", value: "C0"},
			},
			receipt: Receipt{TC: "80E4775B5CB93C64", TVR: "0000008000", AID: "A0000000031010", TSI: "C800", ATC: "007A",
				APPLAB: "VISA CREDIT", CVM: "Signature", CryptogramType: "ARQC"},
			entry: "C",
		},
		{
			// captures.md §10: Augusta KB EMV contact, Discover; masked copies
			// in DFEF5D/DFEF5B, encrypted 57 (24) and 5A (16).
			name: "idtech_augusta_kb_emv_tlv", top: 52, total: 52,
			wants: []want{
				{path: "DFEE25", value: "0203"},
				{path: "DFEE26", value: "2000"},
				{path: "DFEE12", value: "CDCDCD94030006C00104"},
				{path: "DFEF5D", n: 19}, {path: "57", n: 24},
				{path: "DFEF5B", n: 8}, {path: "5A", n: 16},
				{path: "DFEF4C", value: "002700000000"},
				{path: "DFEF4D", n: 40},
				{path: "9F02", value: "000000001000"},
				{path: "DFEF57", value: hex.EncodeToString([]byte("ID TECH Augusta S USB-KB V1.02.021.S"))},
			},
			receipt: Receipt{TC: "A1B845A6577BFF18", TVR: "8000008000", AID: "A0000001523010", TSI: "6800", ATC: "0004",
				APPLAB: "DISCOVER", APPN: "Discover", CVM: "Signature", CryptogramType: "ARQC"},
			entry: "C",
		},
		{
			// captures.md §3: NEO2 record; FF8105 (384 bytes) holds 57 A1 12 /
			// 57 C1 18 and 5A A1 08 / 5A C1 10; 9F34 1F0302 → no CVM required.
			name: "idtech_neo2_ctls_mastercard_record", top: 11, total: 67,
			wants: []want{
				{path: "DF8129", value: "30F0F000B0F0FF00"},
				{path: "DFEE12", value: "FFFFFF0200223D20000F"},
				{path: "DFEE26", value: "E100"},
				{path: "DFEF4D", n: 0},
				{path: "FF8105", n: 384},
				{path: "FF8105/57", n: 18, mask: true},
				{path: "FF8105/57#1", n: 24, enc: true},
				{path: "FF8105/5A", n: 8, mask: true},
				{path: "FF8105/5A#1", n: 16, enc: true},
				{path: "FF8105/9F6D", value: "0001"},
				{path: "FF8106/9F42", value: "0978"},
				{path: "FF8106/DF8115", value: "0000000000FF"},
				{path: "FFEE01/DFEE30", value: "00"},
			},
			receipt: Receipt{TC: "E120C07356EA3DD8", TVR: "0440000001", AID: "A0000000041010", TSI: "0000", ATC: "36C3",
				APPLAB: "MasterCard", CVM: "No CVM Required", CryptogramType: "ARQC"},
			entry: "P",
		},
		{
			// captures.md §1: VP3350 swipe; DFEE23 82 0138 carries the MSR
			// frame (312 bytes), 9F39 90 swipe, FFEE01 {DFEE30 0C}.
			name: "idtech_vp3350_0240_swipe_frame", top: 10, total: 11,
			wants: []want{
				{path: "DFEE25", value: "0011"},
				{path: "DFEE23", n: 312},
				{path: "FFEE01/DFEE30", value: "0C"},
				{path: "DFEE26", value: "E800"},
				{path: "9F02", value: "000000000000"},
				{path: "DF5B", value: "05"},
				{path: "9A", value: "231116"},
				{path: "9F21", value: "202609"},
			},
			entry: "S",
		},
		{
			// captures.md §9: F9 › FA › 70 › FF42 {DFDFDF37 48, DFDFDF38, DFDFDF39}
			// and F8 {DFDF59 280, DFDF56, DFDF57 80, DFDF58 06}.
			name: "magtek_arqc_aes_ff42", top: 1, total: 20,
			wants: []want{
				{path: "F9", n: 502},
				{path: "F9/DFDF54", value: "9070040BE0010A400005"},
				{path: "F9/DFDF55", value: "82"},
				{path: "F9/DFDF25", value: hex.EncodeToString([]byte("BE0010A"))},
				{path: "F9/FA/70/82", value: "3900"},
				{path: "F9/FA/70/DFDF4D", n: 39},
				{path: "F9/FA/70/DFDF52", value: "05"},
				{path: "F9/FA/70/FF42/DFDFDF37", n: 48},
				{path: "F9/FA/70/FF42/DFDFDF38", value: "A1170005BE0010A00000000B"},
				{path: "F9/FA/70/FF42/DFDFDF39", value: "9D"},
				{path: "F9/FA/70/F8/DFDF59", n: 280},
				{path: "F9/FA/70/F8/DFDF56", value: "9070040BE0010A400005"},
				{path: "F9/FA/70/F8/DFDF57", value: "80"},
				{path: "F9/FA/70/F8/DFDF58", value: "06"},
			},
		},
		{
			name: "magtek_arqc_webhid_unigate", top: 1, total: 16,
			wants: []want{
				{path: "F9/DFDF54", value: "9070020B571AF20000A8"},
				{path: "F9/DFDF25", value: hex.EncodeToString([]byte("B571AF2"))},
				{path: "F9/FA/70/82", value: "1980"},
				{path: "F9/FA/70/DFDF52", value: "06"},
				{path: "F9/FA/70/F8/DFDF59", n: 296},
				{path: "F9/FA/70/F8/DFDF58", value: "02"},
			},
		},
		{
			// captures.md §11: legacy FD container; no 4F or 84, so AID comes
			// from 9F06.
			name: "magtek_arqc_dynamag_manual_legacy", top: 1, total: 42,
			wants: []want{
				{path: "FD/DFDF25", value: hex.EncodeToString([]byte("B306F96092815AA"))},
				{path: "FD/FA/9F02", value: "000000000999"},
				{path: "FD/FA/F8/DFDF56", value: "9010010B306F9600001B"},
				{path: "FD/FA/F8/FA/DF31", n: 24},
				{path: "FD/FA/F8/FA/DF32", n: 16},
				{path: "FD/FA/F8/FA/DF3B", n: 48},
			},
			receipt: Receipt{TC: "16A2BD071AD5DC1E", TVR: "4220008000", AID: "A0000000041010", TSI: "E800", ATC: "00C5",
				CVM: "Signature", CryptogramType: "ARQC"},
			entry: "C",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tlvBytes(t, tc.name)
			tree, trailing, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if trailing != tc.trailing {
				t.Errorf("trailing = %d, want %d", trailing, tc.trailing)
			}
			if len(tree) != tc.top || countNodes(tree) != tc.total {
				t.Errorf("objects: %d top-level, %d total; want %d, %d", len(tree), countNodes(tree), tc.top, tc.total)
			}
			for _, w := range tc.wants {
				got := lookupPath(t, tree, w.path)
				if w.value != "" {
					if g := strings.ToUpper(hex.EncodeToString(got.Value)); g != strings.ToUpper(w.value) {
						t.Errorf("%s = %s, want %s", w.path, g, strings.ToUpper(w.value))
					}
				} else if len(got.Value) != w.n {
					t.Errorf("%s: %d bytes, want %d", w.path, len(got.Value), w.n)
				}
				if got.Masked != w.mask || got.Encrypted != w.enc {
					t.Errorf("%s: masked %v encrypted %v, want %v %v", w.path, got.Masked, got.Encrypted, w.mask, w.enc)
				}
			}
			if r := ReceiptFrom(tree); r != tc.receipt {
				t.Errorf("ReceiptFrom =\n%+v\nwant\n%+v", r, tc.receipt)
			}
			if r, err := ReceiptFromBytes(b); err != nil || r != tc.receipt {
				t.Errorf("ReceiptFromBytes = %+v, %v", r, err)
			}
			mode := ""
			if v, ok := Find(tree, TagPOSEntryMode); ok && len(v.Value) == 1 {
				mode, _ = EntryModeFrom9F39(v.Value[0])
			}
			if mode != tc.entry {
				t.Errorf("entry mode = %q, want %q", mode, tc.entry)
			}

			// Round trip: re-encoding gives the same tree.
			enc := Encode(tree...)
			back, tr, err := Decode(enc)
			if err != nil || tr != 0 {
				t.Fatalf("Decode(Encode): trailing %d, %v", tr, err)
			}
			if !reflect.DeepEqual(shape(back), shape(tree)) {
				t.Error("Decode(Encode(tree)) differs from tree")
			}

			golden(t, tc.name, tree)
		})
	}
}

// golden compares the decoded tree with testdata/golden/NAME.json (rewrite
// with -update). The hand-written expectations above are the primary check;
// the golden file pins everything else.
func golden(t *testing.T, name string, tree []TLV) {
	t.Helper()
	got, err := json.MarshalIndent(nodes(tree), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	wantJSON, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, wantJSON) {
		t.Errorf("decoded tree differs from %s (run go test -update after checking the change)", path)
	}
}

// The MagTek blobs decode without cutting the MAC off first: the MAC and its
// padding come back as trailing bytes (4 zero bytes + 4-byte MAC; 7 + 4).
func TestMagTekTrailer(t *testing.T) {
	tests := []struct {
		name     string
		rest     string
		trailing int
	}{
		{"magtek_arqc_aes_ff42", "000000006453305B", 8},
		{"magtek_arqc_webhid_unigate", "00000000000000F9D4AEE8", 11},
		{"magtek_arqc_dynamag_manual_legacy", "", 0},
	}
	for _, tc := range tests {
		b := capture(t, tc.name)
		_, rest, err := CutLengthPrefix(b)
		if err != nil || !strings.EqualFold(hex.EncodeToString(rest), tc.rest) {
			t.Errorf("%s: CutLengthPrefix rest = %X, %v; want %s", tc.name, rest, err, tc.rest)
		}
		tree, trailing, err := Decode(b[2:])
		if err != nil || trailing != tc.trailing || len(tree) != 1 {
			t.Errorf("%s: Decode after the length: %d objects, trailing %d, %v; want 1, %d", tc.name, len(tree), trailing, err, tc.trailing)
		}
	}
	if _, _, err := CutLengthPrefix([]byte{0x01}); err == nil {
		t.Error("CutLengthPrefix of 1 byte: no error")
	}
	if _, _, err := CutLengthPrefix([]byte{0x00, 0x05, 0x9C}); err == nil {
		t.Error("CutLengthPrefix with a length past the end: no error")
	}
	// Without cutting the length the blob is not TLV: an error, not a silent
	// empty result.
	if _, _, err := Decode(capture(t, "magtek_arqc_aes_ff42")); err == nil {
		t.Error("Decode of a length-prefixed blob: no error")
	}
}

// The NEO2 record uses minimal lengths throughout, so it re-encodes byte for
// byte, A1/C1 markers included.
func TestNEO2ByteExactRoundTrip(t *testing.T) {
	b := tlvBytes(t, "idtech_neo2_ctls_mastercard_record")
	tree, _, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := Encode(tree...); !bytes.Equal(got, b) {
		t.Errorf("Encode(Decode(record)) differs from the record (%d vs %d bytes)", len(got), len(b))
	}
}

func TestPaddedBuffer(t *testing.T) {
	// A BLE read buffer: the TLVs, then 2004 zero bytes (captures.md §6).
	b := append(tlvBytes(t, "idtech_vp3300_contact_emv_tlv"), make([]byte, 2004)...)
	tree, trailing, err := Decode(b)
	if err != nil || trailing != 2004 || len(tree) != 58 {
		t.Errorf("padded: %d objects, trailing %d, %v", len(tree), trailing, err)
	}
}
