package sandbox

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/card"
)

// TestCutSeedSamples cuts the four seed layouts and opens them.
func TestCutSeedSamples(t *testing.T) {
	tests := []struct {
		format       card.Format
		data, serial string
		t1, t2       int // ciphertext bytes
	}{
		{card.FormatIDTech, seedIDTech, "", 72, 40},
		{card.FormatMagneSafe, seedMagneSafe, "", 72, 40},
		{card.FormatKSN, seedKSNData, seedKSN, 72, 40},
		{card.FormatKSNPIN, seedKSNPINData, seedKSN, 72, 40},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			s, err := cutEnvelope(tc.format, tc.data, tc.serial)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ToUpper(hex.EncodeToString(s.ksn)) != seedKSN || len(s.t1) != tc.t1 || len(s.t2) != tc.t2 {
				t.Fatalf("ksn %X t1 %d t2 %d", s.ksn, len(s.t1), len(s.t2))
			}
			c, err := s.open()
			if err != nil {
				t.Fatal(err)
			}
			r := c.ref()
			if r.FirstSix != "542837" || r.LastFour != "0254" || r.Brand != card.BrandMC || c.name != "YOU/A GIFT FOR" || c.exp != "2109" {
				t.Errorf("card %+v name %q exp %q", r, c.name, c.exp)
			}
		})
	}
}

// TestIDTechOriginalFrame: the original format (T1 and T2 in one block) in
// keyboard text form, built from the MS246 binary sample of card-formats.md
// §2.6: masked tracks as ASCII, binary fields as hex, LRC and checksum over
// the characters.
func TestIDTechOriginalFrame(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "idtech_original_ms246.hex"))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := hex.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
	if err != nil {
		t.Fatal(err)
	}
	body := bin[3 : len(bin)-3] // card data of the binary frame
	l1, l2, l3 := int(body[2]), int(body[3]), int(body[4])
	var text bytes.Buffer
	text.WriteString(strings.ToUpper(hex.EncodeToString(body[:5])))
	text.Write(body[5 : 5+l1+l2+l3]) // masked (and clear T3) tracks as typed
	text.WriteString(strings.ToUpper(hex.EncodeToString(body[5+l1+l2+l3:])))
	frame := keyboardFrame(text.String())
	s, err := cutEnvelope(card.FormatIDTech, frame, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.open()
	if err != nil {
		t.Fatal(err)
	}
	if r := c.ref(); r.FirstSix != "426684" || r.LastFour != "9999" || c.name != "BUSH JR/GEORGE W.MR" {
		t.Errorf("card %+v %q", r, c.name)
	}
	// The manual's card number fails Luhn: the read is good, the sale
	// declines as an account error.
	h := newHarness(t)
	code, m := h.post(seedSale("idtech", frame, "", "S", "1.00"))
	if v := txn(t, m); code != 201 || num(v, "reason_code_id") != 1608 || str(v, "last_four") != "9999" {
		t.Errorf("sale: %d %v", code, v)
	}
}

// keyboardFrame wraps card data text in STX, length, LRC, checksum, ETX.
func keyboardFrame(body string) string {
	var lrc, sum byte
	for i := 0; i < len(body); i++ {
		lrc ^= body[i]
		sum += body[i]
	}
	n := len(body)
	return "02" + strings.ToUpper(hex.EncodeToString([]byte{byte(n), byte(n >> 8)})) + body +
		strings.ToUpper(hex.EncodeToString([]byte{lrc, sum})) + "03"
}

func TestCutErrorsNeverQuoteInput(t *testing.T) {
	inputs := []struct {
		f          card.Format
		data, ksn  string
		wantSubstr string
	}{
		{card.FormatIDTech, "02" + strings.Repeat("41", 30) + "03", "", "length"},
		{card.FormatIDTech, keyboardFrame(seedIDTech[6 : len(seedIDTech)-6]), "", ""},
		{card.FormatIDTech, strings.Replace(seedIDTech, "32B603", "33B603", 1), "", "LRC"},
		{card.FormatIDTech, strings.Replace(seedIDTech, "32B603", "32B703", 1), "", "checksum"},
		{card.FormatMagneSafe, "a|b|c", "", "fields"},
		{card.FormatKSN, "a|b", seedKSN, "fields"},
		{card.FormatKSN, "a|0123456789ABCDEZ|", seedKSN, "not hex"},
		{card.FormatKSN, "a||", seedKSN, "no encrypted track"},
		{card.Format("xml"), "a", "", "e_format"},
	}
	for _, in := range inputs {
		s, err := cutEnvelope(in.f, in.data, in.ksn)
		if err == nil {
			_, err = s.open()
		}
		if in.wantSubstr == "" {
			if err != nil {
				t.Errorf("%s: %v", in.f, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, errEnvelope) || !strings.Contains(err.Error(), in.wantSubstr) {
			t.Errorf("%s %.20q: error %v, want one about %q", in.f, in.data, err, in.wantSubstr)
			continue
		}
		if len(in.data) >= 8 && strings.Contains(err.Error(), in.data[2:8]) {
			t.Errorf("error quotes the input: %v", err)
		}
	}
}

func TestParseTracks(t *testing.T) {
	pad := func(s string, b byte) []byte { return append([]byte(s), bytes.Repeat([]byte{b}, 5)...) }
	tests := []struct {
		name   string
		t1, t2 []byte
		bcd    bool
		last4  string
		ok     bool
	}{
		{"both, zero pad", pad("%B4111111111111111^DOE/J^2512101?%", 0), pad(";4111111111111111=2512101?>", 0), false, "1111", true},
		{"ascii zero pad", pad("%B4111111111111111^DOE/J^2512101?%", '0'), pad(";4111111111111111=2512101?>", '0'), false, "1111", true},
		{"t2 only", nil, []byte(";5454545454545454=2512?"), false, "5454", true},
		{"t1 only", []byte("%B5454545454545454^X^2512?"), nil, false, "5454", true},
		{"disagree", []byte("%B5454545454545454^X^2512?"), []byte(";4111111111111111=2512?"), false, "", false},
		{"bad luhn is still read", nil, []byte(";4111111111111112=2512?"), false, "1112", true},
		{"short pan", nil, []byte(";41111111111=2512?"), false, "", false},
		{"no end sentinel", nil, []byte(";4111111111111111=2512"), false, "", false},
		{"no format code", []byte("%4111111111111111^X^2512?"), nil, false, "", false},
		{"bcd off", nil, []byte{0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xD2, 0x51, 0x2F}, false, "", false},
		{"bcd on", nil, []byte{0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xD2, 0x51, 0x2F}, true, "1111", true},
		{"bcd bad nibble", nil, []byte{0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xD2, 0x5A, 0x2F}, true, "", false},
		{"bcd no separator", nil, []byte{0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xFF}, true, "", false},
		{"bcd short expiry", nil, []byte{0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xD2, 0x5F}, true, "", false},
		{"empty", nil, nil, true, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := readTracks(tc.t1, tc.t2, tc.bcd)
			if ok != tc.ok || (ok && c.ref().LastFour != tc.last4) {
				t.Errorf("ok %v last4 %q, want %v %q", ok, c.ref().LastFour, tc.ok, tc.last4)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1", 100, true}, {"1.5", 150, true}, {"1.50", 150, true}, {".5", 50, true}, {"12.", 1200, true},
		{"0", 0, true}, {"9999999.99", 999999999, true}, {"10000000", 0, false}, {"1.234", 0, false},
		{"-1", 0, false}, {"1e2", 0, false}, {"", 0, false}, {".", 0, false}, {"1,00", 0, false},
		{"99999999999999999999", 0, false}, {" 2.01 ", 201, true},
	}
	for _, tc := range tests {
		got, err := parseAmount(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseAmount(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for c, want := range map[int64]string{0: "0.00", 5: "0.05", 100: "1.00", 123456: "1234.56", -250: "-2.50"} {
		if got := money(c); got != want {
			t.Errorf("money(%d) = %q, want %q", c, got, want)
		}
	}
}

// TestNoClearPANInSource: no non-test source file of the package holds a
// Luhn-valid 13-19 digit run, and docs/sandbox.md neither.
func TestNoClearPANInSource(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "..", "..", "docs", "sandbox.md"))
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checked++
		text := string(b)
		if !strings.HasSuffix(f, ".go") {
			// The docs' curl example carries the public seed sample, whose
			// hex ciphertext and KSN hold digit runs that are not card
			// numbers; scan the rest.
			text = strings.NewReplacer(seedIDTech, "", seedKSN, "").Replace(text)
		}
		if run := luhnRun(text); run != "" {
			t.Errorf("%s holds a Luhn-valid digit run %s…", f, run[:6])
		}
		// The docs show the public seed sample in a curl example; Go
		// source must not hold ciphertext.
		for _, ct := range seedCiphertexts {
			if strings.HasSuffix(f, ".go") && strings.Contains(strings.ToUpper(string(b)), ct[:16]) {
				t.Errorf("%s holds seed ciphertext", f)
			}
		}
	}
	if checked < 5 {
		t.Errorf("checked only %d files", checked)
	}
}

func TestNewIDShape(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		id := newID()
		if len(id) != 24 || seen[id] || luhnRun(id) != "" {
			t.Fatalf("bad id %q", id)
		}
		run := 0
		for i := 0; i < len(id); i++ {
			if id[i] >= '0' && id[i] <= '9' {
				run++
				if run > 7 {
					t.Fatalf("id %q has a digit run over 7", id)
				}
			} else {
				run = 0
			}
		}
		seen[id] = true
	}
}
