package sim

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/decrypt/dukpt"
	"github.com/posagent/posagent/internal/emv"
)

// SimCard is what the caller asks the simulated reader to read. The PAN comes
// from the caller only; the simulator holds no card numbers of its own.
type SimCard struct {
	PAN string
	// Name is the cardholder name as on track 1 (SURNAME/GIVEN); empty
	// gives a neutral default.
	Name string
	// Expiry is YYMM; empty gives a date three years ahead.
	Expiry string
	// EntryMode is S (swipe), C (chip), P (tap) or F (fallback swipe);
	// empty means S.
	EntryMode card.EntryMode
	// DeclinesAtCompletion makes a chip card answer the second GENERATE AC
	// with an AAC even after an online approval, as a card whose issuer
	// action codes refuse the transaction does (tests of the completion).
	DeclinesAtCompletion bool
}

// Amounts (their cents) that give a simulated VP3300 chip sale (entry
// mode C) a completion fault, so that a page or the chaos run can ask for
// one through the websocket: the sandbox picks its outcomes by amount too
// (docs/sandbox.md), and a card number would put a Luhn-valid number on
// the wire. The sandbox approves these amounts (8.91 and 8.92 excepted: it
// holds those back and declines them). docs/readers.md, "An approval the
// card does not accept".
const (
	// CentsDeclinesAtCompletion: the card declines (AAC) at the second
	// GENERATE AC even after an online approval (as DeclinesAtCompletion).
	CentsDeclinesAtCompletion = 91
	// CentsUnplugsAtCompletion: the reader is unplugged just before the
	// completion: the host response fails with reader.ErrDetached, the
	// card declines without power, and the reader comes back a moment later.
	CentsUnplugsAtCompletion = 92
)

// ErrCard is wrapped by every error about a SimCard's content.
var ErrCard = errors.New("invalid simulated card")

const (
	defaultName = "SIMULATED/CARDHOLDER"
	// Track limits of ISO/IEC 7813, sentinels and LRC included.
	maxTrack1 = 79
	maxTrack2 = 40
	// discLen is the discretionary data length the simulator aims for; it is
	// cut to fit the track limits with long PANs and names.
	discLen = 13
)

// normalize checks c and fills its defaults. It never puts the PAN in an
// error message.
func (c SimCard) normalize(now time.Time) (SimCard, error) {
	if c.EntryMode == "" {
		c.EntryMode = card.EntrySwiped
	}
	switch c.EntryMode {
	case card.EntrySwiped, card.EntryChip, card.EntryProximity, card.EntryFallback:
	default:
		return c, fmt.Errorf("%w: entry mode %q: want S, C, P or F", ErrCard, c.EntryMode)
	}
	if n := len(c.PAN); n < 12 || n > 19 || !allDigits(c.PAN) {
		return c, fmt.Errorf("%w: the card number must be 12 to 19 digits", ErrCard)
	}
	if !card.Luhn(c.PAN) {
		return c, fmt.Errorf("%w: the card number fails the Luhn check", ErrCard)
	}
	if c.Name == "" {
		c.Name = defaultName
	}
	c.Name = strings.ToUpper(c.Name)
	if n := len(c.Name); n < 2 || n > 26 {
		return c, fmt.Errorf("%w: the cardholder name must be 2 to 26 characters", ErrCard)
	}
	for _, r := range c.Name {
		// Track 1 carries 0x20–0x5F; ^ separates fields, % and ? are sentinels.
		if r < 0x20 || r > 0x5F || r == '^' || r == '%' || r == '?' {
			return c, fmt.Errorf("%w: the cardholder name may hold letters, digits, space and / . - only", ErrCard)
		}
	}
	if c.Expiry == "" {
		c.Expiry = now.AddDate(3, 0, 0).Format("0601")
	}
	if len(c.Expiry) != 4 || !allDigits(c.Expiry) || c.Expiry[2:] < "01" || c.Expiry[2:] > "12" {
		return c, fmt.Errorf("%w: expiry %q: want YYMM", ErrCard, c.Expiry)
	}
	return c, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// serviceCode: a chip card says so (2xx), which is also what makes a swipe
// of it a fallback.
func serviceCode(m card.EntryMode) string {
	if m == card.EntryFallback {
		return "201"
	}
	return "101"
}

// clearTracks are a card's tracks in clear, as on the stripe. Only the
// builders below see them.
type clearTracks struct {
	t1, t2 []byte
	// rest1/rest2 are expiry, service code and discretionary data: what
	// follows the last separator up to the end sentinel.
	rest1, rest2 string
	pan, name    string
}

// makeTracks builds track 1 and 2. withLRC appends the ISO 7813 LRC
// character after the end sentinel, as ID TECH readers deliver it; MagTek
// readers leave it out.
func makeTracks(c SimCard, withLRC bool) clearTracks {
	svc := serviceCode(c.EntryMode)
	lrcLen := 0
	if withLRC {
		lrcLen = 1
	}
	fixed1 := 2 + len(c.PAN) + 1 + len(c.Name) + 1 + 4 + 3 + 1 + lrcLen
	fixed2 := 1 + len(c.PAN) + 1 + 4 + 3 + 1 + lrcLen
	disc2 := max(0, min(discLen, maxTrack2-fixed2))
	if disc2 > 0 && (len(c.PAN)+1+4+3+disc2)%2 == 0 {
		// Keep track 2 an odd number of characters between the sentinels,
		// so that tag 57 (its BCD form) always ends with an F pad nibble as
		// in the VP3300 captures: a host that decrypts it then finds the end
		// of the data without knowing its length.
		disc2--
	}
	rest1 := c.Expiry + svc + strings.Repeat("0", max(0, min(discLen, maxTrack1-fixed1)))
	rest2 := c.Expiry + svc + strings.Repeat("0", disc2)
	t1 := []byte("%B" + c.PAN + "^" + c.Name + "^" + rest1 + "?")
	t2 := []byte(";" + c.PAN + "=" + rest2 + "?")
	if withLRC {
		t1 = append(t1, trackLRC(t1, 0x20, 0x3F))
		t2 = append(t2, trackLRC(t2, 0x30, 0x0F))
	}
	return clearTracks{t1: t1, t2: t2, rest1: rest1, rest2: rest2, pan: c.PAN, name: c.Name}
}

// trackLRC is the ISO 7813 LRC character: XOR of the characters' data
// values (ASCII minus the track's offset, 6 bits on track 1, 4 on track 2)
// from start to end sentinel, plus the offset (card-formats.md §6).
func trackLRC(t []byte, offset, mask byte) byte {
	var x byte
	for _, c := range t {
		x ^= (c - offset) & mask
	}
	return x&mask + offset
}

// maskPAN keeps the first and last four digits, as ID TECH's default and
// the MagTek '*' configuration do.
func maskPAN(pan string) string {
	return pan[:4] + strings.Repeat("*", len(pan)-8) + pan[len(pan)-4:]
}

// IDTech masking (§2.2): format code and LRC masked, name clear, expiry and
// the rest masked.
func (t clearTracks) idtechMasked() (m1, m2 []byte) {
	m1 = []byte("%*" + maskPAN(t.pan) + "^" + t.name + "^" + strings.Repeat("*", len(t.rest1)) + "?*")
	m2 = []byte(";" + maskPAN(t.pan) + "=" + strings.Repeat("*", len(t.rest2)) + "?*")
	return m1, m2
}

// MagTek masking (§6): format code, name, expiry and separators clear,
// service code and discretionary data masked; no LRC character.
func (t clearTracks) magtekMasked() (m1, m2 []byte) {
	m1 = []byte("%B" + maskPAN(t.pan) + "^" + t.name + "^" + t.rest1[:4] + strings.Repeat("*", len(t.rest1)-4) + "?")
	m2 = []byte(";" + maskPAN(t.pan) + "=" + t.rest2[:4] + strings.Repeat("*", len(t.rest2)-4) + "?")
	return m1, m2
}

// encrypt pads with zeros to whole 8-byte blocks and encrypts TDES-CBC with
// IV zero, as both vendors' readers do.
func encrypt(key, clear []byte) ([]byte, error) {
	n := (len(clear) + 7) / 8 * 8
	buf := make([]byte, n)
	copy(buf, clear)
	defer clearBytes(buf)
	return dukpt.EncryptTDESCBC(key, buf)
}

func clearBytes(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// trackKey derives the track key for ksn under the public test BDK.
func trackKey(ksn []byte, kind dukpt.TrackKeyKind) ([]byte, error) {
	bdk, err := hex.DecodeString(dukpt.TestBDK)
	if err != nil {
		return nil, fmt.Errorf("test BDK: %w", err)
	}
	return dukpt.TrackKey(bdk, ksn, kind)
}

// ID TECH enhanced frame flag values (card-formats.md §2.2).
const (
	idtEncodeISO   = 0x80
	idtStatusT1T2  = 0x1F // tracks 1–3 decoded, T1 and T2 data present
	idtF8Masked    = 0x03 // T1 and T2 masked data present
	idtF8Serial    = 0x80
	idtF9EncT1T2   = 0x03
	idtF9HashT1T2  = 0x18
	idtF9KSN       = 0x80
	idtSerialField = 10
)

// frameOpts say how to build an ID TECH frame.
type frameOpts struct {
	serial string
	ksn    []byte
	clear  bool // not encrypting: clear tracks in the masked fields, no KSN
	badLRC bool
}

// idtechFrame builds a binary enhanced frame: STX, length, card data, LRC,
// checksum, ETX. Tracks are encrypted with the data key.
func idtechFrame(t clearTracks, o frameOpts) ([]byte, error) {
	cd := []byte{idtEncodeISO, idtStatusT1T2, byte(len(t.t1)), byte(len(t.t2)), 0}
	if o.clear {
		// A reader with encryption off: the "masked" fields carry the
		// clear tracks and nothing is encrypted.
		cd = append(cd, idtF8Masked, 0)
		cd = append(cd, t.t1...)
		cd = append(cd, t.t2...)
		return frame(cd, o.badLRC), nil
	}
	key, err := trackKey(o.ksn, dukpt.TrackDataKey)
	if err != nil {
		return nil, fmt.Errorf("derive the data key: %w", err)
	}
	defer clearBytes(key)
	e1, err := encrypt(key, t.t1)
	if err != nil {
		return nil, err
	}
	e2, err := encrypt(key, t.t2)
	if err != nil {
		return nil, err
	}
	m1, m2 := t.idtechMasked()
	h1, h2 := sha1.Sum(t.t1), sha1.Sum(t.t2)
	cd = append(cd, idtF8Masked|idtF8Serial, idtF9EncT1T2|idtF9HashT1T2|idtF9KSN)
	cd = append(cd, m1...)
	cd = append(cd, m2...)
	cd = append(cd, e1...)
	cd = append(cd, e2...)
	cd = append(cd, h1[:]...)
	cd = append(cd, h2[:]...)
	var serial [idtSerialField]byte
	copy(serial[:], o.serial)
	cd = append(cd, serial[:]...)
	cd = append(cd, o.ksn...)
	return frame(cd, o.badLRC), nil
}

func frame(cd []byte, badLRC bool) []byte {
	var lrc, sum byte
	for _, c := range cd {
		lrc ^= c
		sum += c
	}
	if badLRC {
		lrc ^= 0x5A // a damaged read: the reader's LRC no longer matches
	}
	out := make([]byte, 0, len(cd)+6)
	out = append(out, 0x02, byte(len(cd)), byte(len(cd)>>8))
	out = append(out, cd...)
	return append(out, lrc, sum, 0x03)
}

// MagTek V5 HID report offsets (card-formats.md §1.2).
const (
	mtReportLen    = 856
	mtEncLen       = 3
	mtEncT1        = 7
	mtSlot         = 112
	mtSerial       = 477
	mtSerialLen    = 16
	mtReaderStatus = 493
	mtKSN          = 495
	mtMaskedLen    = 505
	mtMaskedT1     = 508
	mtSession      = 844
	mtAbsLen       = 852
	// mtStatusEncrypting is the reader encryption status "initial key
	// injected, encryption enabled", sent MSB first in the HID report.
	mtStatusEncrypting = 0x0006
)

// reportOpts say how to build a MagTek report.
type reportOpts struct {
	serial    string
	ksn       []byte
	clear     bool // security level 2: the "encrypted" slots hold clear tracks
	truncated bool // a damaged transfer: one byte short
}

// magtekReport builds an 856-byte V5 HID input report, tracks encrypted
// with the PIN variant as MagneSafe V5 readers do.
func magtekReport(t clearTracks, o reportOpts) ([]byte, error) {
	rep := make([]byte, mtReportLen)
	m1, m2 := t.magtekMasked()
	var e1, e2, session []byte
	if o.clear {
		e1, e2 = t.t1, t.t2
		session = make([]byte, 8)
	} else {
		key, err := trackKey(o.ksn, dukpt.TrackPINKey)
		if err != nil {
			return nil, fmt.Errorf("derive the PIN-variant key: %w", err)
		}
		defer clearBytes(key)
		if e1, err = encrypt(key, t.t1); err != nil {
			return nil, err
		}
		if e2, err = encrypt(key, t.t2); err != nil {
			return nil, err
		}
		// A session ID of zero, encrypted, as a reader that was never given
		// one sends it.
		if session, err = encrypt(key, make([]byte, 8)); err != nil {
			return nil, err
		}
	}
	rep[mtEncLen], rep[mtEncLen+1] = byte(len(e1)), byte(len(e2))
	copy(rep[mtEncT1:], e1)
	copy(rep[mtEncT1+mtSlot:], e2)
	copy(rep[mtSerial:mtSerial+mtSerialLen-1], o.serial)
	binary.BigEndian.PutUint16(rep[mtReaderStatus:], mtStatusEncrypting)
	copy(rep[mtKSN:mtKSN+10], o.ksn)
	rep[mtMaskedLen], rep[mtMaskedLen+1] = byte(len(m1)), byte(len(m2))
	copy(rep[mtMaskedT1:], m1)
	copy(rep[mtMaskedT1+mtSlot:], m2)
	copy(rep[mtSession:], session)
	rep[mtAbsLen], rep[mtAbsLen+1] = byte(len(t.t1)), byte(len(t.t2))
	if o.truncated {
		rep = rep[:mtReportLen-1]
	}
	return rep, nil
}

// EMV tags the VP3300 response carries.
var (
	tagKSNLegacy  = emv.MustTag("FFEE12")
	tagKSN        = emv.MustTag("DFEE12")
	tagMSRFrame   = emv.MustTag("DFEE23")
	tagT2Eq       = emv.MustTag("57")
	tagName       = emv.MustTag("5F20")
	tagPSN        = emv.MustTag("5F34")
	tagCurrency   = emv.MustTag("5F2A")
	tagAIP        = emv.MustTag("82")
	tagDate       = emv.MustTag("9A")
	tagTxnType    = emv.MustTag("9C")
	tagTime       = emv.MustTag("9F21")
	tagIFDSerial  = emv.MustTag("9F1E")
	tagUnpredict  = emv.MustTag("9F37")
	tagTermCountr = emv.MustTag("9F1A")
)

// IDG response codes the simulator answers with.
const (
	idgCmdActivate   = 0x02
	idgStatusOK      = 0x00
	idgStatusTimeout = 0x08
)

// application is the EMV application a brand's cards select.
type application struct {
	aid   []byte
	label string
}

var applications = map[card.Brand]application{
	card.BrandVisa:     {[]byte{0xA0, 0, 0, 0, 0x03, 0x10, 0x10}, "VISA CREDIT"},
	card.BrandMC:       {[]byte{0xA0, 0, 0, 0, 0x04, 0x10, 0x10}, "MASTERCARD"},
	card.BrandAmex:     {[]byte{0xA0, 0, 0, 0, 0x25, 0x01}, "AMERICAN EXPRESS"},
	card.BrandDiscover: {[]byte{0xA0, 0, 0, 0x01, 0x52, 0x30, 0x10}, "DISCOVER"},
	card.BrandDiners:   {[]byte{0xA0, 0, 0, 0x01, 0x52, 0x30, 0x10}, "DINERS CLUB"},
	card.BrandJCB:      {[]byte{0xA0, 0, 0, 0, 0x65, 0x10, 0x10}, "JCB"},
}

// emvOpts say how to build a VP3300 response.
type emvOpts struct {
	serial string
	ksn    []byte
	clear  bool
	badCRC bool
	atc    uint16
	tx     txn
	now    time.Time
}

// txn is the transaction the reader was armed with.
type txn struct {
	amountCents int64
	kind        byte
}

// track2Equivalent is tag 57 in BCD: PAN, D, expiry, service code,
// discretionary data, F pad. masked replaces the PAN's middle digits and
// the discretionary data with C nibbles, as the VP3300 does.
func track2Equivalent(t clearTracks, masked bool) []byte {
	var nibs []byte
	for i := 0; i < len(t.pan); i++ {
		d := t.pan[i] - '0'
		if masked && i >= 4 && i < len(t.pan)-4 {
			d = 0x0C
		}
		nibs = append(nibs, d)
	}
	nibs = append(nibs, 0x0D)
	for i := 0; i < len(t.rest2); i++ {
		d := t.rest2[i] - '0'
		if masked && i >= 7 { // expiry and service code stay clear
			d = 0x0C
		}
		nibs = append(nibs, d)
	}
	if len(nibs)%2 == 1 {
		nibs = append(nibs, 0x0F)
	}
	out := make([]byte, len(nibs)/2)
	for i := range out {
		out[i] = nibs[2*i]<<4 | nibs[2*i+1]
	}
	return out
}

// vp3300Chip builds the TLVs of a chip or contactless read (§3.4): the KSN,
// masked then encrypted 57 (data key), entry mode and receipt tags.
func vp3300Chip(t clearTracks, mode card.EntryMode, o emvOpts) ([]byte, error) {
	app, ok := applications[card.BrandOf(t.pan)]
	if !ok {
		return nil, fmt.Errorf("%w: no EMV application for this card number's brand: use a Visa, Mastercard, Amex, Discover, Diners or JCB test number", ErrCard)
	}
	clear57 := track2Equivalent(t, false)
	defer clearBytes(clear57)
	var d []byte
	if o.clear {
		// Encryption off: one clear 57 and no KSN.
		d = emv.AppendTLV(d, tagT2Eq, clear57)
	} else {
		key, err := trackKey(o.ksn, dukpt.TrackDataKey)
		if err != nil {
			return nil, fmt.Errorf("derive the data key: %w", err)
		}
		defer clearBytes(key)
		// The VP3300 encrypts tag 57 whole: tag, length, value (the public
		// VP3300 capture decrypts to "57 13 …", captures.md §2).
		tlv57 := emv.AppendTLV(nil, tagT2Eq, clear57)
		defer clearBytes(tlv57)
		enc, err := encrypt(key, tlv57)
		if err != nil {
			return nil, err
		}
		// VP3300 firmware: KSN in the legacy FFEE12, an empty DFEE12, the
		// masked 57 first and the encrypted 57 second (captures.md §2).
		d = emv.AppendTLV(d, tagKSNLegacy, o.ksn)
		d = emv.AppendTLV(d, tagKSN, nil)
		d = emv.AppendTLV(d, tagT2Eq, track2Equivalent(t, true))
		d = emv.AppendTLV(d, tagT2Eq, enc)
	}
	entry, tvr, tsi, cvm, aip := byte(0x05), []byte{0, 0, 0, 0x80, 0}, []byte{0xE8, 0}, []byte{0x1E, 0x03, 0x00}, []byte{0x3C, 0x00}
	if mode == card.EntryProximity {
		// Contactless: no offline data authentication record in TSI, no CVM
		// needed under the floor limit.
		entry, tvr, tsi, cvm, aip = 0x07, []byte{0, 0, 0, 0, 0}, []byte{0, 0}, []byte{0x1F, 0x03, 0x02}, []byte{0x19, 0x80}
	}
	amount, err := emv.AmountN12(o.tx.amountCents)
	if err != nil {
		return nil, err
	}
	atc := []byte{byte(o.atc >> 8), byte(o.atc)}
	un := sha256.Sum256(append(append([]byte("un"), o.ksn...), atc...))
	ac := sha256.Sum256(append(append(append([]byte("ac"), o.ksn...), atc...), amount...))
	serial := make([]byte, 8)
	copy(serial, o.serial)
	d = emv.AppendTLV(d, emv.TagPOSEntryMode, []byte{entry})
	d = emv.AppendTLV(d, emv.TagAID, app.aid)
	d = emv.AppendTLV(d, emv.TagDFName, app.aid)
	d = emv.AppendTLV(d, emv.TagAppLabel, []byte(app.label))
	d = emv.AppendTLV(d, tagAIP, aip)
	d = emv.AppendTLV(d, emv.TagTVR, tvr)
	d = emv.AppendTLV(d, emv.TagTSI, tsi)
	d = emv.AppendTLV(d, emv.TagATC, atc)
	d = emv.AppendTLV(d, emv.TagCryptogram, ac[:8])
	d = emv.AppendTLV(d, emv.TagCID, []byte{0x80}) // ARQC: go online
	d = emv.AppendTLV(d, emv.TagCVMResults, cvm)
	d = emv.AppendTLV(d, emv.TagAmount, amount)
	d = emv.AppendTLV(d, emv.TagAmountOther, make([]byte, 6))
	d = emv.AppendTLV(d, tagTxnType, []byte{o.tx.kind})
	d = emv.AppendTLV(d, tagCurrency, []byte{0x08, 0x40})
	d = emv.AppendTLV(d, tagTermCountr, []byte{0x08, 0x40})
	d = emv.AppendTLV(d, tagDate, bcd(o.now.Format("060102")))
	d = emv.AppendTLV(d, tagTime, bcd(o.now.Format("150405")))
	d = emv.AppendTLV(d, tagUnpredict, un[:4])
	d = emv.AppendTLV(d, tagIFDSerial, serial)
	d = emv.AppendTLV(d, tagPSN, []byte{0x01})
	if mode == card.EntryChip {
		d = emv.AppendTLV(d, tagName, []byte(t.name))
	}
	return idgResponse(idgStatusOK, d, o.badCRC), nil
}

// vp3300Swipe builds the response to a swipe (or fallback swipe): the
// enhanced MSR frame in DFEE23 and the entry mode.
func vp3300Swipe(t clearTracks, mode card.EntryMode, o emvOpts) ([]byte, error) {
	f, err := idtechFrame(t, frameOpts{serial: o.serial, ksn: o.ksn, clear: o.clear})
	if err != nil {
		return nil, err
	}
	entry := byte(0x90)
	if mode == card.EntryFallback {
		entry = 0x80
	}
	d := emv.AppendTLV(nil, tagMSRFrame, f)
	d = emv.AppendTLV(d, emv.TagPOSEntryMode, []byte{entry})
	return idgResponse(idgStatusOK, d, o.badCRC), nil
}

// idgResponse frames a response. decrypt.AppendIDG writes the CRC LSB first
// as hosts send commands; readers answer MSB first (captures.md), so the
// two bytes are swapped.
func idgResponse(status byte, data []byte, badCRC bool) []byte {
	f := decrypt.AppendIDG(nil, idgCmdActivate, status, data)
	n := len(f)
	f[n-2], f[n-1] = f[n-1], f[n-2]
	if badCRC {
		f[n-1] ^= 0xA5
	}
	return f
}

func bcd(digits string) []byte {
	out := make([]byte, len(digits)/2)
	for i := range out {
		out[i] = (digits[2*i]-'0')<<4 | (digits[2*i+1] - '0')
	}
	return out
}
