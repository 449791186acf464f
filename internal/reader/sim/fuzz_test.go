package sim

import (
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/reader"
)

// FuzzBuild feeds arbitrary cards to every builder: bad input must give an
// ErrCard error, never a panic, and every accepted card must come out of the
// parsers as a read with the right last four digits.
func FuzzBuild(f *testing.F) {
	f.Add(visaPAN, "TEST/CARD", "3012", "S")
	f.Add(amexPAN, "", "", "C")
	f.Add(mcPAN, "A", "9913", "P")
	f.Add("6011000990139424000", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "2901", "F")
	f.Add("4111111111111112", "A^B", "12/30", "X")
	ksn, _ := hex.DecodeString("62994900730004200001")
	f.Fuzz(func(t *testing.T, pan, name, expiry, mode string) {
		c, err := SimCard{PAN: pan, Name: name, Expiry: expiry, EntryMode: card.EntryMode(mode)}.normalize(fixedNow)
		if err != nil {
			if !errors.Is(err, ErrCard) {
				t.Fatalf("error not wrapping ErrCard: %v", err)
			}
			return
		}
		last4 := c.PAN[len(c.PAN)-4:]
		id := makeTracks(c, true)
		frame, err := idtechFrame(id, frameOpts{serial: DefaultSerial, ksn: ksn})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := decrypt.ParseIDTech(frame); err != nil || r.LastFour() != last4 {
			t.Fatalf("ID TECH frame: %v, last four %q", err, r.LastFour())
		}
		rep, err := magtekReport(makeTracks(c, false), reportOpts{serial: DefaultSerial, ksn: ksn})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := decrypt.ParseMagTekHID(rep); err != nil || r.LastFour() != last4 {
			t.Fatalf("MagTek report: %v, last four %q", err, r.LastFour())
		}
		o := emvOpts{serial: DefaultSerial, ksn: ksn, atc: 1, now: fixedNow, tx: txn{amountCents: 100}}
		resp, err := vp3300Chip(id, card.EntryChip, o)
		if errors.Is(err, ErrCard) {
			return // a brand without an EMV application
		}
		if err != nil {
			t.Fatal(err)
		}
		if r, err := decrypt.ParseVivopay(resp); err != nil || r.LastFour() != last4 || r.EntryMode != card.EntryChip {
			t.Fatalf("VP3300 chip: %v, last four %q", err, r.LastFour())
		}
	})
}

// BenchmarkRead measures building and parsing one simulated read per model.
func BenchmarkRead(b *testing.B) {
	for _, model := range Models {
		b.Run(string(model), func(b *testing.B) {
			d, err := NewDriver(Options{Model: model, Now: func() time.Time { return fixedNow }})
			if err != nil {
				b.Fatal(err)
			}
			r := &Reader{d: d, info: d.Info()}
			armed := &reader.Transaction{AmountCents: 100}
			mode := card.EntrySwiped
			if model == ModelVP3300 {
				mode = card.EntryChip
			}
			b.ReportAllocs()
			for b.Loop() {
				if d.ksn[9] > 0xF0 {
					d.ksn[8], d.ksn[9] = 0, 0 // stay far from exhausting the counter
				}
				raw, m, err := r.build(SimCard{PAN: visaPAN, EntryMode: mode}, armed)
				if err != nil {
					b.Fatal(err)
				}
				if evs, _ := r.parse(raw, m); evs[0].Kind != reader.EventCard {
					b.Fatal(evs[0].Err)
				}
			}
		})
	}
}
