package dukpt

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedKSN is the KSN of all four seed samples (counter 2 of an ID TECH demo
// unit loaded with the ANSI test BDK).
const seedKSN = "62994900730004200002"

// seedSample is one line of testdata/seed_encryption_examples.txt.
type seedSample struct {
	format       string
	t1Enc, t2Enc []byte
	ksn          []byte
}

// loadSeedSamples splits the four seed samples into their ciphertexts and
// KSN, each by its own layout (card-formats.md §1.5, §2.5, §9).
func loadSeedSamples(t *testing.T) []seedSample {
	f, err := os.Open(filepath.Join("testdata", "seed_encryption_examples.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []seedSample
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		format, data, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		s := seedSample{format: format}
		switch format {
		case "magnesafe":
			// masked | status | enc T1 | enc T2 | T3 | 4 placeholders | KSN
			fields := strings.Split(data, "|")
			if len(fields) != 10 {
				t.Fatalf("magnesafe: %d fields, want 10", len(fields))
			}
			s.t1Enc, s.t2Enc, s.ksn = unhex(t, fields[2]), unhex(t, fields[3]), unhex(t, fields[9])
		case "ksn", "ksnpin":
			// masked | enc T1 | enc T2; the KSN travels in e_serial_number.
			fields := strings.Split(data, "|")
			if len(fields) != 3 {
				t.Fatalf("%s: %d fields, want 3", format, len(fields))
			}
			s.t1Enc, s.t2Enc, s.ksn = unhex(t, fields[1]), unhex(t, fields[2]), unhex(t, seedKSN)
		case "idtech":
			s.t1Enc, s.t2Enc, s.ksn = splitIDTechKB(t, data)
		default:
			t.Fatalf("unknown format %q", format)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 {
		t.Fatalf("%d seed samples, want 4", len(out))
	}
	return out
}

// splitIDTechKB takes the ciphertexts and KSN out of an ID TECH enhanced
// frame in keyboard text form with T1 and T2 only (the seed's layout): hex
// header, masked tracks as ASCII, then hex fields.
func splitIDTechKB(t *testing.T, s string) (t1, t2, ksn []byte) {
	t.Helper()
	if len(s) < 20 || s[:2] != "02" {
		t.Fatalf("idtech: not a keyboard frame: %.20q", s)
	}
	hdr := unhex(t, s[6:20]) // type, status, T1/T2/T3 lengths, field 8, field 9
	t1Len, t2Len := int(hdr[2]), int(hdr[3])
	rest := s[20+t1Len+t2Len:] // past the masked tracks
	round := func(n int) int { return (n + 7) / 8 * 8 }
	n1, n2 := 2*round(t1Len), 2*round(t2Len)
	if len(rest) < n1+n2+80+20 {
		t.Fatalf("idtech: frame too short")
	}
	t1 = unhex(t, rest[:n1])
	t2 = unhex(t, rest[n1:n1+n2])
	ksn = unhex(t, rest[n1+n2+80:n1+n2+80+20]) // after two SHA-1 hashes
	return t1, t2, ksn
}

// track cuts a decrypted track after its end sentinel '?' and LRC character.
func track(b []byte) string {
	i := bytes.IndexByte(b, '?')
	if i < 0 || i+1 >= len(b) {
		return ""
	}
	return string(b[:i+2])
}

// TestSeedSamples decrypts the four seed samples and proves which key each
// e_format uses: idtech and ksn the data key, magnesafe and ksnpin the PIN
// variant. The other key of each pair gives no track.
func TestSeedSamples(t *testing.T) {
	v := loadVectors(t)
	bdk := unhex(t, TestBDK)
	wantPad := map[string]byte{"idtech": 0x00, "ksn": 0x00, "magnesafe": '0', "ksnpin": '0'}
	for _, s := range loadSeedSamples(t) {
		t.Run(s.format, func(t *testing.T) {
			if hex.EncodeToString(s.ksn) != strings.ToLower(seedKSN) {
				t.Errorf("KSN %X, want %s", s.ksn, seedKSN)
			}
			kind, err := TrackKeyKindForFormat(s.format)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []TrackKeyKind{TrackDataKey, TrackPINKey} {
				key, err := TrackKey(bdk, s.ksn, k)
				if err != nil {
					t.Fatal(err)
				}
				p1, err1 := DecryptTDESCBC(key, s.t1Enc)
				p2, err2 := DecryptTDESCBC(key, s.t2Enc)
				if err1 != nil || err2 != nil {
					t.Fatalf("decrypt: %v, %v", err1, err2)
				}
				match := track(p1) == v.IDTechKB.T1Plain && track(p2) == v.IDTechKB.T2Plain
				if k != kind {
					if match {
						t.Errorf("the %v also decrypts %s; the test proves nothing", k, s.format)
					}
					continue
				}
				if !match {
					t.Fatalf("%v: T1 %q, T2 %q; want the seed card's tracks", k, track(p1), track(p2))
				}
				// Padding after the LRC: zeros for ID TECH, '0' for the MagTek layout.
				for _, p := range [][]byte{p1[len(v.IDTechKB.T1Plain):], p2[len(v.IDTechKB.T2Plain):]} {
					for _, c := range p {
						if c != wantPad[s.format] {
							t.Errorf("padding %X, want only %02X", p, wantPad[s.format])
							break
						}
					}
				}
			}
		})
	}
}

// TestIDTechKBHashes checks the decrypted seed tracks against the SHA-1
// hashes the ID TECH frame carries: the reader's own proof of the plaintext.
func TestIDTechKBHashes(t *testing.T) {
	v := loadVectors(t)
	t1, t2, ksn := splitIDTechKB(t, v.IDTechKB.Text)
	key, err := TrackKey(unhex(t, TestBDK), ksn, TrackDataKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		enc  []byte
		n    int
		hash string
	}{{t1, v.IDTechKB.T1Len, v.IDTechKB.T1SHA1}, {t2, v.IDTechKB.T2Len, v.IDTechKB.T2SHA1}} {
		p, err := DecryptTDESCBC(key, tc.enc)
		if err != nil || len(p) < tc.n {
			t.Fatalf("decrypt: %d bytes, %v", len(p), err)
		}
		sum := sha1.Sum(p[:tc.n])
		if got := strings.ToUpper(hex.EncodeToString(sum[:])); got != tc.hash {
			t.Errorf("SHA-1 of %d decrypted bytes = %s, frame says %s", tc.n, got, tc.hash)
		}
	}
}

// TestMagTekKBSample decrypts the MagneSafe V5 manual's keyboard sample
// (counter 8) with the PIN variant, the key the manual prints.
func TestMagTekKBSample(t *testing.T) {
	v := loadVectors(t)
	m := v.MagTekKB
	bdk, ksn := unhex(t, TestBDK), unhex(t, m.KSN)
	key, err := TrackKey(bdk, ksn, TrackPINKey)
	checkKey(t, "PIN variant key", key, err, m.Key)
	if err != nil {
		t.Fatal(err)
	}
	dataKey, err := TrackKey(bdk, ksn, TrackDataKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, enc, plain string }{
		{"T1", m.T1Enc, m.T1Plain},
		{"T2", m.T2Enc, m.T2Plain},
		{"T3", m.T3Enc, m.T3Plain},
		{"session ID", m.SessionEnc, m.SessionPlain},
	} {
		p, err := DecryptTDESCBC(key, unhex(t, tc.enc))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.name == "session ID" {
			if got := strings.ToUpper(hex.EncodeToString(p)); got != tc.plain {
				t.Errorf("%s = %s, want %s", tc.name, got, tc.plain)
			}
			continue
		}
		if !bytes.HasPrefix(p, []byte(tc.plain)) {
			t.Errorf("%s = %q, want prefix %q", tc.name, p, tc.plain)
		}
		if wrong, _ := DecryptTDESCBC(dataKey, unhex(t, tc.enc)); bytes.HasPrefix(wrong, []byte(tc.plain)) {
			t.Errorf("%s also decrypts with the data key", tc.name)
		}
	}
}

// TestIDTechOriginalSample decrypts the SecureMag/MS246 manual's
// original-format binary frame (counter 1) with the data key: T1 and T2 are
// one encrypted block after the masked T1, T2 and the clear T3.
func TestIDTechOriginalSample(t *testing.T) {
	v := loadVectors(t)
	o := v.IDTechOriginal
	frame := unhex(t, o.FrameHex)
	if len(frame) < 8 || frame[0] != 0x02 || frame[len(frame)-1] != 0x03 {
		t.Fatalf("not an ID TECH frame")
	}
	t1, t2, t3 := int(frame[5]), int(frame[6]), int(frame[7])
	start := 8 + t1 + t2 + t3
	encLen := (t1 + t2 + 7) / 8 * 8
	ksn := frame[len(frame)-3-KSNLen : len(frame)-3]
	if got := strings.ToUpper(hex.EncodeToString(ksn)); got != o.KSN {
		t.Fatalf("KSN %s, want %s", got, o.KSN)
	}
	if start+encLen > len(frame)-3-KSNLen {
		t.Fatalf("encrypted block runs past the KSN")
	}
	enc := frame[start : start+encLen]
	for _, k := range []TrackKeyKind{TrackDataKey, TrackPINKey} {
		key, err := TrackKey(unhex(t, TestBDK), ksn, k)
		if err != nil {
			t.Fatal(err)
		}
		p, err := DecryptTDESCBC(key, enc)
		if err != nil {
			t.Fatal(err)
		}
		got := bytes.HasPrefix(p, []byte(o.PlainPrefix))
		if got != (k == TrackDataKey) {
			t.Errorf("%v: decrypts = %v, want %v (first bytes %q)", k, got, k == TrackDataKey, p[:8])
		}
	}
}

// TestMagTekAESSample decrypts the FF42 block of a MagTek ARQC (captures.md
// §9) with the AES DUKPT working key for usage 0x3002 and the public AES
// test BDK.
func TestMagTekAESSample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "magtek_arqc_aes_ff42.hex"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	after := func(tagLen string, n int) []byte {
		i := strings.Index(s, tagLen)
		if i < 0 || i+len(tagLen)+2*n > len(s) {
			t.Fatalf("%s not found", tagLen)
		}
		return unhex(t, s[i+len(tagLen):i+len(tagLen)+2*n])
	}
	enc := after("DFDFDF37820030", 0x30) // encrypted data, 48 bytes
	ksn := after("DFDFDF380C", 0x0C)     // AES KSN, 12 bytes
	bdk := unhex(t, TestAESBDK128)

	key, err := AESWorkingKey(bdk, ksn, UsageDataBoth)
	checkKey(t, "AESWorkingKey(0x3002)", key, err, "1B443D5DD2B9448D6F440D6DF256ADA1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecryptAESCBC(key, enc)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0xFC, 0x82, 0x00, 0x22, 0x5F, 0x20, 0x14}, "CONTACTLESS/MAGTEK D"...)
	if !bytes.HasPrefix(p, want) {
		t.Errorf("plaintext %X, want prefix %X", p, want)
	}
	if pad := p[len(p)-10:]; !bytes.Equal(pad, bytes.Repeat([]byte{0x0A}, 10)) {
		t.Errorf("padding %X, want 10 x 0A", pad)
	}
	other, err := AESWorkingKey(bdk, ksn, UsageDataEncrypt)
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := DecryptAESCBC(other, enc); bytes.HasPrefix(q, want[:4]) {
		t.Error("the 0x3000 key also decrypts the MagTek sample")
	}
}

// TestRoundTrip encrypts tracks the way the simulated reader does (test
// BDK, successive KSNs, zero padding) and decrypts them the way the sandbox
// does (key kind from e_format).
func TestRoundTrip(t *testing.T) {
	bdk := unhex(t, TestBDK)
	plain := []byte(";4111111111111111=30121010000000000000?")
	padded := append(append([]byte(nil), plain...), make([]byte, (8-len(plain)%8)%8)...)
	ksn := unhex(t, "62994900730004200000")
	for i, format := range []string{"idtech", "magnesafe", "ksn", "ksnpin"} {
		var err error
		ksn, err = NextKSN(ksn)
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := Counter(ksn); c != uint32(i+1) {
			t.Fatalf("counter %d, want %d", c, i+1)
		}
		kind, err := TrackKeyKindForFormat(format)
		if err != nil {
			t.Fatal(err)
		}
		key, err := TrackKey(bdk, ksn, kind)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := EncryptTDESCBC(key, padded)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(enc, plain[1:17]) {
			t.Fatal("ciphertext contains the PAN")
		}
		key2, err := TrackKey(bdk, ksn, kind)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := DecryptTDESCBC(key2, enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dec, padded) {
			t.Errorf("%s: round trip gave %q, want %q", format, dec, padded)
		}
	}

	// AES: a 12-byte KSN and the data-encryption working key.
	aesBDK := unhex(t, TestAESBDK128)
	aesKSN := unhex(t, "123456789012345600000007")
	key, err := AESWorkingKey(aesBDK, aesKSN, UsageDataEncrypt)
	if err != nil {
		t.Fatal(err)
	}
	padded = append(append([]byte(nil), plain...), make([]byte, (16-len(plain)%16)%16)...)
	enc, err := EncryptAESCBC(key, padded)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecryptAESCBC(key, enc)
	if err != nil || !bytes.Equal(dec, padded) {
		t.Errorf("AES round trip = %q, %v", dec, err)
	}
}

func TestTrackKeyKindForFormat(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   TrackKeyKind
	}{
		{"idtech", TrackDataKey}, {"ksn", TrackDataKey},
		{"magnesafe", TrackPINKey}, {"ksnpin", TrackPINKey},
		{"", 0}, {"Magnasafe", 0}, {"IDTECH", 0},
	} {
		got, err := TrackKeyKindForFormat(tc.format)
		if got != tc.want || (err == nil) != (tc.want != 0) {
			t.Errorf("TrackKeyKindForFormat(%q) = %v, %v; want %v", tc.format, got, err, tc.want)
		}
	}
	for _, k := range []TrackKeyKind{0, TrackDataKey, TrackPINKey, 3} {
		if k.String() == "" {
			t.Errorf("TrackKeyKind(%d) has no name", int(k))
		}
	}
}
