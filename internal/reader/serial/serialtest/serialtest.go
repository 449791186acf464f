package serialtest

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/creack/pty"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/decrypt/dukpt"
)

// Port is the device side of a serial reader: a pseudo-terminal whose
// slave the agent opens through a stable symlink (as /dev/serial/by-id/…
// would be), so that the reader can be unplugged and plugged in again on a
// new pty behind the same configured path.
type Port struct {
	link          string
	master, slave *os.File
}

// Plug opens a new pty and points link at its slave.
func Plug(link string) (*Port, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("pseudo-terminal: %w", err)
	}
	// The slave stays open here too, as in the serial driver's tests: the
	// pty then exists whether or not the agent has it open.
	p := &Port{link: link, master: master, slave: slave}
	_ = os.Remove(link)
	if err := os.Symlink(slave.Name(), link); err != nil {
		p.Close()
		return nil, fmt.Errorf("reader link: %w", err)
	}
	// Nothing reads the master: an ID TECH reader in this mode only talks,
	// the agent never writes to it, and frames are written only after the
	// agent has opened the port (raw mode, no echo). A reader goroutine
	// would also keep the master open after Close (a blocked read holds the
	// file), so an unplug would no longer look like one.
	return p, nil
}

// Unplug removes the link first, so that the manager's next scan does not
// find the path and try to open a dead pty, then closes the pty: the agent's
// read fails and it reports the reader detached.
func (p *Port) Unplug() error {
	err := os.Remove(p.link)
	p.Close()
	if err != nil {
		return fmt.Errorf("unplug: %w", err)
	}
	return nil
}

// Close closes the pty (both sides) and leaves the link.
func (p *Port) Close() {
	_ = p.master.Close()
	_ = p.slave.Close()
}

// Write sends one frame and returns the time just before the write. The
// frame is readable on the agent's side as the write copies it, so the
// time after the write can come later than the agent's request reaching
// the gateway: with the journal off that path, a descheduled harness
// measured negative latencies under the race detector. The time before
// it adds the write's own few microseconds, against the agent.
func (p *Port) Write(frame []byte) (time.Time, error) {
	start := time.Now()
	if _, err := p.master.Write(frame); err != nil {
		return time.Time{}, fmt.Errorf("write to the reader's pty: %w", err)
	}
	return start, nil
}

// IDTechCard builds ID TECH enhanced binary frames as a SecureMag with
// encryption on sends them over serial: tracks 1 and 2 encrypted with the
// DUKPT data key of the public ANSI test BDK, a new KSN counter for every
// frame (the agent refuses a replayed KSN), SHA-1 hashes, masked tracks,
// serial number, LRC and checksum. The layout is the simulator's
// (internal/reader/sim), which the sandbox decrypts.
type IDTechCard struct {
	ksn    []byte
	serial string
}

// DemoKSN is an initial KSN (counter 0) on the ID TECH demo-unit prefix of
// the public test key, so card.KSN.IsTestKey holds for every frame. A
// process under test that remembers KSNs (the agent refuses a replayed one)
// must see no other reader started from the same KSN.
const DemoKSN = "62994900730004200000"

// NewIDTechCard returns a reader whose first frame uses the counter after
// initialKSN (20 hex digits) and that reports serial (at most 10
// characters) in its frames.
func NewIDTechCard(initialKSN, serial string) (*IDTechCard, error) {
	ksn, err := hex.DecodeString(initialKSN)
	if err != nil || len(ksn) != 10 {
		return nil, fmt.Errorf("initial KSN %q: want 20 hex digits", initialKSN)
	}
	if len(serial) > idtSerialLen {
		return nil, fmt.Errorf("serial %q: at most %d characters", serial, idtSerialLen)
	}
	return &IDTechCard{ksn: ksn, serial: serial}, nil
}

// Enhanced frame field values (docs/formats.md, card-formats.md §2.2).
const (
	idtEncodeISO  = 0x80
	idtStatusT1T2 = 0x1F
	idtF8Masked   = 0x03
	idtF8Serial   = 0x80
	idtF9EncT1T2  = 0x03
	idtF9HashT1T2 = 0x18
	idtF9KSN      = 0x80
	idtSerialLen  = 10
)

// Next builds a frame for a fresh card number on the Visa test BIN. The
// frame is checked with the agent's own parser before it is returned, so
// that a bad frame fails here, not as a mystery refusal inside the agent.
// The caller should clear the frame after use.
func (c *IDTechCard) Next() ([]byte, error) {
	ksn, err := dukpt.NextKSN(c.ksn)
	if err != nil {
		return nil, fmt.Errorf("next KSN: %w", err)
	}
	c.ksn = ksn
	pan, err := card.TestPAN("visa")
	if err != nil {
		return nil, err
	}
	t1, t2, m1, m2 := tracks(pan, time.Now().AddDate(3, 0, 0).Format("0601"))
	defer clear(t1)
	defer clear(t2)
	bdk, err := hex.DecodeString(dukpt.TestBDK)
	if err != nil {
		return nil, fmt.Errorf("test BDK: %w", err)
	}
	key, err := dukpt.TrackKey(bdk, ksn, dukpt.TrackDataKey)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	defer clear(key)
	e1, err := encryptTrack(key, t1)
	if err != nil {
		return nil, err
	}
	e2, err := encryptTrack(key, t2)
	if err != nil {
		return nil, err
	}
	h1, h2 := sha1.Sum(t1), sha1.Sum(t2)
	cd := []byte{idtEncodeISO, idtStatusT1T2, byte(len(t1)), byte(len(t2)), 0,
		idtF8Masked | idtF8Serial, idtF9EncT1T2 | idtF9HashT1T2 | idtF9KSN}
	cd = append(cd, m1...)
	cd = append(cd, m2...)
	cd = append(cd, e1...)
	cd = append(cd, e2...)
	cd = append(cd, h1[:]...)
	cd = append(cd, h2[:]...)
	var serial [idtSerialLen]byte
	copy(serial[:], c.serial)
	cd = append(cd, serial[:]...)
	cd = append(cd, ksn...)
	var lrc, sum byte
	for _, b := range cd {
		lrc ^= b
		sum += b
	}
	frame := append([]byte{0x02, byte(len(cd)), byte(len(cd) >> 8)}, cd...)
	frame = append(frame, lrc, sum, 0x03)
	if _, err := decrypt.ParseIDTech(frame); err != nil {
		return nil, fmt.Errorf("the harness built a frame the agent's parser refuses: %w", err)
	}
	return frame, nil
}

// tracks are the clear tracks 1 and 2 of an ISO 7813 card with the LRC
// character ID TECH readers deliver, and their masked forms (first and last
// four digits, name clear, the rest starred).
func tracks(pan, expiry string) (t1, t2, m1, m2 []byte) {
	const name = "TEST/CARDHOLDER"
	rest1 := expiry + "101" + strings.Repeat("0", 13)
	// Track 2 at most 40 characters: discretionary data fills what the
	// number leaves.
	rest2 := expiry + "101" + strings.Repeat("0", max(0, 40-(1+len(pan)+1+7+1+1)))
	t1 = []byte("%B" + pan + "^" + name + "^" + rest1 + "?")
	t2 = []byte(";" + pan + "=" + rest2 + "?")
	t1 = append(t1, trackLRC(t1, 0x20, 0x3F))
	t2 = append(t2, trackLRC(t2, 0x30, 0x0F))
	masked := pan[:4] + strings.Repeat("*", len(pan)-8) + pan[len(pan)-4:]
	m1 = []byte("%*" + masked + "^" + name + "^" + strings.Repeat("*", len(rest1)) + "?*")
	m2 = []byte(";" + masked + "=" + strings.Repeat("*", len(rest2)) + "?*")
	return t1, t2, m1, m2
}

// trackLRC is the ISO 7813 LRC character over a track's data values.
func trackLRC(t []byte, offset, mask byte) byte {
	var x byte
	for _, c := range t {
		x ^= (c - offset) & mask
	}
	return x&mask + offset
}

// encryptTrack pads with zeros to whole 8-byte blocks and encrypts TDES-CBC
// with a zero IV, as the readers do.
func encryptTrack(key, track []byte) ([]byte, error) {
	buf := make([]byte, (len(track)+7)/8*8)
	copy(buf, track)
	defer clear(buf)
	out, err := dukpt.EncryptTDESCBC(key, buf)
	if err != nil {
		return nil, fmt.Errorf("encrypt a track: %w", err)
	}
	return out, nil
}
