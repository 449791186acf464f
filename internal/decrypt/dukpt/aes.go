package dukpt

import (
	"crypto/aes"
	"encoding/binary"
	"fmt"
)

const (
	// AESKSNLen is the length of an AES DUKPT key serial number: the 8-byte
	// initial key ID (4-byte BDK ID, 4-byte derivation ID) and a 32-bit
	// transaction counter.
	AESKSNLen = 12
	// InitialKeyIDLen is the length of an AES DUKPT initial key ID.
	InitialKeyIDLen = 8

	aesMaxCounterOnes = 16
)

// KeyUsage is an X9.24-3 key usage indicator: what a derived AES DUKPT
// working key is for.
type KeyUsage uint16

// The X9.24-3 working key usages.
const (
	UsagePIN         KeyUsage = 0x1000 // PIN encryption
	UsageMACGenerate KeyUsage = 0x2000 // message authentication, generation
	UsageMACVerify   KeyUsage = 0x2001 // message authentication, verification
	UsageMACBoth     KeyUsage = 0x2002 // message authentication, both ways
	UsageDataEncrypt KeyUsage = 0x3000 // data encryption (ID TECH AES readers)
	UsageDataDecrypt KeyUsage = 0x3001 // data decryption
	UsageDataBoth    KeyUsage = 0x3002 // data encryption, both ways (MagTek AES readers)

	usageKeyDerivation KeyUsage = 0x8000 // intermediate derivation keys
	usageInitialKey    KeyUsage = 0x8001 // the initial key
)

func (u KeyUsage) valid() bool {
	switch u {
	case UsagePIN, UsageMACGenerate, UsageMACVerify, UsageMACBoth,
		UsageDataEncrypt, UsageDataDecrypt, UsageDataBoth:
		return true
	}
	return false
}

// aesKeyType is the X9.24-3 algorithm indicator and bit length of an AES key
// of n bytes.
func aesKeyType(n int) (algorithm, bits uint16, ok bool) {
	switch n {
	case 16:
		return 0x0002, 128, true
	case 24:
		return 0x0003, 192, true
	case 32:
		return 0x0004, 256, true
	}
	return 0, 0, false
}

// aesDerive is the X9.24-3 key derivation function: AES-ECB of the
// derivation data under key, one block per 128 bits of the derived key.
// key must be a valid AES key and outLen 16, 24 or 32.
func aesDerive(key []byte, usage KeyUsage, outLen int, tail *[8]byte) []byte {
	algorithm, bits, _ := aesKeyType(outLen)
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil // unreachable: callers pass checked keys
	}
	var data [aes.BlockSize]byte
	data[0] = 0x01 // version
	binary.BigEndian.PutUint16(data[2:], uint16(usage))
	binary.BigEndian.PutUint16(data[4:], algorithm)
	binary.BigEndian.PutUint16(data[6:], bits)
	copy(data[8:], tail[:])
	out := make([]byte, (outLen+aes.BlockSize-1)/aes.BlockSize*aes.BlockSize)
	for i := 0; i*aes.BlockSize < outLen; i++ {
		data[1] = byte(i + 1) // key block counter
		c.Encrypt(out[i*aes.BlockSize:], data[:])
	}
	return out[:outLen]
}

func checkAESBDK(bdk []byte) error {
	if _, _, ok := aesKeyType(len(bdk)); !ok {
		return fmt.Errorf("%w: AES BDK is %d bytes, want 16, 24 or 32", ErrKeyLength, len(bdk))
	}
	return nil
}

// AESInitialKey derives the AES DUKPT initial key of the device with the
// 8-byte initial key ID. The key has the BDK's size (AES-128, -192 or -256).
func AESInitialKey(bdk, initialKeyID []byte) ([]byte, error) {
	if err := checkAESBDK(bdk); err != nil {
		return nil, err
	}
	if len(initialKeyID) != InitialKeyIDLen {
		return nil, fmt.Errorf("%w: initial key ID is %d bytes, want %d", ErrKSNLength, len(initialKeyID), InitialKeyIDLen)
	}
	return aesDerive(bdk, usageInitialKey, len(bdk), (*[8]byte)(initialKeyID)), nil
}

// AESTransactionKey derives the AES DUKPT transaction (derivation) key for
// the 12-byte KSN. A zero counter is refused (ErrCounter); a counter with more
// than 16 bits set is still derived (see the package doc).
func AESTransactionKey(bdk, ksn []byte) ([]byte, error) {
	if err := checkAESBDK(bdk); err != nil {
		return nil, err
	}
	if len(ksn) != AESKSNLen {
		return nil, fmt.Errorf("%w: AES KSN is %d bytes, want %d", ErrKSNLength, len(ksn), AESKSNLen)
	}
	counter := binary.BigEndian.Uint32(ksn[InitialKeyIDLen:])
	if counter == 0 {
		return nil, fmt.Errorf("%w: counter is 0 (no device encrypts under the initial key)", ErrCounter)
	}
	key := aesDerive(bdk, usageInitialKey, len(bdk), (*[8]byte)(ksn[:InitialKeyIDLen]))
	var tail [8]byte
	copy(tail[:4], ksn[4:InitialKeyIDLen]) // derivation ID
	var working uint32
	for bit := uint32(1) << 31; bit != 0; bit >>= 1 {
		if counter&bit != 0 {
			working |= bit
			binary.BigEndian.PutUint32(tail[4:], working)
			key = aesDerive(key, usageKeyDerivation, len(key), &tail)
		}
	}
	return key, nil
}

// AESWorkingKey derives the AES-128 working key for one usage from the
// transaction key of the 12-byte KSN. The BDK may be AES-128, -192 or -256;
// the working key is AES-128 in every case, the type card readers use.
func AESWorkingKey(bdk, ksn []byte, usage KeyUsage) ([]byte, error) {
	if !usage.valid() {
		return nil, fmt.Errorf("%w: AES key usage %#04x", ErrKind, uint16(usage))
	}
	txn, err := AESTransactionKey(bdk, ksn)
	if err != nil {
		return nil, err
	}
	var tail [8]byte
	copy(tail[:], ksn[4:AESKSNLen]) // derivation ID, counter
	return aesDerive(txn, usage, 16, &tail), nil
}
