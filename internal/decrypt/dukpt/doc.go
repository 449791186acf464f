// Package dukpt derives DUKPT keys (ANSI X9.24-1 TDES DUKPT and ANSI X9.24-3
// AES DUKPT) and runs the block ciphers card readers use with them
// (TDES-CBC and AES-CBC, IV zero, whole blocks).
//
// This is the only package of posagent that may hold decryption code. The
// agent itself never decrypts: it forwards the reader's ciphertext to the
// gateway. Only these may import this package; the tests of internal/archtest
// fail for any other package whose dependencies reach it:
//
//   - internal/gateway/sandbox/... — the embedded sandbox gateway, which plays
//     the processor with the public ANSI test BDK;
//   - internal/reader/sim/... — the simulated reader, which encrypts its reads
//     with the test BDK the way a demo unit does;
//   - the composition roots cmd/posagent and internal/app/..., which wire
//     those two together;
//   - tests.
//
// # Keys used by readers
//
// TDES DUKPT readers encrypt track data with one of two keys derived from the
// transaction key for the KSN (TrackKey picks one by TrackKeyKind):
//
//   - ID TECH (e_format idtech and ksn) use the data key: the transaction key
//     XOR the data-request variant, then each half TDES-encrypted under that
//     variant key ("encrypt itself", DataKey).
//   - MagTek MagneSafe V5 (e_format magnesafe and ksnpin) use the plain PIN
//     variant of the transaction key.
//
// The tests prove both rules on the vendor samples and the four seed samples
// (shared/reference/card-formats.md §9). ID TECH readers set to AES (field 8
// bit 4 of the enhanced frame) keep TDES DUKPT and use the same 16-byte data
// key as an AES-128 key, per ID TECH's manuals (no public sample confirms it).
// MagTek AES DUKPT readers (12-byte KSN) use the AES working key with usage
// 0x3002, data both ways (AESWorkingKey, verified on a MagTek sample).
//
// # Input checks
//
// Every function checks its inputs and returns an error wrapping ErrKeyLength,
// ErrKSNLength, ErrCounter, ErrDataLength or ErrKind; none panics on any input
// (the fuzz targets check this). A KSN whose transaction counter is zero is
// refused (ErrCounter): a device never encrypts under the initial key. A
// counter with more bits set than a device may use (more than 10 for TDES,
// more than 16 for AES) is still derived: the key is well defined, and a
// host's job is to derive what the device sent rather than to police it.
// ValidDeviceKSN reports such counters for callers that want to flag them, and
// NextKSN steps a simulated device through valid counters only.
//
// TestBDK and TestAESBDK128 are the public ANSI test keys. Production BDKs
// never appear in posagent: only the gateway holds them.
package dukpt
