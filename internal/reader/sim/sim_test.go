package sim

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/decrypt/dukpt"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// Public brand test card numbers: only test files hold card numbers.
const (
	visaPAN = "4111111111111111"
	mcPAN   = "5454545454545454"
	amexPAN = "371449635398431"
)

const waitLimit = 5 * time.Second

var fixedNow = time.Date(2026, 3, 4, 12, 30, 45, 0, time.UTC)

type rig struct {
	t      *testing.T
	d      *Driver
	r      *Reader
	events chan reader.Event
	runErr chan error
	cancel context.CancelFunc
	last   reader.Event // the last card event expectCard saw
}

func newRig(t *testing.T, o Options) *rig {
	t.Helper()
	o.Now = func() time.Time { return fixedNow }
	d, err := NewDriver(o)
	if err != nil {
		t.Fatal(err)
	}
	g := &rig{t: t, d: d, events: make(chan reader.Event, 32), runErr: make(chan error, 1)}
	g.open()
	t.Cleanup(func() {
		g.cancel()
		select {
		case <-g.runErr:
		case <-time.After(waitLimit):
			t.Error("Run did not return")
		}
	})
	return g
}

func (g *rig) open() {
	g.t.Helper()
	devs, err := g.d.Scan(context.Background())
	if err != nil || len(devs) != 1 {
		g.t.Fatalf("Scan = %v, %v", devs, err)
	}
	rd, err := g.d.Open(context.Background(), devs[0])
	if err != nil {
		g.t.Fatal(err)
	}
	g.r = rd.(*Reader)
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go func() { g.runErr <- g.r.Run(ctx, func(ev reader.Event) { g.events <- ev }) }()
}

func (g *rig) next() reader.Event {
	g.t.Helper()
	select {
	case ev := <-g.events:
		return ev
	case <-time.After(waitLimit):
		g.t.Fatal("no event")
	}
	return reader.Event{}
}

func (g *rig) expectPrompt(p sale.Prompt) {
	g.t.Helper()
	if ev := g.next(); ev.Kind != reader.EventPrompt || ev.Prompt != p {
		g.t.Fatalf("got %s %q (err %v), want prompt %s", ev.Kind, ev.Prompt, ev.Err, p)
	}
}

func (g *rig) expectCard() *card.Read {
	g.t.Helper()
	ev := g.next()
	if ev.Kind != reader.EventCard || ev.Read == nil {
		g.t.Fatalf("got %s (err %v), want a card", ev.Kind, ev.Err)
	}
	g.last = ev
	return ev.Read
}

// complete gives the last card its host response and expects remove_card.
func (g *rig) complete(arc string) reader.CardDecision {
	g.t.Helper()
	if g.last.Complete == nil {
		g.t.Fatal("the card offers no completion")
	}
	d, err := g.last.Complete(context.Background(), reader.HostResponse{ARC: arc})
	if err != nil {
		g.t.Fatalf("Complete: %v", err)
	}
	g.expectPrompt(sale.PromptRemoveCard)
	return d
}

func (g *rig) quiet() {
	g.t.Helper()
	select {
	case ev := <-g.events:
		g.t.Fatalf("unexpected %s event", ev.Kind)
	case <-time.After(20 * time.Millisecond):
	}
}

func testBDKBytes(t *testing.T) []byte {
	b, err := hex.DecodeString(dukpt.TestBDK)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decryptField decrypts one ciphertext field as the gateway does: the key
// follows from e_format.
func decryptField(t *testing.T, env card.Envelope, encHex string) []byte {
	t.Helper()
	kind, err := dukpt.TrackKeyKindForFormat(string(env.Format))
	if err != nil {
		t.Fatal(err)
	}
	key, err := dukpt.TrackKey(testBDKBytes(t), env.KSN, kind)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := hex.DecodeString(encHex)
	if err != nil {
		t.Fatalf("ciphertext is not hex: %v", err)
	}
	clear, err := dukpt.DecryptTDESCBC(key, enc)
	if err != nil {
		t.Fatal(err)
	}
	return clear
}

// isoLRC is the test's own ISO 7813 LRC (card-formats.md §6).
func isoLRC(track string) byte {
	offset, mask := byte(0x20), byte(0x3F)
	if track[0] == ';' {
		offset, mask = 0x30, 0x0F
	}
	var x byte
	for i := 0; i < len(track); i++ {
		x ^= (track[i] - offset) & mask
	}
	return x + offset
}

func TestISOLRCMatchesSamples(t *testing.T) {
	// The three tracks card-formats.md §6 checked against real cards.
	for _, tc := range []struct {
		track string
		want  byte
	}{
		{"%B5428377011880254^YOU/A GIFT FOR^2109521000000000000000198000000?", '%'},
		{";5428377011880254=21095210000019800000?", '>'},
		{"%B4266841088889999^BUSH JR/GEORGE W.MR^0809101100001100000000046000000?", '!'},
	} {
		offset, mask := byte(0x20), byte(0x3F)
		if tc.track[0] == ';' {
			offset, mask = 0x30, 0x0F
		}
		if got := trackLRC([]byte(tc.track), offset, mask); got != tc.want {
			t.Errorf("trackLRC(%.6s…) = %q, want %q", tc.track, got, tc.want)
		}
		if got := isoLRC(tc.track); got != tc.want {
			t.Errorf("isoLRC(%.6s…) = %q, want %q", tc.track, got, tc.want)
		}
	}
}

// checkTrack checks a decrypted track against the card: sentinels, PAN,
// name, expiry, service code, digits, and the LRC when the vendor sends one.
func checkTrack(t *testing.T, got []byte, c SimCard, track int, withLRC bool) {
	t.Helper()
	s := string(got)
	var prefix string
	if track == 1 {
		prefix = "%B" + c.PAN + "^" + c.Name + "^" + c.Expiry + "101"
	} else {
		prefix = ";" + c.PAN + "=" + c.Expiry + "101"
	}
	if !strings.HasPrefix(s, prefix) {
		t.Fatalf("track %d does not start with the card's data", track)
	}
	end := strings.IndexByte(s, '?')
	if end < 0 {
		t.Fatalf("track %d has no end sentinel", track)
	}
	if strings.Trim(s[len(prefix):end], "0123456789") != "" {
		t.Errorf("track %d discretionary data is not digits", track)
	}
	want := end + 1
	if withLRC {
		if s[end+1] != isoLRC(s[:end+1]) {
			t.Errorf("track %d LRC %q, want %q", track, s[end+1], isoLRC(s[:end+1]))
		}
		want++
	}
	if max := map[int]int{1: 79, 2: 40}[track]; want > max {
		t.Errorf("track %d is %d characters, ISO 7813 allows %d", track, want, max)
	}
	if strings.Trim(s[want:], "\x00") != "" {
		t.Errorf("track %d padding is not zeros", track)
	}
}

// splitIDTechText cuts the idtech text form (e_track_data) into the fields
// the gateway decrypts.
func splitIDTechText(t *testing.T, data string) (l1, l2 int, encT1, encT2, hash1, hash2, serial, ksn string) {
	t.Helper()
	hdr, err := hex.DecodeString(data[6:20])
	if err != nil {
		t.Fatal(err)
	}
	l1, l2 = int(hdr[2]), int(hdr[3])
	rest := data[20+l1+l2 : len(data)-6]
	r8 := func(n int) int { return (n + 7) / 8 * 8 }
	take := func(n int) string { s := rest[:2*n]; rest = rest[2*n:]; return s }
	encT1, encT2 = take(r8(l1)), take(r8(l2))
	hash1, hash2 = take(20), take(20)
	serial, ksn = take(10), take(10)
	if rest != "" {
		t.Fatalf("idtech text form has %d characters left over", len(rest))
	}
	return
}

func TestSwipeReadsDecrypt(t *testing.T) {
	c := SimCard{PAN: visaPAN, Name: "TEST/CARD", Expiry: "3012"}
	for _, model := range Models {
		t.Run(string(model), func(t *testing.T) {
			g := newRig(t, Options{Model: model})
			for want := uint32(1); want <= 3; want++ {
				if err := g.r.Simulate(context.Background(), c); err != nil {
					t.Fatal(err)
				}
				rd := g.expectCard()
				if rd.MaskedPAN != "4111********1111" || rd.LastFour() != "1111" || rd.Brand() != card.BrandVisa {
					t.Errorf("masked %q brand %q", rd.MaskedPAN, rd.Brand())
				}
				if rd.EntryMode != card.EntrySwiped || rd.CardholderName != "TEST/CARD" || len(rd.Warnings) != 0 {
					t.Errorf("entry %q name %q warnings %v", rd.EntryMode, rd.CardholderName, rd.Warnings)
				}
				if rd.Device.Serial != DefaultSerial || rd.Device.Transport != "sim" {
					t.Errorf("device %+v", rd.Device)
				}
				k := rd.Envelope.KSN
				if k.Counter() != want || !k.IsTestKey() || !dukpt.ValidDeviceKSN(k) {
					t.Errorf("KSN %s: counter %d, want %d", k, k.Counter(), want)
				}
				if strings.Contains(rd.Envelope.Data, visaPAN) {
					t.Fatal("envelope holds the clear PAN")
				}
				env := rd.Envelope
				switch model {
				case ModelDynamag:
					if env.Format != card.FormatMagneSafe || !strings.HasPrefix(k.String(), "FFFF9876543210E") {
						t.Fatalf("format %s KSN %s", env.Format, k)
					}
					f := strings.Split(env.Data, "|")
					if len(f) != 10 || f[1] != "0600" || f[9] != k.String() || f[7] != DefaultSerial {
						t.Fatalf("magnesafe fields %d: status %q serial %q", len(f), f[1], f[7])
					}
					masked, _, _ := strings.Cut(f[0], ";")
					checkTrack(t, decryptField(t, env, f[2])[:len(masked)], c, 1, false)
					checkTrack(t, decryptField(t, env, f[3]), c, 2, false)
					if f[4] != "" {
						t.Error("track 3 ciphertext present")
					}
					if s := decryptField(t, env, f[8]); !bytes.Equal(s, make([]byte, 8)) {
						t.Error("session ID does not decrypt to zero")
					}
				default:
					if env.Format != card.FormatIDTech || !strings.HasPrefix(k.String(), "6299490073000420") {
						t.Fatalf("format %s KSN %s", env.Format, k)
					}
					l1, l2, e1, e2, h1, h2, serial, ksn := splitIDTechText(t, env.Data)
					c1, c2 := decryptField(t, env, e1), decryptField(t, env, e2)
					checkTrack(t, c1, c, 1, true)
					checkTrack(t, c2, c, 2, true)
					if s1 := sha1.Sum(c1[:l1]); !strings.EqualFold(h1, hex.EncodeToString(s1[:])) {
						t.Error("track 1 hash is not SHA-1 of the clear track")
					}
					if s2 := sha1.Sum(c2[:l2]); !strings.EqualFold(h2, hex.EncodeToString(s2[:])) {
						t.Error("track 2 hash is not SHA-1 of the clear track")
					}
					if ksn != k.String() || !strings.HasPrefix(serial, hex.EncodeToString([]byte(DefaultSerial))) && !strings.HasPrefix(serial, strings.ToUpper(hex.EncodeToString([]byte(DefaultSerial)))) {
						t.Errorf("ksn %s serial %s", ksn, serial)
					}
					// Re-parsing e_track_data must give the same read (the
					// gateway's view).
					again, err := decrypt.ParseEnvelope(env)
					if err != nil || again.MaskedPAN != rd.MaskedPAN {
						t.Errorf("envelope does not re-parse: %v", err)
					}
				}
			}
		})
	}
}

func TestMaskedTracksFollowVendorConventions(t *testing.T) {
	c, err := SimCard{PAN: visaPAN, Name: "TEST/CARD", Expiry: "3012"}.normalize(fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	tr := makeTracks(c, true)
	m1, m2 := tr.idtechMasked()
	if len(m1) != len(tr.t1) || len(m2) != len(tr.t2) {
		t.Errorf("ID TECH masked lengths %d/%d, clear %d/%d", len(m1), len(m2), len(tr.t1), len(tr.t2))
	}
	if !bytes.HasPrefix(m1, []byte("%*4111********1111^TEST/CARD^*")) || !bytes.HasSuffix(m1, []byte("?*")) {
		t.Errorf("ID TECH masked T1 %q", m1)
	}
	if !bytes.HasPrefix(m2, []byte(";4111********1111=*")) || !bytes.HasSuffix(m2, []byte("?*")) {
		t.Errorf("ID TECH masked T2 %q", m2)
	}
	tm := makeTracks(c, false)
	k1, k2 := tm.magtekMasked()
	if len(k1) != len(tm.t1) || !bytes.HasPrefix(k1, []byte("%B4111********1111^TEST/CARD^3012*")) || !bytes.HasSuffix(k1, []byte("*?")) {
		t.Errorf("MagTek masked T1 %q", k1)
	}
	if len(k2) != len(tm.t2) || !bytes.HasPrefix(k2, []byte(";4111********1111=3012*")) {
		t.Errorf("MagTek masked T2 %q", k2)
	}
	// Long PAN and name still fit ISO 7813.
	long, err := SimCard{PAN: "6011000990139424000", Name: strings.Repeat("A", 26), Expiry: "3012"}.normalize(fixedNow)
	if err == nil {
		lt := makeTracks(long, true)
		if len(lt.t1) > maxTrack1 || len(lt.t2) > maxTrack2 {
			t.Errorf("long card tracks %d/%d", len(lt.t1), len(lt.t2))
		}
	}
}

func TestFrameLRCAndChecksum(t *testing.T) {
	c, _ := SimCard{PAN: visaPAN, Expiry: "3012"}.normalize(fixedNow)
	ksn, _ := hex.DecodeString("62994900730004200001")
	f, err := idtechFrame(makeTracks(c, true), frameOpts{serial: DefaultSerial, ksn: ksn})
	if err != nil {
		t.Fatal(err)
	}
	n := int(f[1]) | int(f[2])<<8
	if f[0] != 0x02 || f[len(f)-1] != 0x03 || n != len(f)-6 {
		t.Fatalf("frame envelope: STX %02X ETX %02X len %d of %d", f[0], f[len(f)-1], n, len(f))
	}
	var lrc, sum byte
	for _, b := range f[3 : 3+n] {
		lrc ^= b
		sum += b
	}
	if f[3+n] != lrc || f[4+n] != sum {
		t.Errorf("LRC/checksum %02X %02X, want %02X %02X", f[3+n], f[4+n], lrc, sum)
	}
	if f[3] != 0x80 || f[4] != 0x1F || f[8] != 0x83 || f[9] != 0x9B {
		t.Errorf("header % X", f[3:10])
	}
}

func TestMagTekReportLayout(t *testing.T) {
	c, _ := SimCard{PAN: mcPAN, Expiry: "3012"}.normalize(fixedNow)
	ksn, _ := hex.DecodeString("FFFF9876543210E00001")
	rep, err := magtekReport(makeTracks(c, false), reportOpts{serial: DefaultSerial, ksn: ksn})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep) != 856 || rep[493] != 0x00 || rep[494] != 0x06 || !bytes.Equal(rep[495:505], ksn) {
		t.Fatalf("report %d bytes, status % X, ksn % X", len(rep), rep[493:495], rep[495:505])
	}
	if rep[3]%8 != 0 || rep[4]%8 != 0 || rep[5] != 0 || rep[852] != rep[505] || rep[853] != rep[506] {
		t.Errorf("lengths enc % X masked % X abs % X", rep[3:6], rep[505:508], rep[852:856])
	}
}

func TestEMVChipAndTap(t *testing.T) {
	g := newRig(t, Options{Model: ModelVP3300})
	ctx := context.Background()
	if !g.r.Info().EMV || !g.r.Info().Simulated {
		t.Fatalf("info %+v", g.r.Info())
	}
	if err := g.r.Simulate(ctx, SimCard{PAN: visaPAN, EntryMode: card.EntryChip}); !errors.Is(err, ErrNotArmed) {
		t.Fatalf("chip without Arm: %v", err)
	}
	tests := []struct {
		pan, label, aid, cvm, tvr, tsi string
		mode                           card.EntryMode
	}{
		{visaPAN, "VISA CREDIT", "A0000000031010", "Signature", "0000008000", "E800", card.EntryChip},
		{mcPAN, "MASTERCARD", "A0000000041010", "", "0000000000", "0000", card.EntryProximity},
		{amexPAN, "AMERICAN EXPRESS", "A00000002501", "Signature", "0000008000", "E800", card.EntryChip},
	}
	for i, tc := range tests {
		if err := g.r.Arm(ctx, reader.Transaction{AmountCents: 1250, Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
		g.expectPrompt(sale.PromptPresentCard)
		c := SimCard{PAN: tc.pan, Name: "UAT/TEST", Expiry: "2912", EntryMode: tc.mode}
		if err := g.r.Simulate(ctx, c); err != nil {
			t.Fatal(err)
		}
		g.expectPrompt(sale.PromptProcessing)
		rd := g.expectCard()
		if rd.EntryMode != tc.mode || rd.Envelope.Format != card.FormatKSN || rd.Source != "vivopay" {
			t.Errorf("%s: entry %q format %q source %q", tc.label, rd.EntryMode, rd.Envelope.Format, rd.Source)
		}
		if rd.LastFour() != tc.pan[len(tc.pan)-4:] || rd.Device.Serial != DefaultSerial {
			t.Errorf("%s: masked %q serial %q", tc.label, rd.MaskedPAN, rd.Device.Serial)
		}
		rc := rd.Receipt
		if rc.AID != tc.aid || rc.APPLAB != tc.label || rc.TVR != tc.tvr || rc.TSI != tc.tsi || rc.ATC != fmt.Sprintf("%04X", i+1) || rc.CryptogramType != "ARQC" || len(rc.TC) != 16 {
			t.Errorf("%s: receipt %+v", tc.label, rc)
		}
		if tc.cvm != "" && rc.CVM != tc.cvm {
			t.Errorf("%s: CVM %q, want %q", tc.label, rc.CVM, tc.cvm)
		}
		// ksn form: masked track 2 || enc 57; decrypt the 57 as the gateway would.
		f := strings.Split(rd.Envelope.Data, "|")
		if len(f) != 3 || f[1] != "" || strings.Contains(f[0], tc.pan) {
			t.Fatalf("%s: ksn form has %d fields", tc.label, len(f))
		}
		// The VP3300 encrypts 57 whole: tag, length, value.
		plain := decryptField(t, rd.Envelope, f[2])
		if len(plain) < 2 || plain[0] != 0x57 || int(plain[1]) > len(plain)-2 {
			t.Fatalf("%s: encrypted 57 is not a TLV", tc.label)
		}
		bcd := strings.ToUpper(hex.EncodeToString(plain[2 : 2+int(plain[1])]))
		want := tc.pan + "D" + c.Expiry + "101"
		if !strings.HasPrefix(bcd, want) {
			t.Errorf("%s: 57 does not decrypt to the card's track 2 equivalent", tc.label)
		}
		body, _, padded := strings.Cut(bcd, "F")
		if !padded || strings.Trim(body[len(want):], "0123456789") != "" {
			t.Errorf("%s: 57 is not digits ending with an F pad nibble", tc.label)
		}
		if (g.last.Complete != nil) != (tc.mode == card.EntryChip) {
			t.Errorf("%s: completion offered %v: contact chip only", tc.label, g.last.Complete != nil)
		}
		if tc.mode == card.EntryChip {
			g.complete(reader.ARCApproved)
		}
	}
}

func TestEMVSwipeNeedsNoArm(t *testing.T) {
	g := newRig(t, Options{Model: ModelVP3300})
	if err := g.r.Simulate(context.Background(), SimCard{PAN: visaPAN}); err != nil {
		t.Fatal(err)
	}
	rd := g.expectCard()
	if rd.EntryMode != card.EntrySwiped || rd.Envelope.Format != card.FormatIDTech {
		t.Errorf("entry %q format %q", rd.EntryMode, rd.Envelope.Format)
	}
	// Fallback inside a transaction: 9F39 80, a chip card's service code.
	if err := g.r.Arm(context.Background(), reader.Transaction{AmountCents: 100}); err != nil {
		t.Fatal(err)
	}
	g.expectPrompt(sale.PromptPresentCard)
	if err := g.r.Simulate(context.Background(), SimCard{PAN: visaPAN, EntryMode: card.EntryFallback}); err != nil {
		t.Fatal(err)
	}
	g.expectPrompt(sale.PromptProcessing)
	if rd := g.expectCard(); rd.EntryMode != card.EntryFallback {
		t.Errorf("fallback entry %q", rd.EntryMode)
	}
}

func TestCancelEndsTransactionWithoutCard(t *testing.T) {
	g := newRig(t, Options{Model: ModelVP3300})
	ctx := context.Background()
	if err := g.r.Arm(ctx, reader.Transaction{AmountCents: 100}); err != nil {
		t.Fatal(err)
	}
	g.expectPrompt(sale.PromptPresentCard)
	if err := g.r.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.r.Simulate(ctx, SimCard{PAN: visaPAN, EntryMode: card.EntryProximity}); !errors.Is(err, ErrNotArmed) {
		t.Errorf("tap after cancel: %v", err)
	}
	g.quiet()
}

func TestArmTimeoutIsRefused(t *testing.T) {
	g := newRig(t, Options{Model: ModelVP3300})
	if err := g.r.Arm(context.Background(), reader.Transaction{AmountCents: 100, Timeout: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	g.expectPrompt(sale.PromptPresentCard)
	ev := g.next()
	if ev.Kind != reader.EventRefused || decrypt.CodeOf(ev.Err) != decrypt.CodeReaderStatus {
		t.Fatalf("got %s %v, want refused reader_status", ev.Kind, ev.Err)
	}
	g.quiet() // no retry prompt: a timeout is not a damaged read
}

func TestFaults(t *testing.T) {
	tests := []struct {
		model Model
		mode  card.EntryMode
		fault Fault
		code  string
		retry bool
	}{
		{ModelSecureMag, card.EntrySwiped, FaultNotEncrypting, decrypt.CodeClearTrackData, false},
		{ModelDynamag, card.EntrySwiped, FaultNotEncrypting, decrypt.CodeClearTrackData, false},
		{ModelVP3300, card.EntrySwiped, FaultNotEncrypting, decrypt.CodeClearTrackData, false},
		{ModelVP3300, card.EntryChip, FaultNotEncrypting, decrypt.CodeClearTrackData, false},
		{ModelSecureMag, card.EntrySwiped, FaultBadRead, decrypt.CodeBadLRC, true},
		{ModelDynamag, card.EntrySwiped, FaultBadRead, decrypt.CodeBadLength, true},
		{ModelVP3300, card.EntrySwiped, FaultBadRead, decrypt.CodeBadCRC, true},
		{ModelVP3300, card.EntryProximity, FaultBadRead, decrypt.CodeBadCRC, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s", tc.model, tc.mode, tc.fault), func(t *testing.T) {
			g := newRig(t, Options{Model: tc.model, Fault: tc.fault})
			ctx := context.Background()
			armed := tc.mode == card.EntryChip || tc.mode == card.EntryProximity
			if armed {
				if err := g.r.Arm(ctx, reader.Transaction{AmountCents: 100}); err != nil {
					t.Fatal(err)
				}
				g.expectPrompt(sale.PromptPresentCard)
			}
			if err := g.r.Simulate(ctx, SimCard{PAN: visaPAN, EntryMode: tc.mode}); err != nil {
				t.Fatal(err)
			}
			if armed {
				g.expectPrompt(sale.PromptProcessing)
			}
			ev := g.next()
			if ev.Kind != reader.EventRefused || decrypt.CodeOf(ev.Err) != tc.code {
				t.Fatalf("got %s %v, want refused %s", ev.Kind, ev.Err, tc.code)
			}
			if tc.fault == FaultNotEncrypting && !errors.Is(ev.Err, decrypt.ErrClearTrackData) {
				t.Error("not-encrypting refusal does not match ErrClearTrackData")
			}
			if strings.Contains(ev.Err.Error(), visaPAN) || strings.Contains(ev.Err.Error(), visaPAN[6:12]) {
				t.Error("refusal message holds card digits")
			}
			if tc.retry {
				g.expectPrompt(sale.PromptRetry)
			}
			g.quiet()
			// A damaged chip read leaves the transaction armed: the retry
			// needs no new Arm. Fixing the fault gives a good read.
			g.d.SetFault(FaultNone)
			if tc.retry || !armed {
				if err := g.r.Simulate(ctx, SimCard{PAN: visaPAN, EntryMode: tc.mode}); err != nil {
					t.Fatal(err)
				}
				if armed {
					g.expectPrompt(sale.PromptProcessing)
				}
				g.expectCard()
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	g := newRig(t, Options{Model: ModelSecureMag})
	ctx := context.Background()
	tests := []struct {
		name string
		card SimCard
		want error
	}{
		{"luhn", SimCard{PAN: "4111111111111112"}, ErrCard},
		{"short", SimCard{PAN: "41111111"}, ErrCard},
		{"letters", SimCard{PAN: "4111-1111-1111-1111"}, ErrCard},
		{"name separator", SimCard{PAN: visaPAN, Name: "A^B"}, ErrCard},
		{"name too long", SimCard{PAN: visaPAN, Name: strings.Repeat("A", 27)}, ErrCard},
		{"expiry month", SimCard{PAN: visaPAN, Expiry: "3013"}, ErrCard},
		{"expiry form", SimCard{PAN: visaPAN, Expiry: "12/30"}, ErrCard},
		{"entry mode", SimCard{PAN: visaPAN, EntryMode: "X"}, ErrCard},
		{"chip on swipe reader", SimCard{PAN: visaPAN, EntryMode: card.EntryChip}, ErrSwipeOnly},
	}
	for _, tc := range tests {
		err := g.r.Simulate(ctx, tc.card)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "1111") {
			t.Errorf("%s: error shows card digits: %v", tc.name, err)
		}
	}
	g.quiet()
	if _, err := NewDriver(Options{KSN: "zz"}); err == nil {
		t.Error("bad KSN accepted")
	}
	if _, err := NewDriver(Options{Model: "Acme 9000"}); err == nil {
		t.Error("unknown model accepted")
	}
	if _, err := NewDriver(Options{Serial: "TOO-LONG-SERIAL"}); err == nil {
		t.Error("long serial accepted")
	}
}

func TestKSNSkipsCountersWithTooManyBits(t *testing.T) {
	// Counter 0x3FF has 10 one-bits: the next is 0x400, then 0x401.
	g := newRig(t, Options{Model: ModelSecureMag, KSN: "629949007300042003FF"})
	for _, want := range []uint32{0x400, 0x401} {
		if err := g.r.Simulate(context.Background(), SimCard{PAN: visaPAN}); err != nil {
			t.Fatal(err)
		}
		if got := g.expectCard().Envelope.KSN.Counter(); got != want {
			t.Errorf("counter %X, want %X", got, want)
		}
	}
	// 0x7FE has 10 one-bits: the next is 0x800 (0x7FF would have 11).
	g2 := newRig(t, Options{Model: ModelSecureMag, KSN: "629949007300042007FE"})
	if err := g2.r.Simulate(context.Background(), SimCard{PAN: visaPAN}); err != nil {
		t.Fatal(err)
	}
	if got := g2.expectCard().Envelope.KSN.Counter(); got != 0x800 {
		t.Errorf("counter %X, want 800", got)
	}
}

func TestUnplugReplug(t *testing.T) {
	g := newRig(t, Options{Model: ModelSecureMag})
	ctx := context.Background()
	if err := g.r.Simulate(ctx, SimCard{PAN: visaPAN}); err != nil {
		t.Fatal(err)
	}
	g.expectCard()
	g.d.Unplug()
	select {
	case err := <-g.runErr:
		if !errors.Is(err, reader.ErrDetached) {
			t.Fatalf("Run after unplug: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not end on unplug")
	}
	g.runErr <- nil // for the cleanup
	if devs, _ := g.d.Scan(ctx); len(devs) != 0 {
		t.Errorf("Scan while unplugged = %v", devs)
	}
	if err := g.d.Simulate(ctx, SimCard{PAN: visaPAN}); !errors.Is(err, ErrNotAttached) {
		t.Errorf("Simulate while unplugged: %v", err)
	}
	if _, err := g.d.Open(ctx, reader.Device{ID: DeviceID}); err == nil {
		t.Error("opened while unplugged")
	}
	g.d.Replug()
	<-g.runErr
	g.open()
	if err := g.d.Simulate(ctx, SimCard{PAN: visaPAN}); err != nil {
		t.Fatal(err)
	}
	// The device's KSN counter survives the replug.
	if got := g.expectCard().Envelope.KSN.Counter(); got != 2 {
		t.Errorf("counter after replug %d, want 2", got)
	}
}

func TestSimulateWithoutRunDoesNotHang(t *testing.T) {
	d, err := NewDriver(Options{})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := d.Open(context.Background(), reader.Device{ID: DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := rd.(*Reader).Simulate(ctx, SimCard{PAN: visaPAN}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Simulate with nobody running: %v", err)
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rd.Arm(context.Background(), reader.Transaction{}); !errors.Is(err, ErrNotAttached) {
		t.Errorf("Arm after Close: %v", err)
	}
}

func TestWithManager(t *testing.T) {
	d, err := NewDriver(Options{Model: ModelVP3300})
	if err != nil {
		t.Fatal(err)
	}
	m := reader.NewManager([]reader.Driver{d}, reader.Options{PollInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		for range m.Events() {
		}
		<-done
	}()
	next := func(kind reader.EventKind) reader.Event {
		t.Helper()
		for {
			select {
			case ev := <-m.Events():
				if ev.Kind == kind {
					return ev
				}
			case <-time.After(waitLimit):
				t.Fatalf("no %s event", kind)
			}
		}
	}
	ev := next(reader.EventAttached)
	if ev.Reader.ID != DeviceID || !ev.Reader.Simulated || !ev.Reader.EMV {
		t.Fatalf("attached %+v", ev.Reader)
	}
	// The bridge reaches Simulate through the manager and an interface of its own.
	type simulator interface {
		Simulate(context.Context, SimCard) error
	}
	tr := reader.Transaction{AmountCents: 999, Timeout: time.Minute}
	if err := m.Arm(ctx, DeviceID, tr); err != nil {
		t.Fatal(err)
	}
	d.Unplug()
	next(reader.EventDetached)
	d.Replug()
	ev = next(reader.EventAttached)
	// The engine re-arms on attached; then the tap goes through.
	if err := m.Arm(ctx, ev.Reader.ID, tr); err != nil {
		t.Fatal(err)
	}
	rd, err := m.Reader(DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.(simulator).Simulate(ctx, SimCard{PAN: mcPAN, EntryMode: card.EntryProximity}); err != nil {
		t.Fatal(err)
	}
	ev = next(reader.EventCard)
	if ev.Reader.ID != DeviceID || ev.Read.EntryMode != card.EntryProximity {
		t.Errorf("card %+v", ev)
	}
}

// Card numbers live in test files only (AGENTS rule): no Luhn-valid run of
// 13–19 digits in this package's other sources.
func TestNoCardNumbersInSources(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	digits := regexp.MustCompile(`\b[0-9]{13,19}\b`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range digits.FindAllString(string(src), -1) {
			if card.Luhn(m) {
				t.Errorf("%s holds a Luhn-valid number %s…", f, m[:6])
			}
		}
	}
}

// TestChipCompletion: the simulated VP3300 runs the contact flow of the
// IDG reader: a chip card waits for its host response, refusing another
// transaction or card meanwhile, decides at the second GENERATE AC, and
// gives up (declining) when no host response comes.
func TestChipCompletion(t *testing.T) {
	tests := []struct {
		name     string
		declines bool
		arc      string
		approved bool
	}{
		{"approved", false, reader.ARCApproved, true},
		{"card declines at completion", true, reader.ARCApproved, false},
		{"gateway declined", false, reader.ARCDeclined, false},
		{"unable to go online", false, reader.ARCUnableOnline, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, Options{Model: ModelVP3300})
			ctx := context.Background()
			if err := g.r.Arm(ctx, reader.Transaction{AmountCents: 1250, Timeout: time.Minute}); err != nil {
				t.Fatal(err)
			}
			g.expectPrompt(sale.PromptPresentCard)
			if err := g.r.Simulate(ctx, SimCard{PAN: visaPAN, EntryMode: card.EntryChip, DeclinesAtCompletion: tc.declines}); err != nil {
				t.Fatal(err)
			}
			g.expectPrompt(sale.PromptProcessing)
			g.expectCard()
			if err := g.r.Arm(ctx, reader.Transaction{AmountCents: 100}); !errors.Is(err, ErrAwaitingHost) {
				t.Errorf("Arm while the card waits: %v", err)
			}
			if err := g.r.Simulate(ctx, SimCard{PAN: visaPAN}); !errors.Is(err, ErrAwaitingHost) {
				t.Errorf("swipe while the card waits: %v", err)
			}
			d := g.complete(tc.arc)
			if d.Approved != tc.approved {
				t.Errorf("decision %+v", d)
			}
			if _, err := g.last.Complete(ctx, reader.HostResponse{ARC: reader.ARCApproved}); !errors.Is(err, ErrNotWaiting) {
				t.Errorf("second Complete: %v", err)
			}
			if err := g.r.Arm(ctx, reader.Transaction{AmountCents: 100, Timeout: time.Minute}); err != nil {
				t.Errorf("Arm after completion: %v", err)
			}
		})
	}
	t.Run("no host response", func(t *testing.T) {
		g := newRig(t, Options{Model: ModelVP3300, HostResponseTimeout: time.Millisecond})
		ctx := context.Background()
		if err := g.r.Arm(ctx, reader.Transaction{AmountCents: 1250, Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
		g.expectPrompt(sale.PromptPresentCard)
		if err := g.r.Simulate(ctx, SimCard{PAN: visaPAN, EntryMode: card.EntryChip}); err != nil {
			t.Fatal(err)
		}
		g.expectPrompt(sale.PromptProcessing)
		g.expectCard()
		g.expectPrompt(sale.PromptRemoveCard) // the reader gave up
		if _, err := g.last.Complete(ctx, reader.HostResponse{ARC: reader.ARCApproved}); !errors.Is(err, ErrNotWaiting) {
			t.Errorf("late Complete: %v", err)
		}
	})
}

// TestCompletionFaultAmounts: the amounts that give a chip sale a
// completion fault through the websocket: cents 91, the card declines an
// approval; cents 92, the reader is unplugged before the completion (the
// host response fails as detached, Run ends) and comes back. Other cents
// complete normally.
func TestCompletionFaultAmounts(t *testing.T) {
	tests := []struct {
		name     string
		cents    int64
		approved bool
		detached bool
	}{
		{"ordinary amount", 1250, true, false},
		{"cents 91: card declines", 1291, false, false},
		{"cents 92: reader unplugged", 1292, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, Options{Model: ModelVP3300})
			ctx := context.Background()
			if err := g.r.Arm(ctx, reader.Transaction{AmountCents: tc.cents, Timeout: time.Minute}); err != nil {
				t.Fatal(err)
			}
			g.expectPrompt(sale.PromptPresentCard)
			if err := g.r.Simulate(ctx, SimCard{PAN: visaPAN, EntryMode: card.EntryChip}); err != nil {
				t.Fatal(err)
			}
			g.expectPrompt(sale.PromptProcessing)
			g.expectCard()
			d, err := g.last.Complete(ctx, reader.HostResponse{ARC: reader.ARCApproved})
			if errors.Is(err, reader.ErrDetached) != tc.detached || d.Approved != tc.approved {
				t.Fatalf("decision %+v, error %v", d, err)
			}
			if !tc.detached {
				return
			}
			select {
			case err := <-g.runErr:
				if !errors.Is(err, reader.ErrDetached) {
					t.Errorf("Run: %v", err)
				}
				g.runErr <- err // for the cleanup
			case <-time.After(waitLimit):
				t.Fatal("Run did not end on the unplug")
			}
			deadline := time.Now().Add(waitLimit)
			for {
				devs, _ := g.d.Scan(ctx)
				if len(devs) == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the reader did not come back")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestReadersDocCompletionAmounts: docs/readers.md names the cents that
// give a simulated chip sale a completion fault.
func TestReadersDocCompletionAmounts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "readers.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []int{CentsDeclinesAtCompletion, CentsUnplugsAtCompletion} {
		if want := fmt.Sprintf("cents **`.%02d`**", c); !strings.Contains(string(b), want) {
			t.Errorf("docs/readers.md does not say %s", want)
		}
	}
}
