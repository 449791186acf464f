package decrypt

import (
	"testing"

	"github.com/posagent/posagent/internal/card"
)

// Targets (issue 2): under 2 µs and at most 4 allocations per envelope.
func BenchmarkDecodeEnvelope(b *testing.B) {
	ksn := card.KSN{0x62, 0x99, 0x49, 0x00, 0x73, 0x00, 0x04, 0x20, 0x00, 0x02}
	hidBin, _ := hexInput(readSample(b, "magtek_v5_hid_report_856.hex"))
	ms246, _ := hexInput(readSample(b, "idtech_ms246_original.hex"))
	authnet, _ := hexInput(readSample(b, "idtech_authnet_msr_binary.hex"))
	cases := []struct {
		name  string
		in    []byte
		parse func([]byte) (card.Read, error)
	}{
		{"idtech-text", readSample(b, "seed_idtech.txt"), ParseIDTech},
		{"idtech-binary-enhanced", authnet, ParseIDTech},
		{"idtech-binary-original", ms246, ParseIDTech},
		{"magnesafe-kb", readSample(b, "magtek_v5_kb_string.txt"), ParseMagneSafe},
		{"magnesafe-seed", readSample(b, "seed_magnesafe.txt"), ParseMagneSafe},
		{"magtek-hid", hidBin, ParseMagTekHID},
		{"ksn", readSample(b, "seed_ksn.txt"), func(in []byte) (card.Read, error) { return ParseKSNForm(in, card.FormatKSN, ksn) }},
		{"ksnpin", readSample(b, "seed_ksnpin.txt"), func(in []byte) (card.Read, error) { return ParseKSNForm(in, card.FormatKSNPIN, ksn) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.in)))
			for i := 0; i < b.N; i++ {
				if _, err := c.parse(c.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
