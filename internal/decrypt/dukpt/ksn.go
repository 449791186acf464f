package dukpt

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// The KSN helpers accept both kinds of key serial number, told apart by
// length: 10 bytes for TDES DUKPT (21-bit counter, at most 10 bits set) and
// 12 bytes for AES DUKPT (32-bit counter, at most 16 bits set).

// Counter returns the transaction counter of a 10-byte TDES or 12-byte AES
// KSN.
func Counter(ksn []byte) (uint32, error) {
	switch len(ksn) {
	case KSNLen:
		return tdesCounter((*[KSNLen]byte)(ksn)), nil
	case AESKSNLen:
		return binary.BigEndian.Uint32(ksn[InitialKeyIDLen:]), nil
	}
	return 0, fmt.Errorf("%w: %d bytes, want %d (TDES) or %d (AES)", ErrKSNLength, len(ksn), KSNLen, AESKSNLen)
}

func tdesCounter(ksn *[KSNLen]byte) uint32 {
	return uint32(ksn[7]&0x1F)<<16 | uint32(ksn[8])<<8 | uint32(ksn[9])
}

// ValidDeviceKSN reports whether a device could have encrypted under ksn: its
// length is right, its counter is not zero, and the counter has no more bits
// set than the standard allows (10 for TDES, 16 for AES). Derivation accepts
// counters with too many bits; a gateway may flag them with this.
func ValidDeviceKSN(ksn []byte) bool {
	c, err := Counter(ksn)
	if err != nil || c == 0 {
		return false
	}
	return bits.OnesCount32(c) <= maxCounterOnes(len(ksn))
}

func maxCounterOnes(ksnLen int) int {
	if ksnLen == AESKSNLen {
		return aesMaxCounterOnes
	}
	return tdesMaxCounterOnes
}

// NextKSN returns the KSN a device uses after ksn: the counter moves to the
// next value with few enough bits set, as X9.24 devices step (when the
// counter already has the maximum number of bits set, its lowest set bit is
// added instead of 1). A simulated reader starts from the initial KSN
// (counter 0) and calls NextKSN before each read. It fails with ErrCounter
// when the device's keys are exhausted.
func NextKSN(ksn []byte) ([]byte, error) {
	c, err := Counter(ksn)
	if err != nil {
		return nil, err
	}
	if bits.OnesCount32(c) < maxCounterOnes(len(ksn)) {
		c++
	} else {
		c += c & -c
	}
	out := append([]byte(nil), ksn...)
	switch len(ksn) {
	case KSNLen:
		if c > tdesCounterMask {
			return nil, fmt.Errorf("%w: TDES counter exhausted", ErrCounter)
		}
		out[7] = out[7]&0xE0 | byte(c>>16)
		out[8] = byte(c >> 8)
		out[9] = byte(c)
	case AESKSNLen:
		if c == 0 { // wrapped past 2^32-1
			return nil, fmt.Errorf("%w: AES counter exhausted", ErrCounter)
		}
		binary.BigEndian.PutUint32(out[InitialKeyIDLen:], c)
	}
	return out, nil
}
