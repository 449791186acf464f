package dukpt

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzTDES feeds arbitrary BDKs, KSNs and kinds to the TDES derivations and
// the KSN helpers: none may panic, and what succeeds must be consistent.
func FuzzTDES(f *testing.F) {
	f.Add(mustHex(TestBDK), mustHex("FFFF9876543210E00001"), 1)
	f.Add(mustHex(TestBDK), mustHex("62994900730004200002"), 2)
	f.Add(mustHex(TestBDK), mustHex("FFFF9876543210FFFFFF"), 1)
	f.Add(mustHex(TestBDK), mustHex("FFFF9876543210E00000"), 2)
	f.Add(mustHex(TestBDK)[:8], mustHex("FFFF9876543210E00001"), 3)
	f.Add([]byte{}, []byte{}, 0)
	f.Fuzz(func(t *testing.T, bdk, ksn []byte, kind int) {
		ipek, err := IPEK(bdk, ksn)
		if err == nil && len(ipek) != TDESKeyLen {
			t.Fatalf("IPEK length %d", len(ipek))
		}
		txn, err := TransactionKey(bdk, ksn)
		if err == nil {
			if len(txn) != TDESKeyLen {
				t.Fatalf("TransactionKey length %d", len(txn))
			}
			data, err := DataKey(txn)
			if err != nil {
				t.Fatalf("DataKey of a transaction key: %v", err)
			}
			tk, err := TrackKey(bdk, ksn, TrackDataKey)
			if err != nil || !bytes.Equal(tk, data) {
				t.Fatalf("TrackKey(data) = %X, %v; DataKey = %X", tk, err, data)
			}
		}
		_, _ = TrackKey(bdk, ksn, TrackKeyKind(kind))
		_, _ = ApplyVariant(bdk, Variant(kind))
		_, _ = DataKey(bdk)
		_, _ = Counter(ksn)
		_ = ValidDeviceKSN(ksn)
		if next, err := NextKSN(ksn); err == nil {
			c0, _ := Counter(ksn)
			c1, err := Counter(next)
			if err != nil || c1 <= c0 || !sameDevice(ksn, next) {
				t.Fatalf("NextKSN(%X) = %X (counter %#x -> %#x, %v)", ksn, next, c0, c1, err)
			}
		}
	})
}

// FuzzAES feeds arbitrary BDKs, KSNs and usages to the AES DUKPT
// derivations.
func FuzzAES(f *testing.F) {
	f.Add(mustHex(TestAESBDK128), mustHex("123456789012345600000001"), uint16(UsageDataEncrypt))
	f.Add(mustHex(TestAESBDK128), mustHex("A1170005BE0010A00000000B"), uint16(UsageDataBoth))
	f.Add(mustHex(TestAESBDK128+TestAESBDK128), mustHex("1234567890123456FFFF0000"), uint16(UsagePIN))
	f.Add(mustHex(TestAESBDK128)[:12], mustHex("123456789012345600000000"), uint16(0))
	f.Add([]byte{}, []byte{}, uint16(0x8001))
	f.Fuzz(func(t *testing.T, bdk, ksn []byte, usage uint16) {
		if len(ksn) >= InitialKeyIDLen {
			ik, err := AESInitialKey(bdk, ksn[:InitialKeyIDLen])
			if err == nil && len(ik) != len(bdk) {
				t.Fatalf("AESInitialKey length %d for a %d-byte BDK", len(ik), len(bdk))
			}
		}
		_, _ = AESInitialKey(bdk, ksn)
		txn, err := AESTransactionKey(bdk, ksn)
		if err == nil && len(txn) != len(bdk) {
			t.Fatalf("AESTransactionKey length %d for a %d-byte BDK", len(txn), len(bdk))
		}
		wk, err := AESWorkingKey(bdk, ksn, KeyUsage(usage))
		if err == nil && len(wk) != 16 {
			t.Fatalf("AESWorkingKey length %d", len(wk))
		}
	})
}

// FuzzCBC feeds arbitrary keys and data to the four ciphers: none may panic,
// and whatever encrypts must decrypt back.
func FuzzCBC(f *testing.F) {
	f.Add(mustHex(TestBDK), mustHex("041274EDCBA9876F"))
	f.Add(mustHex(TestAESBDK128), make([]byte, 32))
	f.Add(make([]byte, 24), make([]byte, 7))
	f.Add(make([]byte, 32), make([]byte, 48))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, key, data []byte) {
		for _, c := range []struct {
			name     string
			enc, dec func(key, data []byte) ([]byte, error)
		}{
			{"TDES", EncryptTDESCBC, DecryptTDESCBC},
			{"AES", EncryptAESCBC, DecryptAESCBC},
		} {
			_, _ = c.dec(key, data)
			enc, err := c.enc(key, data)
			if err != nil {
				continue
			}
			dec, err := c.dec(key, enc)
			if err != nil || !bytes.Equal(dec, data) {
				t.Fatalf("%s round trip: %X -> %X -> %X, %v", c.name, data, enc, dec, err)
			}
		}
	})
}

// sameDevice reports whether two KSNs of the same length differ in their
// counters only.
func sameDevice(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == AESKSNLen {
		return bytes.Equal(a[:InitialKeyIDLen], b[:InitialKeyIDLen])
	}
	return bytes.Equal(a[:7], b[:7]) && a[7]&0xE0 == b[7]&0xE0
}
