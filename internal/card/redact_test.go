package card

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// withCheck appends the Luhn check digit to an ASCII digit payload, so that
// a test can build a number that passes Luhn without writing one down.
func withCheck(payload string) string {
	return payload + string(rune('0'+luhnCheckDigit([]byte(payload))))
}

// fullwidth writes ASCII digits as fullwidth ones (U+FF10…).
func fullwidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '０' + (r - '0')
		}
		return r
	}, s)
}

// arabicIndic writes ASCII digits as Arabic-Indic ones (U+0660…).
func arabicIndic(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '٠' + (r - '0')
		}
		return r
	}, s)
}

// The numbers issue 16 planted, and their relatives: separated, glued to
// letters, in other scripts' digits, and track data where track data can be.
func TestContainsCardData(t *testing.T) {
	visa, mc, disc := "4111"+"111111111111", "5454"+"545454545454", "6011"+"000990139424"
	amex := "3714" + "49635398431"
	// A 14-digit date-time order number that passes Luhn: the prefix rule,
	// not luck, keeps it out.
	stamp := withCheck("2026120623552")
	ms := withCheck("173225000001")    // a Unix time in ms
	us := withCheck("176506532112345") // in µs
	// A UUID whose digit groups, dash-joined, are a Luhn-valid Visa-like
	// 14-digit run: "4624-4251-8823-0X".
	uuid := "3f2b6c0e-4624-4251-8823-0" + withCheck("4624425188230")[13:] + "b7ff622c6a"
	hexID := "ab" + withCheck("411111000000000") + "cdef12" // a 24-hex gateway id
	tests := []struct {
		s    string
		want bool
	}{
		// Issue 16's sale.
		{"visa 4111-1111-1111-1111 / 5454 5454 5454 5454", true},
		{"INV" + disc, true},
		{"t" + visa, true},
		// Separated.
		{"4111 1111 1111 1111", true},
		{"4111-1111-1111-1111", true},
		{"3714 496353 98431", true}, // Amex 4-6-5
		{"41 1111 11-1 1 1111 11", true},
		{"4111\u00a01111\u00a01111\u00a01111", true}, // no-break spaces
		{"4111\u20131111\u20131111\u20131111", true}, // en dashes
		{"cards 4111 1111 1111 1111 5454 5454 5454 5454", true},
		{"qty 2 " + visa, true},
		{"4111  1111 1111 1111", false}, // two separators end a number
		// Separators a careless page or a spreadsheet paste uses, and
		// invisible format characters (zero-width space, soft hyphen, word
		// joiner, BOM) that print nothing: the number looks whole.
		{"4111.1111.1111.1111", true},
		{"4111/1111/1111/1111", true},
		{"4111_1111_1111_1111", true},
		{"4111\t1111\t1111\t1111", true},
		{"4111\n1111\r\n1111", false}, // CR LF is two separators
		{"4111\n1111\n1111\n1111", true},
		{"4111\u200b1111\u200b1111\u200b1111", true},
		{"4\u00ad111111111111111", true},
		{"4111\u20601111\u20601111\u20601111", true},
		{"4111\ufeff1111\ufeff1111\ufeff1111", true},
		{"v10.0.19041.1110", false},
		{"192.168.100.200 10.0.0.1", false},
		{"31.12.2026 14.30", false},
		// '.', '/', '_', tabs and line breaks join only the groupings cards
		// are printed in: a reader's device path with a serial number, a
		// test's temp dir ("…Host4000000007/001": 13 digits, Luhn-valid,
		// Visa prefix) or a list of prices is no card number.
		{"serial:/tmp/TestTestKeySerialReaderByGatewayHost4000000007/001/pty", false},
		{"4000000007/001", false},
		{"3714/496353/98431", true}, // Amex 4-6-5
		{"4111.1111.1111.1", false}, // 4-4-4-1 is 13 digits, not Luhn-valid here
		{"4000.0000.0700.1", true},  // 4-4-4-1, Luhn-valid
		{"4000000.007001", false},
		// Glued.
		{"card" + visa + "x", true},
		{visa + "th", true},
		{"ref" + amex, true},
		{"ABC" + visa, true},            // hex letters, but 19 characters: no identifier
		{"a" + visa, true},              // 17
		{"cafe" + visa, false},          // 20 hex characters: a KSN's length
		{"12ab" + visa + "cd", true},    // 22 hex characters: no identifier
		{"12ab" + visa + "cdef", false}, // 24: a gateway id

		// Other digits.
		{fullwidth(visa), true},
		{fullwidth("4111 1111 1111 1111"), true},
		{"４１１１\u3000１１１１\u3000１１１１\u3000１１１１", true}, // ideographic spaces
		{arabicIndic(mc), true},
		{"4111" + fullwidth("1111") + "1111" + arabicIndic("1111"), true},
		// Track data where it can be.
		{"%B" + visa + "^DOE/J^2512101?", true},
		{"%B4111 1111 1111 1111^DOE/J^2512?", true},
		{"%B" + "411111111111" + "^X^2512?", true}, // 12 digits, no Luhn: still a track
		{";" + visa + "=2512101?", true},
		{"x;" + mc + "=", true},
		// Text.
		{"20%Bonus coffee", false},
		{"50% off; ok", false},
		{"%B^;=", false},
		{"%B41^", false},
		{"; 4111=", false},
		{"", false},
		{"2 coffees, table 12", false},
		{"1 234 567.89", false},
		// Not card numbers.
		{"4111" + "111111111112", false}, // Luhn fails
		{"INV4111" + "111111111112", false},
		{"4111" + "1111111111111111", false}, // 20 digits
		{"62994900730004200002", false},      // a KSN
		{stamp, false},
		{"order " + stamp, false},
		{ms, false},
		{us, false},
		{"0000" + withCheck("00000000041"), false}, // zero-padded counter
		{"A0000000041010", false},                  // an EMV AID
		{uuid, false},
		{"id " + uuid + " ok", false},
		{hexID, false},
		{"2026-12-06T23:55:21.123456789Z", false},
		{"+1 555 123 4567", false},
	}
	for _, tc := range tests {
		if got := ContainsCardData(tc.s); got != tc.want {
			t.Errorf("ContainsCardData(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
	// The UUID case is only a test if its digits would be a card number
	// outside a UUID.
	if len(uuid) != 36 || !ContainsCardData(strings.TrimSuffix(uuid[9:], "b7ff622c6a")) {
		t.Errorf("the UUID fixture %q holds no card-shaped digits: the test proves nothing", uuid)
	}
	if !ContainsCardData("x" + hexID[2:18] + " ") {
		t.Errorf("the hex id fixture holds no card number")
	}
}

// Every number the simulated reader makes, on each brand's test BIN, is
// found bare, separated in fours, glued and in fullwidth digits.
func TestContainsCardDataFindsTestPANs(t *testing.T) {
	for _, brand := range TestBrands() {
		for range 50 {
			pan, err := TestPAN(brand)
			if err != nil {
				t.Fatal(err)
			}
			var fours []string
			for i := 0; i < len(pan); i += 4 {
				fours = append(fours, pan[i:min(i+4, len(pan))])
			}
			for _, s := range []string{pan, strings.Join(fours, " "), strings.Join(fours, "-"), "INV" + pan, pan + "z", fullwidth(pan)} {
				f := FindCardData(s)
				if len(f) == 0 || f[0].Digits != pan || f[0].Kind != FoundPAN {
					t.Fatalf("%s %s: found %d", brand, Mask(pan), len(f))
				}
			}
		}
	}
}

func TestRedactPANs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no card here 12345", "no card here 12345"},
		{"pan 4111111111111111 end", "pan 411111******1111 end"},
		{"visa 4111-1111-1111-1111 / 5454 5454 5454 5454", "visa 4111-11**-****-1111 / 5454 54** **** 5454"},
		{"INV6011000990139424", "INV601100******9424"},
		{fullwidth("4111111111111111"), fullwidth("411111") + "******" + fullwidth("1111")},
		{"not luhn 4111111111111112", "not luhn 4111111111111112"},
		{"ts 1732250000000 id", "ts 1732250000000 id"},
		{"t1 %B4111111111111111^X/Y^2112?rest", "t1 [track redacted]rest"},
		{"t2 ;4111111111111111=2112101?rest", "t2 [track redacted]rest"},
		{"t2 ;4111111111111111=2112101", "t2 [track redacted]"},
		{"50% off; ok", "50% off; ok"},
		{"20%Bonus coffee", "20%Bonus coffee"},
	}
	for _, tc := range tests {
		if got := RedactPANs(tc.in); got != tc.want {
			t.Errorf("RedactPANs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Masking one number leaves six leading digits that can join the groups
// before them into a new candidate: RedactPANs goes on until none is left.
func TestRedactPANsLeavesNoCandidate(t *testing.T) {
	for _, prefix := range []string{"1234 5678 9 ", "5 ", "4 1 1 1 1 1 1 ", "12-34-56 "} {
		for _, brand := range TestBrands() {
			pan, err := TestPAN(brand)
			if err != nil {
				t.Fatal(err)
			}
			in := prefix + pan + " 1 2 3 4 5 6 7 8 9"
			if out := RedactPANs(in); ContainsCardData(out) || strings.Contains(out, pan) {
				t.Errorf("RedactPANs(%q…) = %q keeps card data", prefix, out)
			}
		}
	}
}

// digitValue relies on Unicode's decimal digits coming in runs of ten from
// zero; check that on the tables Go ships, and a few known values.
func TestDigitValue(t *testing.T) {
	check := func(lo, hi, stride uint32) {
		if stride != 1 || (hi-lo+1)%10 != 0 {
			t.Errorf("Nd range %U–%U (stride %d) is not runs of ten", lo, hi, stride)
		}
	}
	for _, r := range unicode.Nd.R16 {
		check(uint32(r.Lo), uint32(r.Hi), uint32(r.Stride))
	}
	for _, r := range unicode.Nd.R32 {
		check(r.Lo, r.Hi, r.Stride)
	}
	for r, want := range map[rune]int{'7': 7, '０': 0, '９': 9, '٣': 3, '۸': 8, '७': 7, '𝟘': 0, '𝟡': 9} {
		if v, ok := digitValue(r); !ok || v != want {
			t.Errorf("digitValue(%q) = %d, %v; want %d", r, v, ok, want)
		}
	}
	for _, r := range []rune{'a', '²', '½', 'Ⅻ', -1, utf8.RuneError} {
		if _, ok := digitValue(r); ok {
			t.Errorf("digitValue(%q) is a digit", r)
		}
	}
}

// FuzzRedactPANs: for any text, RedactPANs never panics, leaves no card
// number or track under the policy, is idempotent, and leaves text without
// card data alone.
func FuzzRedactPANs(f *testing.F) {
	for _, s := range []string{
		"pan 4111111111111111 %B4111111111111111^X?",
		"visa 4111-1111-1111-1111 / 5454 5454 5454 5454",
		"INV6011000990139424 t4111111111111111",
		"４１１１ １１１１ １１１１ １１１１",
		"٥٤٥٤٥٤٥٤٥٤٥٤٥٤٥٤",
		"1234 5678 9 4111111111111111",
		"20%Bonus coffee ;4111111111111111=2512?",
		"3f2b6c0e-4624-4251-8823-083b7ff622c6",
		"4111.1111.1111.1111 5454/5454/5454/5454 4111\u200b1111\u200b1111\u200b1111",
		"4111\t1111\n1111_1111 v10.0.19041.1110",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := RedactPANs(s)
		if found := FindCardData(out); len(found) > 0 {
			t.Fatalf("RedactPANs(%q) = %q keeps %s at %d", s, out, found[0].Kind, found[0].Start)
		}
		if again := RedactPANs(out); again != out {
			t.Fatalf("not idempotent: %q then %q", out, again)
		}
		if !ContainsCardData(s) && out != s {
			t.Fatalf("RedactPANs changed text without card data: %q -> %q", s, out)
		}
	})
}

// docs/security.md's "Threats found by testing from outside" tables name
// the tests that cover each threat (card numbers in free text among them):
// every test named there exists, so a renamed or deleted test cannot leave
// a threat claimed as covered.
func TestSecurityDocNamesRealTests(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Threats found by testing from outside")
	if !ok {
		t.Fatal(`docs/security.md has no "## Threats found by testing from outside" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	if !strings.Contains(section, "\n### Card numbers in free text\n") {
		t.Fatal(`docs/security.md's threats section has no "### Card numbers in free text"`)
	}
	var src strings.Builder
	for _, dir := range []string{"internal", "cmd", "test"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, "_test.go") {
				b, err := os.ReadFile(p)
				src.Write(b)
				return err
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	names := regexp.MustCompile("`(?:[a-z/]+\\.)?((?:Test|Fuzz)[A-Za-z0-9_]+)(?:/[^`]*)?`").FindAllStringSubmatch(section, -1)
	if len(names) < 40 {
		t.Fatalf("the tables name %d tests", len(names))
	}
	for _, m := range names {
		if !regexp.MustCompile(`(?m)^func ` + m[1] + `\(`).MatchString(src.String()) {
			t.Errorf("docs/security.md names %s, which does not exist", m[0])
		}
	}
}

// BenchmarkRedactPANs: a debug log line as the JSON handler writes it (its
// time stamp alone has 23 digits, so it takes the full scan), and one that
// holds a separated card number.
func BenchmarkRedactPANs(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"clean", `{"time":"2026-12-07T00:15:24.123456789Z","level":"DEBUG","msg":"sale accepted","transaction_api_id":"c0a8e3f2-4624-4251-8823-083b7ff622c6","amount":"12.34","reader":"sim:1"}`},
		{"card", `{"time":"2026-12-07T00:15:24.123456789Z","level":"DEBUG","msg":"gateway said","verbiage":"card 4111 1111 1111 1111 declined"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = RedactPANs(bc.line)
			}
		})
	}
}
