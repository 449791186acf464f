package dukpt

import "testing"

// BenchmarkTDESDataKey measures what the sandbox does per ID TECH read:
// derive the transaction key (counter 0x0FFC00, 10 bits set: the worst case)
// and then the data key.
func BenchmarkTDESDataKey(b *testing.B) {
	bdk, ksn := mustHex(TestBDK), mustHex("FFFF9876543210EFFC00")
	b.ReportAllocs()
	for b.Loop() {
		txn, err := TransactionKey(bdk, ksn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DataKey(txn); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAESWorkingKey measures an AES-128 working key for a counter with
// 16 bits set (the worst case).
func BenchmarkAESWorkingKey(b *testing.B) {
	bdk, ksn := mustHex(TestAESBDK128), mustHex("1234567890123456FFFF0000")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AESWorkingKey(bdk, ksn, UsageDataBoth); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptTDESCBC measures decrypting a 72-byte track 1.
func BenchmarkDecryptTDESCBC(b *testing.B) {
	key, data := mustHex(TestBDK), make([]byte, 72)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecryptTDESCBC(key, data); err != nil {
			b.Fatal(err)
		}
	}
}
