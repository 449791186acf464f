package dukpt

import (
	"crypto/des"
	"encoding/binary"
	"errors"
	"fmt"
)

// Public test keys, as hex. They are the example keys of the standards and
// the keys demo readers ship with; they protect nothing.
const (
	// TestBDK is the ANSI X9.24-1 example base derivation key (double-length
	// TDES), loaded into ID TECH demo units (KSN prefix 629949) and into the
	// MagTek manuals' worked examples (KSN prefix FFFF9876543210).
	TestBDK = "0123456789ABCDEFFEDCBA9876543210"
	// TestAESBDK128 is the ANSI X9.24-3 example AES-128 base derivation key.
	TestAESBDK128 = "FEDCBA9876543210F1F1F1F1F1F1F1F1"
)

// Errors wrapped by every failure of this package.
var (
	ErrKeyLength  = errors.New("dukpt: invalid key length")
	ErrKSNLength  = errors.New("dukpt: invalid KSN length")
	ErrCounter    = errors.New("dukpt: invalid transaction counter")
	ErrDataLength = errors.New("dukpt: data is not a whole number of cipher blocks")
	ErrKind       = errors.New("dukpt: unknown key kind")
)

const (
	// KSNLen is the length of a TDES DUKPT key serial number: 59 bits of
	// initial KSN and a 21-bit transaction counter.
	KSNLen = 10
	// TDESKeyLen is the length of TDES DUKPT keys (double-length, 2-key TDES).
	TDESKeyLen = 16

	tdesCounterBits    = 21
	tdesCounterMask    = 1<<tdesCounterBits - 1
	tdesMaxCounterOnes = 10
)

// keyMask is XORed into a key to form the second key of the DUKPT one-way
// functions (IPEK right half, NRKGP left half).
var keyMask = [TDESKeyLen]byte{0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0, 0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0}

// Variant selects one of the X9.24-1 key variants: the mask XORed into a
// transaction key to make a key for one purpose.
type Variant int

// The X9.24-1 variants.
const (
	PIN          Variant = iota + 1 // 00000000000000FF 00000000000000FF
	MACRequest                      // 000000000000FF00 000000000000FF00
	MACResponse                     // 00000000FF000000 00000000FF000000
	DataRequest                     // 0000000000FF0000 0000000000FF0000
	DataResponse                    // 000000FF00000000 000000FF00000000
)

// variantByte returns the index (within each 8-byte half) and value of the
// byte a variant sets.
func (v Variant) variantByte() (int, bool) {
	switch v {
	case PIN:
		return 7, true
	case MACRequest:
		return 6, true
	case MACResponse:
		return 4, true
	case DataRequest:
		return 5, true
	case DataResponse:
		return 3, true
	}
	return 0, false
}

// String names the variant.
func (v Variant) String() string {
	switch v {
	case PIN:
		return "PIN"
	case MACRequest:
		return "MAC request"
	case MACResponse:
		return "MAC response"
	case DataRequest:
		return "data request"
	case DataResponse:
		return "data response"
	}
	return fmt.Sprintf("Variant(%d)", int(v))
}

// IPEK derives the TDES initial PIN encryption key (initial key) of the
// device whose KSN is given; the KSN's counter bits are ignored. bdk is a
// 16-byte TDES key, ksn 10 bytes.
func IPEK(bdk, ksn []byte) ([]byte, error) {
	if len(bdk) != TDESKeyLen {
		return nil, fmt.Errorf("%w: BDK is %d bytes, want %d", ErrKeyLength, len(bdk), TDESKeyLen)
	}
	if len(ksn) != KSNLen {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrKSNLength, len(ksn), KSNLen)
	}
	ipek := ipek((*[TDESKeyLen]byte)(bdk), (*[KSNLen]byte)(ksn))
	return ipek[:], nil
}

func ipek(bdk *[TDESKeyLen]byte, ksn *[KSNLen]byte) [TDESKeyLen]byte {
	var reg [8]byte
	copy(reg[:], ksn[:8])
	reg[7] &= 0xE0 // clear the top 5 bits of the counter

	var out [TDESKeyLen]byte
	tdesEncryptBlock(bdk, out[:8], reg[:])
	masked := xor16(bdk, &keyMask)
	tdesEncryptBlock(&masked, out[8:], reg[:])
	return out
}

// TransactionKey derives the TDES DUKPT transaction key (the "current key",
// before any variant) for the KSN's transaction counter. A zero counter is
// refused (ErrCounter); a counter with more than 10 bits set, which no device
// uses, is still derived (see the package doc).
func TransactionKey(bdk, ksn []byte) ([]byte, error) {
	k, err := transactionKey(bdk, ksn)
	if err != nil {
		return nil, err
	}
	return k[:], nil
}

func transactionKey(bdk, ksn []byte) ([TDESKeyLen]byte, error) {
	if len(bdk) != TDESKeyLen {
		return [TDESKeyLen]byte{}, fmt.Errorf("%w: BDK is %d bytes, want %d", ErrKeyLength, len(bdk), TDESKeyLen)
	}
	if len(ksn) != KSNLen {
		return [TDESKeyLen]byte{}, fmt.Errorf("%w: %d bytes, want %d", ErrKSNLength, len(ksn), KSNLen)
	}
	k := (*[KSNLen]byte)(ksn)
	counter := tdesCounter(k)
	if counter == 0 {
		return [TDESKeyLen]byte{}, fmt.Errorf("%w: counter is 0 (no device encrypts under the initial key)", ErrCounter)
	}
	key := ipek((*[TDESKeyLen]byte)(bdk), k)
	// The right 64 bits of the KSN with the counter cleared; each set counter
	// bit, from the highest, is added to it and the key moved one step on.
	reg := binary.BigEndian.Uint64(ksn[2:]) &^ tdesCounterMask
	for bit := uint32(1) << (tdesCounterBits - 1); bit != 0; bit >>= 1 {
		if counter&bit != 0 {
			reg |= uint64(bit)
			key = nrkgp(&key, reg)
		}
	}
	return key, nil
}

// nrkgp is the X9.24-1 non-reversible key generation process: it derives the
// next key from key and the KSN register.
func nrkgp(key *[TDESKeyLen]byte, reg uint64) [TDESKeyLen]byte {
	var r [8]byte
	binary.BigEndian.PutUint64(r[:], reg)
	var out [TDESKeyLen]byte
	desOneWay(key, out[8:], &r)
	masked := xor16(key, &keyMask)
	desOneWay(&masked, out[:8], &r)
	return out
}

// desOneWay writes DES(key.left, r XOR key.right) XOR key.right to dst.
func desOneWay(key *[TDESKeyLen]byte, dst []byte, r *[8]byte) {
	c, _ := des.NewCipher(key[:8]) // 8 bytes: cannot fail
	var in [8]byte
	for i := range in {
		in[i] = r[i] ^ key[8+i]
	}
	c.Encrypt(dst, in[:])
	for i := range 8 {
		dst[i] ^= key[8+i]
	}
}

// ApplyVariant returns key XOR the variant mask. key is a 16-byte TDES
// transaction key.
func ApplyVariant(key []byte, v Variant) ([]byte, error) {
	if len(key) != TDESKeyLen {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrKeyLength, len(key), TDESKeyLen)
	}
	i, ok := v.variantByte()
	if !ok {
		return nil, fmt.Errorf("%w: variant %d", ErrKind, int(v))
	}
	out := append([]byte(nil), key...)
	out[i] ^= 0xFF
	out[8+i] ^= 0xFF
	return out, nil
}

// DataKey derives the request data-encryption key from a TDES transaction
// key: V = key XOR the data-request variant, then V.left and V.right are each
// TDES-encrypted under V ("encrypt itself"). ID TECH readers encrypt track
// data with it.
func DataKey(txnKey []byte) ([]byte, error) {
	v, err := ApplyVariant(txnKey, DataRequest)
	if err != nil {
		return nil, err
	}
	vk := (*[TDESKeyLen]byte)(v)
	out := make([]byte, TDESKeyLen)
	tdesEncryptBlock(vk, out[:8], v[:8])
	tdesEncryptBlock(vk, out[8:], v[8:])
	return out, nil
}

// TrackKeyKind says which key derived from the transaction key a reader
// encrypts track data with.
type TrackKeyKind int

// The track keys readers use.
const (
	// TrackDataKey is the data key (DataKey): ID TECH readers, e_format
	// idtech and ksn, and MagTek readers set to the data variant.
	TrackDataKey TrackKeyKind = iota + 1
	// TrackPINKey is the plain PIN variant: MagTek MagneSafe V5 readers,
	// e_format magnesafe and ksnpin.
	TrackPINKey
)

// String names the kind.
func (k TrackKeyKind) String() string {
	switch k {
	case TrackDataKey:
		return "data key"
	case TrackPINKey:
		return "PIN variant"
	}
	return fmt.Sprintf("TrackKeyKind(%d)", int(k))
}

// TrackKeyKindForFormat returns the key kind of a gateway e_format value:
// idtech and ksn use the data key, magnesafe and ksnpin the PIN variant
// (verified on the seed samples, card-formats.md §9).
func TrackKeyKindForFormat(eFormat string) (TrackKeyKind, error) {
	switch eFormat {
	case "idtech", "ksn":
		return TrackDataKey, nil
	case "magnesafe", "ksnpin":
		return TrackPINKey, nil
	}
	return 0, fmt.Errorf("%w: e_format %q", ErrKind, eFormat)
}

// TrackKey derives the TDES key a reader with the given BDK used to encrypt
// track data under ksn.
func TrackKey(bdk, ksn []byte, kind TrackKeyKind) ([]byte, error) {
	if kind != TrackDataKey && kind != TrackPINKey {
		return nil, fmt.Errorf("%w: %v", ErrKind, kind)
	}
	txn, err := TransactionKey(bdk, ksn)
	if err != nil {
		return nil, err
	}
	if kind == TrackDataKey {
		return DataKey(txn)
	}
	return ApplyVariant(txn, PIN)
}

// tdesEncryptBlock encrypts one 8-byte block with a 2-key TDES key (EDE,
// K1 K2 K1).
func tdesEncryptBlock(key *[TDESKeyLen]byte, dst, src []byte) {
	var k [24]byte
	copy(k[:], key[:])
	copy(k[16:], key[:8])
	c, _ := des.NewTripleDESCipher(k[:]) // 24 bytes: cannot fail
	c.Encrypt(dst, src)
}

func xor16(a, b *[TDESKeyLen]byte) [TDESKeyLen]byte {
	var out [TDESKeyLen]byte
	for i := range out {
		out[i] = a[i] ^ b[i]
	}
	return out
}
