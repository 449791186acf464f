package card

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// KSN is a DUKPT key serial number: 10 bytes for TDES DUKPT (59-bit initial
// KSN + 21-bit counter) or 12 bytes for AES DUKPT (8-byte initial key id +
// 32-bit counter).
type KSN []byte

// Test-key KSN prefixes: readers loaded with the public ANSI X9.24 test BDK.
// MagTek's manuals use FFFF9876543210E0000x, ID TECH demo units 629949….
var testKSNPrefixes = [][]byte{
	{0xFF, 0xFF, 0x98, 0x76, 0x54},
	{0x62, 0x99, 0x49},
}

// ErrKSN is wrapped by every KSN parse error.
var ErrKSN = errors.New("invalid KSN")

// ParseKSN parses a KSN written as 20 (TDES) or 24 (AES) hex digits.
func ParseKSN(s string) (KSN, error) {
	s = strings.TrimSpace(s)
	if len(s) != 20 && len(s) != 24 {
		return nil, fmt.Errorf("%w: want 20 or 24 hex digits, got %d characters", ErrKSN, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not hex", ErrKSN)
	}
	return KSN(b), nil
}

// Valid reports whether k has a DUKPT length and is not all zero (a reader
// without a key reports zeros).
func (k KSN) Valid() bool {
	if len(k) != 10 && len(k) != 12 {
		return false
	}
	for _, b := range k {
		if b != 0 {
			return true
		}
	}
	return false
}

// AES reports whether k is a 12-byte AES DUKPT KSN.
func (k KSN) AES() bool { return len(k) == 12 }

// String is the KSN in upper-case hex, the form the gateway takes as
// e_serial_number. A KSN is public, but use it deliberately: logging goes
// through LogValue, which hides the counter.
func (k KSN) String() string { return strings.ToUpper(hex.EncodeToString(k)) }

// Counter is the DUKPT transaction counter: the low 21 bits of a TDES KSN or
// the last 4 bytes of an AES KSN.
func (k KSN) Counter() uint32 {
	switch len(k) {
	case 10:
		return uint32(k[7]&0x1F)<<16 | uint32(k[8])<<8 | uint32(k[9])
	case 12:
		return uint32(k[8])<<24 | uint32(k[9])<<16 | uint32(k[10])<<8 | uint32(k[11])
	}
	return 0
}

// Device is the KSN with the counter cleared: it names the reader's key, so
// two reads from one reader share it.
func (k KSN) Device() KSN {
	d := append(KSN(nil), k...)
	switch len(d) {
	case 10:
		d[7] &^= 0x1F
		d[8], d[9] = 0, 0
	case 12:
		d[8], d[9], d[10], d[11] = 0, 0, 0, 0
	}
	return d
}

// IsTestKey reports whether k belongs to a reader loaded with the public ANSI
// test BDK. Such reads are fine for the sandbox and must never reach a live
// gateway.
func (k KSN) IsTestKey() bool {
	for _, p := range testKSNPrefixes {
		if len(k) >= len(p) && string(k[:len(p)]) == string(p) {
			return true
		}
	}
	return false
}

// LogValue prints the key's device part only; the counter is replaced by
// "…" so that logs cannot be used to follow a reader's transactions.
func (k KSN) LogValue() slog.Value {
	if len(k) == 0 {
		return slog.StringValue("")
	}
	s := k.Device().String()
	n := len(s) - 6
	if n < 0 {
		n = 0
	}
	return slog.StringValue(s[:n] + "…")
}
