package dukpt

import (
	"errors"
	"testing"
)

// TestBadInput checks that every entry point refuses bad input with the
// documented error.
func TestBadInput(t *testing.T) {
	bdk16 := make([]byte, 16)
	ksn := []byte{0xFF, 0xFF, 0x98, 0x76, 0x54, 0x32, 0x10, 0xE0, 0x00, 0x01}
	ksn0 := []byte{0xFF, 0xFF, 0x98, 0x76, 0x54, 0x32, 0x10, 0xE0, 0x00, 0x00}
	aesKSN := []byte{0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0, 0, 0, 1}
	aesKSN0 := []byte{0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0, 0, 0, 0}
	wrap := func(f func() ([]byte, error)) func() error {
		return func() error { _, err := f(); return err }
	}
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"IPEK short BDK", wrap(func() ([]byte, error) { return IPEK(bdk16[:8], ksn) }), ErrKeyLength},
		{"IPEK 24-byte BDK", wrap(func() ([]byte, error) { return IPEK(make([]byte, 24), ksn) }), ErrKeyLength},
		{"IPEK short KSN", wrap(func() ([]byte, error) { return IPEK(bdk16, ksn[:8]) }), ErrKSNLength},
		{"IPEK AES KSN", wrap(func() ([]byte, error) { return IPEK(bdk16, aesKSN) }), ErrKSNLength},
		{"IPEK nil", wrap(func() ([]byte, error) { return IPEK(nil, nil) }), ErrKeyLength},
		{"TransactionKey short BDK", wrap(func() ([]byte, error) { return TransactionKey(bdk16[:15], ksn) }), ErrKeyLength},
		{"TransactionKey long KSN", wrap(func() ([]byte, error) { return TransactionKey(bdk16, append(ksn, 0)) }), ErrKSNLength},
		{"TransactionKey counter 0", wrap(func() ([]byte, error) { return TransactionKey(bdk16, ksn0) }), ErrCounter},
		{"ApplyVariant short key", wrap(func() ([]byte, error) { return ApplyVariant(bdk16[:8], PIN) }), ErrKeyLength},
		{"ApplyVariant unknown", wrap(func() ([]byte, error) { return ApplyVariant(bdk16, Variant(99)) }), ErrKind},
		{"DataKey short key", wrap(func() ([]byte, error) { return DataKey(bdk16[:1]) }), ErrKeyLength},
		{"TrackKey unknown kind", wrap(func() ([]byte, error) { return TrackKey(bdk16, ksn, 0) }), ErrKind},
		{"TrackKey counter 0", wrap(func() ([]byte, error) { return TrackKey(bdk16, ksn0, TrackPINKey) }), ErrCounter},
		{"AESInitialKey 8-byte BDK", wrap(func() ([]byte, error) { return AESInitialKey(bdk16[:8], aesKSN[:8]) }), ErrKeyLength},
		{"AESInitialKey short ID", wrap(func() ([]byte, error) { return AESInitialKey(bdk16, aesKSN[:7]) }), ErrKSNLength},
		{"AESTransactionKey TDES KSN", wrap(func() ([]byte, error) { return AESTransactionKey(bdk16, ksn) }), ErrKSNLength},
		{"AESTransactionKey counter 0", wrap(func() ([]byte, error) { return AESTransactionKey(bdk16, aesKSN0) }), ErrCounter},
		{"AESTransactionKey 20-byte BDK", wrap(func() ([]byte, error) { return AESTransactionKey(make([]byte, 20), aesKSN) }), ErrKeyLength},
		{"AESWorkingKey unknown usage", wrap(func() ([]byte, error) { return AESWorkingKey(bdk16, aesKSN, 0x8000) }), ErrKind},
		{"AESWorkingKey counter 0", wrap(func() ([]byte, error) { return AESWorkingKey(bdk16, aesKSN0, UsagePIN) }), ErrCounter},
		{"EncryptTDESCBC 8-byte key", wrap(func() ([]byte, error) { return EncryptTDESCBC(bdk16[:8], bdk16) }), ErrKeyLength},
		{"DecryptTDESCBC partial block", wrap(func() ([]byte, error) { return DecryptTDESCBC(bdk16, bdk16[:7]) }), ErrDataLength},
		{"EncryptAESCBC 15-byte key", wrap(func() ([]byte, error) { return EncryptAESCBC(bdk16[:15], bdk16) }), ErrKeyLength},
		{"DecryptAESCBC 8 bytes", wrap(func() ([]byte, error) { return DecryptAESCBC(bdk16, bdk16[:8]) }), ErrDataLength},
		{"Counter 11 bytes", func() error { _, err := Counter(make([]byte, 11)); return err }, ErrKSNLength},
		{"NextKSN nil", wrap(func() ([]byte, error) { return NextKSN(nil) }), ErrKSNLength},
	} {
		if err := tc.call(); !errors.Is(err, tc.want) {
			t.Errorf("%s: error = %v, want %v", tc.name, err, tc.want)
		}
	}
	if ValidDeviceKSN(nil) {
		t.Error("ValidDeviceKSN(nil) = true")
	}
}

// TestEmptyData: zero blocks are a whole number of blocks.
func TestEmptyData(t *testing.T) {
	for name, f := range map[string]func(key, data []byte) ([]byte, error){
		"EncryptTDESCBC": EncryptTDESCBC, "DecryptTDESCBC": DecryptTDESCBC,
		"EncryptAESCBC": EncryptAESCBC, "DecryptAESCBC": DecryptAESCBC,
	} {
		if out, err := f(make([]byte, 16), nil); err != nil || len(out) != 0 {
			t.Errorf("%s(empty) = %X, %v", name, out, err)
		}
	}
}
