package card

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"5428377011880254", "542837******0254"},
		{"371449635398431", "371449*****8431"},
		{"4111111111111", "41111****1111"},
		{"1234", "****"},
		{"123456789", "1****6789"},
	}
	for _, tc := range tests {
		if got := Mask(tc.in); string(got) != tc.want {
			t.Errorf("Mask(%s) = %s, want %s", tc.in[:2], got, tc.want)
		}
	}
}

func TestMaskFromReader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"5428********0254", "5428********0254"},   // ID TECH, 4/4
		{"476173******0043", "476173******0043"},   // 6/4 allowed
		{"4761734*****0043", "476173******0043"},   // 7 leading digits cut to 6
		{"5452000000007189", "5452********7189"},   // MagTek '0' masking: keep 4/4
		{"4761CCCCCCCC0119", "4761********0119"},   // EMV 'C' nibbles
		{"6011********66688", "6011*********6688"}, // 5 trailing digits cut to 4
		{"  ", ""},
	}
	for _, tc := range tests {
		if got := MaskFromReader(tc.in); string(got) != tc.want {
			t.Errorf("MaskFromReader(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBrand(t *testing.T) {
	tests := []struct {
		pan  string
		want Brand
	}{
		{"4111********1111", BrandVisa}, {"5428********0254", BrandMC}, {"2221********0000", BrandMC},
		{"3714*********8431", BrandAmex}, {"6011********0000", BrandDiscover}, {"6510********0133", BrandDiscover},
		{"3530********0000", BrandJCB}, {"3056********0000", BrandDiners}, {"9999********0000", BrandUnknown}, {"", BrandUnknown},
	}
	for _, tc := range tests {
		if got := MaskedPAN(tc.pan).Brand(); got != tc.want {
			t.Errorf("Brand(%s) = %q, want %q", tc.pan, got, tc.want)
		}
	}
	if got := MaskedPAN("5428********0254").LastFour(); got != "0254" {
		t.Errorf("LastFour = %q", got)
	}
	if got := MaskedPAN("54****").LastFour(); got != "" {
		t.Errorf("LastFour of masked tail = %q", got)
	}
}

func TestLuhn(t *testing.T) {
	for _, n := range []string{"4111111111111111", "5428377011880254", "371449635398431", "6011000995500000"} {
		if !Luhn(n) {
			t.Errorf("Luhn(%s…) = false", n[:4])
		}
	}
	for _, n := range []string{"4111111111111112", "411111111111", "12345678901234567890", "4111-1111-1111-1111"} {
		if Luhn(n) {
			t.Errorf("Luhn(%q) = true", n)
		}
	}
}

func TestKSN(t *testing.T) {
	k, err := ParseKSN("62994900730004200002")
	if err != nil {
		t.Fatal(err)
	}
	if k.Counter() != 2 || !k.IsTestKey() || k.AES() || !k.Valid() {
		t.Errorf("ksn %s: counter %d test %v", k, k.Counter(), k.IsTestKey())
	}
	if got := k.Device().String(); got != "62994900730004200000" {
		t.Errorf("Device = %s", got)
	}
	m, _ := ParseKSN("FFFF9876543210E00008")
	if m.Counter() != 8 || !m.IsTestKey() {
		t.Errorf("magtek ksn counter %d", m.Counter())
	}
	prod, _ := ParseKSN("9011880B50668200036A")
	if prod.IsTestKey() {
		t.Error("production KSN taken for a test key")
	}
	aes, _ := ParseKSN("123456789012345600000002")
	if !aes.AES() || aes.Counter() != 2 {
		t.Errorf("aes ksn counter %d", aes.Counter())
	}
	for _, bad := range []string{"", "1234", "ZZ994900730004200002", "6299490073000420000200"} {
		if _, err := ParseKSN(bad); err == nil {
			t.Errorf("ParseKSN(%q) succeeded", bad)
		}
	}
	if (KSN(make([]byte, 10))).Valid() {
		t.Error("zero KSN is valid")
	}
}

// Logging a Read, an Envelope or a KSN must never print track data,
// ciphertext, the name or the KSN counter.
func TestLogValuesAreMasked(t *testing.T) {
	k, _ := ParseKSN("62994900730004200002")
	r := Read{
		Envelope:       Envelope{Format: FormatKSN, Data: "%*5428********0254^YOU/A GIFT FOR^?*|11B25549D1CCD691|02AEF88E39C7C22F", KSN: k},
		MaskedPAN:      MaskFromReader("5428********0254"),
		CardholderName: "YOU/A GIFT FOR",
		EntryMode:      EntrySwiped,
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Debug("read", "read", r, "ksn", k)
	out := buf.String()
	for _, secret := range []string{"11B25549", "02AEF88E", "GIFT", "^", "62994900730004200002"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line holds %q: %s", secret, out)
		}
	}
	for _, public := range []string{"5428********0254", `"e_format":"ksn"`, "62994900730004…"} {
		if !strings.Contains(out, public) {
			t.Errorf("log line lacks %q: %s", public, out)
		}
	}
}

func TestEntryMode(t *testing.T) {
	for _, m := range []EntryMode{EntrySwiped, EntryChip, EntryProximity, EntryFallback, EntryKeyed} {
		if !m.Valid() || m.Title() == "Unknown" {
			t.Errorf("%q invalid", m)
		}
	}
	if EntryMode("X").Valid() || !FormatIDTech.Valid() || Format("x").Valid() {
		t.Error("validity wrong")
	}
}

func TestTestPAN(t *testing.T) {
	want := map[string]Brand{"visa": BrandVisa, "mc": BrandMC, "amex": BrandAmex, "disc": BrandDiscover}
	for brand, b := range want {
		seen := map[string]bool{}
		for i := 0; i < 50; i++ {
			pan, err := TestPAN(brand)
			if err != nil {
				t.Fatal(err)
			}
			if !Luhn(pan) || BrandOf(pan) != b {
				t.Fatalf("%s: %s… is not a valid %s number", brand, pan[:6], b)
			}
			seen[pan] = true
		}
		if len(seen) < 40 {
			t.Errorf("%s: only %d different numbers in 50", brand, len(seen))
		}
	}
	if _, err := TestPAN("diners-club"); err == nil {
		t.Error("unknown brand accepted")
	}
}
