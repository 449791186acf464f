package emv

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
)

// Values that must never appear in debug output: masked and encrypted track
// 2, PAN, name and expiry of the VP3300 capture, and the KSN inside the
// MagTek FF42 container (hidden because its container is sensitive).
func TestDumpHidesSensitiveValues(t *testing.T) {
	vp := tlvBytes(t, "idtech_vp3300_contact_emv_tlv")
	tree, _, err := Decode(vp)
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, tag := range []Tag{0x57, 0x5A, 0x5F20, 0x5F24} {
		for _, v := range FindAll(tree, tag) {
			secrets = append(secrets, strings.ToUpper(hex.EncodeToString(v.Value)))
		}
	}
	name, _ := Find(tree, 0x5F20)
	secrets = append(secrets, Text(name.Value))
	if len(secrets) != 7 {
		t.Fatalf("found %d sensitive values, want 7", len(secrets))
	}
	d := Dump(tree)
	for _, s := range secrets {
		if strings.Contains(d, s) {
			t.Errorf("Dump shows a sensitive value (%d chars)", len(s))
		}
	}
	for _, line := range []string{
		"9F26 Application Cryptogram [8]: 80E4775B5CB93C64",
		`50 Application Label [11]: 5649534120435245444954 "VISA CREDIT"`,
		"57 Track 2 Equivalent Data [19] (value not shown)",
		"5A Application PAN [16] (value not shown)",
		"FFEE01 ViVOpay Group [4]\n  DF30 Track Data Source (legacy) [1]: 01",
		"DFEE04 [0]",
	} {
		if !strings.Contains(d, line) {
			t.Errorf("Dump lacks %q", line)
		}
	}

	mt, _, err := Decode(tlvBytes(t, "magtek_arqc_aes_ff42"))
	if err != nil {
		t.Fatal(err)
	}
	ff42, _ := Find(mt, 0xFF42)
	s := ff42.String()
	if strings.Contains(s, "A1170005BE0010A00000000B") || !strings.Contains(s, "DFDFDF38 AES KSN [12] (value not shown)") {
		t.Errorf("FF42 dump shows its contents:\n%s", s)
	}

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("read", "track2", FindAll(tree, 0x57)[0], "cid", FindAll(tree, 0x9F27)[0])
	if strings.Contains(buf.String(), secrets[0]) || !strings.Contains(buf.String(), "9F27 Cryptogram Information Data [1]: 80") {
		t.Errorf("slog output: %s", buf.String())
	}
}

func TestNEO2DumpFlags(t *testing.T) {
	tree, _, err := Decode(hx("57 A1 02 1234 57 C1 01 AA 9F39 01 07"))
	if err != nil {
		t.Fatal(err)
	}
	want := "57 Track 2 Equivalent Data [2] masked (value not shown)\n" +
		"57 Track 2 Equivalent Data [1] encrypted (value not shown)\n" +
		"9F39 POS Entry Mode [1]: 07\n"
	if got := Dump(tree); got != want {
		t.Errorf("Dump =\n%s\nwant\n%s", got, want)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		tag       Tag
		known     bool
		sensitive bool
	}{
		{0x57, true, true}, {0x5A, true, true}, {0x56, true, true}, {0x9F6B, true, true},
		{0x5F20, true, true}, {0x5F24, true, true}, {0xDFEE23, true, true}, {0xDFEF4D, true, true},
		{0xDFDF59, true, true}, {0xFF42, true, true}, {0xDFDFDF37, true, true}, {0x99, true, true},
		{0x9F26, true, false}, {0x95, true, false}, {0xDFEE12, true, false}, {0xFFEE12, true, false},
		{0xDFDF25, true, false}, {0xFFE4, true, false}, {0x9F39, true, false},
		{0xDF31, false, true}, // unknown: treated as sensitive
	}
	for _, tc := range tests {
		inf, ok := Lookup(tc.tag)
		if ok != tc.known || (ok && inf.Sensitive != tc.sensitive) || Sensitive(tc.tag) != tc.sensitive {
			t.Errorf("Lookup(%s) = %+v, %v; Sensitive = %v; want known %v sensitive %v", tc.tag, inf, ok, Sensitive(tc.tag), tc.known, tc.sensitive)
		}
		if ok && inf.Name == "" {
			t.Errorf("Lookup(%s) has no name", tc.tag)
		}
	}
	// Every dictionary tag is a well-formed tag that prints and parses back,
	// and containers are exactly the constructed tags.
	for tag, inf := range dictionary {
		if back, err := ParseTag(tag.String()); err != nil || back != tag {
			t.Errorf("dictionary tag %s does not parse back: %v", tag, err)
		}
		if (inf.Format == FormatTLV) != tag.Constructed() {
			t.Errorf("dictionary tag %s: format %s, Constructed() %v", tag, inf.Format, tag.Constructed())
		}
	}
}
