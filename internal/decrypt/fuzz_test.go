package decrypt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/posagent/posagent/internal/card"
)

// seedCorpus adds every sample in testdata (as given, and hex-decoded) to f.
func seedCorpus(f *testing.F, add func(b []byte)) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
		if bin, ok := hexInput(b); ok {
			add(bin)
		}
	}
}

// checkRead asserts what must hold for any successful parse: a known
// e_format, at most 6+4 clear PAN digits, and an envelope that parses again.
func checkRead(t *testing.T, r card.Read) {
	t.Helper()
	if !r.Envelope.Format.Valid() {
		t.Fatalf("invalid e_format %q", r.Envelope.Format)
	}
	digits := 0
	for _, c := range r.MaskedPAN {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	if digits > 10 {
		t.Fatalf("masked PAN shows %d digits", digits)
	}
	if !r.Envelope.KSN.Valid() {
		t.Fatal("read without a valid KSN")
	}
	if _, err := ParseEnvelope(r.Envelope); err != nil {
		t.Fatalf("e_track_data does not parse again: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	seedCorpus(f, func(b []byte) { f.Add(b, uint8(0)) })
	f.Fuzz(func(t *testing.T, in []byte, format uint8) {
		o := Options{Format: InputFormats[int(format)%len(InputFormats)]}
		if o.Format == InputKSN || o.Format == InputKSNPIN {
			o.KSN = card.KSN{0x62, 0x99, 0x49, 0, 0x73, 0, 0x04, 0x20, 0, 0x02}
		}
		r, err := Decode(in, o)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		checkRead(t, r)
	})
}

func FuzzParseIDTech(f *testing.F) {
	seedCorpus(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, in []byte) {
		if r, err := ParseIDTech(in); err == nil {
			checkRead(t, r)
		}
	})
}

func FuzzParseMagneSafe(f *testing.F) {
	seedCorpus(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, in []byte) {
		if r, err := ParseMagneSafe(in); err == nil {
			checkRead(t, r)
		}
	})
}

func FuzzParseMagTekHID(f *testing.F) {
	seedCorpus(f, func(b []byte) {
		if len(b) == hidSizeV5 {
			f.Add(b)
		}
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		// Reports are fixed-size: fold arbitrary input onto a valid size so
		// the fuzzer explores field contents, not just lengths.
		rep := make([]byte, hidSizeV5)
		copy(rep, in)
		if r, err := ParseMagTekHID(rep); err == nil {
			checkRead(t, r)
		}
		_, _ = ParseMagTekHID(in)
	})
}

func FuzzParseKSNForm(f *testing.F) {
	seedCorpus(f, func(b []byte) { f.Add(b, true) })
	f.Fuzz(func(t *testing.T, in []byte, pin bool) {
		format := card.FormatKSN
		if pin {
			format = card.FormatKSNPIN
		}
		if r, err := ParseKSNForm(in, format, card.KSN{0xFF, 0xFF, 0x98, 0x76, 0x54, 0x32, 0x10, 0xE0, 0, 1}); err == nil {
			checkRead(t, r)
		}
	})
}

func FuzzParseIDG(f *testing.F) {
	seedCorpus(f, func(b []byte) { f.Add(b) })
	f.Add(AppendIDG(nil, 0x18, 0x01, nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		fr, n, err := ParseIDG(in)
		if err != nil {
			return
		}
		if n > len(in) || len(fr.Data) > n {
			t.Fatalf("consumed %d of %d bytes with %d data bytes", n, len(in), len(fr.Data))
		}
		// A parsed frame re-encodes to a frame that parses to the same thing.
		again, _, err := ParseIDG(AppendIDG(nil, fr.Cmd, fr.Sub, fr.Data))
		if err != nil || again.Cmd != fr.Cmd || again.Sub != fr.Sub || string(again.Data) != string(fr.Data) {
			t.Fatalf("re-encoded frame differs: %v", err)
		}
	})
}
