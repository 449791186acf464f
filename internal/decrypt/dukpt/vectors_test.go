package dukpt

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// vectors is the part of testdata/vectors.json (a copy of
// shared/reference/vectors.json) these tests read.
type vectors struct {
	TDES struct {
		BDK        string `json:"bdk"`
		InitialKSN string `json:"initial_ksn"`
		IPEK       string `json:"ipek"`
		Keys       []struct {
			KSN    string `json:"ksn"`
			Txn    string `json:"txn"`
			PIN    string `json:"pin"`
			MACReq string `json:"mac_req"`
			Data   string `json:"data"`
		} `json:"keys"`
		PINBlockCtr1 struct {
			Clear     string `json:"clear_iso0"`
			Encrypted string `json:"encrypted"`
		} `json:"pin_block_ctr1"`
	} `json:"tdes_dukpt"`
	AES struct {
		BDK          string `json:"bdk"`
		InitialKeyID string `json:"initial_key_id"`
		InitialKey   string `json:"initial_key"`
		Keys         []struct {
			KSN         string `json:"ksn"`
			Txn         string `json:"txn"`
			PIN         string `json:"pin_1000"`
			MACGen      string `json:"macgen_2000"`
			DataEncrypt string `json:"data_enc_3000"`
		} `json:"keys"`
	} `json:"aes128_dukpt"`
	MagTekKB struct {
		KSN          string `json:"ksn"`
		Key          string `json:"key"`
		T1Enc        string `json:"t1_enc"`
		T1Plain      string `json:"t1_plain"`
		T2Enc        string `json:"t2_enc"`
		T2Plain      string `json:"t2_plain"`
		T3Enc        string `json:"t3_enc"`
		T3Plain      string `json:"t3_plain"`
		SessionEnc   string `json:"session_id_enc"`
		SessionPlain string `json:"session_id_plain"`
	} `json:"magtek_kb_sample"`
	IDTechOriginal struct {
		FrameHex    string `json:"frame_hex"`
		KSN         string `json:"ksn"`
		PlainPrefix string `json:"t1t2_plain_prefix"`
	} `json:"idtech_original_binary_sample"`
	IDTechKB struct {
		Text    string `json:"text"`
		T1Len   int    `json:"t1_len"`
		T2Len   int    `json:"t2_len"`
		T1Enc   string `json:"t1_enc"`
		T2Enc   string `json:"t2_enc"`
		T1SHA1  string `json:"t1_sha1"`
		T2SHA1  string `json:"t2_sha1"`
		KSN     string `json:"ksn"`
		T1Plain string `json:"t1_plain"`
		T2Plain string `json:"t2_plain"`
	} `json:"idtech_enhanced_keyboard_sample"`
}

// sequences is testdata/x924_sequences.json: the published X9.24 sequences
// of consecutive device KSNs.
type sequences struct {
	TDES struct {
		BDK           string `json:"bdk"`
		PINBlockClear string `json:"pin_block_clear"`
		Sequences     [][]struct {
			KSN      string `json:"ksn"`
			Txn      string `json:"txn"`
			PINBlock string `json:"pin_block"`
		} `json:"sequences"`
	} `json:"tdes"`
	AES128 aesSequences `json:"aes128"`
	AES256 aesSequences `json:"aes256"`
}

type aesSequences struct {
	BDK          string `json:"bdk"`
	InitialKeyID string `json:"initial_key_id"`
	InitialKey   string `json:"initial_key"`
	Sequences    [][]struct {
		KSN string `json:"ksn"`
		Txn string `json:"txn"`
	} `json:"sequences"`
}

func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func loadVectors(t testing.TB) vectors {
	var v vectors
	loadJSON(t, "vectors.json", &v)
	if len(v.TDES.Keys) == 0 || len(v.AES.Keys) == 0 {
		t.Fatal("vectors.json: no key vectors found (format changed?)")
	}
	return v
}

// unhex decodes a hex string of the test data, failing the test on bad hex.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func checkKey(t *testing.T, what string, got []byte, err error, want string) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if g := hex.EncodeToString(got); !bytes.EqualFold([]byte(g), []byte(want)) {
		t.Errorf("%s = %X, want %s", what, got, want)
	}
}

func TestTDESVectors(t *testing.T) {
	v := loadVectors(t)
	bdk := unhex(t, v.TDES.BDK)
	if v.TDES.BDK != TestBDK {
		t.Errorf("vectors use BDK %s, TestBDK is %s", v.TDES.BDK, TestBDK)
	}
	ipek, err := IPEK(bdk, unhex(t, v.TDES.InitialKSN))
	checkKey(t, "IPEK", ipek, err, v.TDES.IPEK)

	for _, k := range v.TDES.Keys {
		t.Run(k.KSN, func(t *testing.T) {
			ksn := unhex(t, k.KSN)
			// The IPEK ignores the counter.
			ipek, err := IPEK(bdk, ksn)
			checkKey(t, "IPEK", ipek, err, v.TDES.IPEK)

			txn, err := TransactionKey(bdk, ksn)
			checkKey(t, "TransactionKey", txn, err, k.Txn)
			if err != nil {
				return
			}
			pin, err := ApplyVariant(txn, PIN)
			checkKey(t, "PIN variant", pin, err, k.PIN)
			mac, err := ApplyVariant(txn, MACRequest)
			checkKey(t, "MAC request variant", mac, err, k.MACReq)
			data, err := DataKey(txn)
			checkKey(t, "DataKey", data, err, k.Data)

			tk, err := TrackKey(bdk, ksn, TrackDataKey)
			checkKey(t, "TrackKey(data)", tk, err, k.Data)
			tk, err = TrackKey(bdk, ksn, TrackPINKey)
			checkKey(t, "TrackKey(PIN)", tk, err, k.PIN)
		})
	}
}

// TestVariants checks every variant mask against card-formats.md §4.1 on an
// all-zero key, where the result is the mask itself.
func TestVariants(t *testing.T) {
	for _, tc := range []struct {
		v    Variant
		mask string
	}{
		{PIN, "00000000000000FF00000000000000FF"},
		{MACRequest, "000000000000FF00000000000000FF00"},
		{MACResponse, "00000000FF00000000000000FF000000"},
		{DataRequest, "0000000000FF00000000000000FF0000"},
		{DataResponse, "000000FF00000000000000FF00000000"},
	} {
		got, err := ApplyVariant(make([]byte, 16), tc.v)
		checkKey(t, tc.v.String(), got, err, tc.mask)
	}
	if _, err := ApplyVariant(make([]byte, 16), Variant(0)); !errors.Is(err, ErrKind) {
		t.Errorf("ApplyVariant(Variant(0)) error = %v, want ErrKind", err)
	}
	// The caller's key is not modified.
	key := unhex(t, "042666B49184CFA368DE9628D0397BC9")
	if _, err := ApplyVariant(key, PIN); err != nil || hex.EncodeToString(key) != "042666b49184cfa368de9628d0397bc9" {
		t.Errorf("ApplyVariant modified its input: %X, %v", key, err)
	}
}

// TestPINBlock encrypts the published ISO-0 PIN block with the PIN key of
// counter 1 (one block of CBC with a zero IV is ECB).
func TestPINBlock(t *testing.T) {
	v := loadVectors(t)
	pinKey, err := TrackKey(unhex(t, v.TDES.BDK), unhex(t, v.TDES.Keys[0].KSN), TrackPINKey)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncryptTDESCBC(pinKey, unhex(t, v.TDES.PINBlockCtr1.Clear))
	checkKey(t, "encrypted PIN block", enc, err, v.TDES.PINBlockCtr1.Encrypted)
	if want := "1B9C1845EB993A7A"; v.TDES.PINBlockCtr1.Encrypted != want {
		t.Errorf("vectors.json PIN block = %s, want the published %s", v.TDES.PINBlockCtr1.Encrypted, want)
	}
	dec, err := DecryptTDESCBC(pinKey, enc)
	checkKey(t, "decrypted PIN block", dec, err, v.TDES.PINBlockCtr1.Clear)
}

// TestTDESSequences runs the published X9.24-1 initial and rollover
// sequences: every transaction key and PIN block, and NextKSN stepping from
// each KSN to the next one the standard lists (skipping counters with more
// than 10 bits set).
func TestTDESSequences(t *testing.T) {
	var s sequences
	loadJSON(t, "x924_sequences.json", &s)
	bdk := unhex(t, s.TDES.BDK)
	clear := unhex(t, s.TDES.PINBlockClear)
	if len(s.TDES.Sequences) != 2 {
		t.Fatalf("want 2 TDES sequences, have %d", len(s.TDES.Sequences))
	}
	for _, seq := range s.TDES.Sequences {
		for i, k := range seq {
			ksn := unhex(t, k.KSN)
			if !ValidDeviceKSN(ksn) {
				t.Errorf("ValidDeviceKSN(%s) = false", k.KSN)
			}
			txn, err := TransactionKey(bdk, ksn)
			checkKey(t, "TransactionKey("+k.KSN+")", txn, err, k.Txn)
			pinKey, err := TrackKey(bdk, ksn, TrackPINKey)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := EncryptTDESCBC(pinKey, clear)
			checkKey(t, "PIN block("+k.KSN+")", enc, err, k.PINBlock)
			if i+1 < len(seq) {
				next, err := NextKSN(ksn)
				checkKey(t, "NextKSN("+k.KSN+")", next, err, seq[i+1].KSN)
			}
		}
	}
}

func TestAESVectors(t *testing.T) {
	v := loadVectors(t)
	bdk := unhex(t, v.AES.BDK)
	if v.AES.BDK != TestAESBDK128 {
		t.Errorf("vectors use AES BDK %s, TestAESBDK128 is %s", v.AES.BDK, TestAESBDK128)
	}
	ik, err := AESInitialKey(bdk, unhex(t, v.AES.InitialKeyID))
	checkKey(t, "AESInitialKey", ik, err, v.AES.InitialKey)
	for _, k := range v.AES.Keys {
		t.Run(k.KSN, func(t *testing.T) {
			ksn := unhex(t, k.KSN)
			txn, err := AESTransactionKey(bdk, ksn)
			checkKey(t, "AESTransactionKey", txn, err, k.Txn)
			for _, w := range []struct {
				usage KeyUsage
				want  string
			}{
				{UsagePIN, k.PIN},
				{UsageMACGenerate, k.MACGen},
				{UsageDataEncrypt, k.DataEncrypt},
			} {
				got, err := AESWorkingKey(bdk, ksn, w.usage)
				checkKey(t, "AESWorkingKey "+hex.EncodeToString([]byte{byte(w.usage >> 8), byte(w.usage)}), got, err, w.want)
			}
		})
	}
}

// TestAESSequences runs the published X9.24-3 sequences for the AES-128 and
// AES-256 BDKs: initial key, transaction keys, and NextKSN (which skips
// 0x1FFFF, a counter with 17 bits set, and stops after 0xFFFF0000).
func TestAESSequences(t *testing.T) {
	var s sequences
	loadJSON(t, "x924_sequences.json", &s)
	for name, a := range map[string]aesSequences{"AES-128": s.AES128, "AES-256": s.AES256} {
		t.Run(name, func(t *testing.T) {
			bdk := unhex(t, a.BDK)
			ik, err := AESInitialKey(bdk, unhex(t, a.InitialKeyID))
			checkKey(t, "AESInitialKey", ik, err, a.InitialKey)
			if len(a.Sequences) != 3 {
				t.Fatalf("want 3 sequences, have %d", len(a.Sequences))
			}
			for si, seq := range a.Sequences {
				for i, k := range seq {
					ksn := unhex(t, k.KSN)
					if !ValidDeviceKSN(ksn) {
						t.Errorf("ValidDeviceKSN(%s) = false", k.KSN)
					}
					txn, err := AESTransactionKey(bdk, ksn)
					checkKey(t, "AESTransactionKey("+k.KSN+")", txn, err, k.Txn)
					next, err := NextKSN(ksn)
					switch {
					case i+1 < len(seq):
						checkKey(t, "NextKSN("+k.KSN+")", next, err, seq[i+1].KSN)
					case si == len(a.Sequences)-1:
						if !errors.Is(err, ErrCounter) {
							t.Errorf("NextKSN(last KSN %s) = %X, %v; want ErrCounter", k.KSN, next, err)
						}
					}
				}
			}
		})
	}
}

func TestCounter(t *testing.T) {
	for _, tc := range []struct {
		ksn   string
		want  uint32
		valid bool
	}{
		{"FFFF9876543210E00008", 8, true},
		{"62994900730004200002", 2, true},
		{"62994901190000000001", 1, true},
		{"FFFF9876543210E00000", 0, false},              // initial KSN
		{"FFFF9876543210FFFFFF", 0x1FFFFF, false},       // 21 bits set
		{"FFFF9876543210EFFC00", 0x0FFC00, true},        // 10 bits set
		{"FFFF9876543210EFFC01", 0x0FFC01, false},       // 11 bits set
		{"A1170005BE0010A00000000B", 0x0B, true},        // MagTek AES KSN
		{"12345678901234560001FFFF", 0x1FFFF, false},    // 17 bits set
		{"1234567890123456FFFF0000", 0xFFFF0000, true},  // 16 bits set
		{"123456789012345600000000", 0, false},          // initial KSN
		{"1234567890123456FFFFFFFF", 0xFFFFFFFF, false}, // 32 bits set
	} {
		ksn := unhex(t, tc.ksn)
		got, err := Counter(ksn)
		if err != nil || got != tc.want {
			t.Errorf("Counter(%s) = %#x, %v; want %#x", tc.ksn, got, err, tc.want)
		}
		if v := ValidDeviceKSN(ksn); v != tc.valid {
			t.Errorf("ValidDeviceKSN(%s) = %v, want %v", tc.ksn, v, tc.valid)
		}
	}
}

// TestNextKSN covers the steps the published sequences do not: the start
// from an initial KSN, leaving the counter's neighbours alone, and the end of
// a TDES device's life.
func TestNextKSN(t *testing.T) {
	for _, tc := range []struct{ ksn, want string }{
		{"62994900730004200000", "62994900730004200001"},
		{"FFFF9876543210E00000", "FFFF9876543210E00001"},
		{"FFFF9876543210E000FF", "FFFF9876543210E00100"},
		{"FFFF9876543210EFFC00", "FFFF9876543210F00000"}, // 10 bits set: add the lowest
		{"FFFF9876543210FFFFFF", ""},                     // counter exhausted
		{"FFFF9876543210FFE000", "FFFF9876543210FFE001"}, // 8 bits set
		{"FFFF9876543210FFF800", ""},                     // 10 bits set, next is 0x200000: exhausted
		{"123456789012345600000000", "123456789012345600000001"},
		{"1234567890123456FFFFFFFF", ""},
	} {
		got, err := NextKSN(unhex(t, tc.ksn))
		if tc.want == "" {
			if !errors.Is(err, ErrCounter) {
				t.Errorf("NextKSN(%s) = %X, %v; want ErrCounter", tc.ksn, got, err)
			}
			continue
		}
		checkKey(t, "NextKSN("+tc.ksn+")", got, err, tc.want)
	}
}

// TestCounterTooManyBits documents the choice for counters no device uses: a
// TDES counter with more than 10 bits set is derived all the same, the same
// way as any other (a key per set bit).
func TestCounterTooManyBits(t *testing.T) {
	bdk := unhex(t, TestBDK)
	ksn := unhex(t, "FFFF9876543210E007FF") // 11 bits set
	if ValidDeviceKSN(ksn) {
		t.Fatal("ValidDeviceKSN accepted a counter with 11 bits set")
	}
	got, err := TransactionKey(bdk, ksn)
	if err != nil || len(got) != TDESKeyLen {
		t.Fatalf("TransactionKey(11 bits) = %X, %v; want a key", got, err)
	}
	aesKSN := unhex(t, "12345678901234560001FFFF") // 17 bits set
	gotAES, err := AESTransactionKey(unhex(t, TestAESBDK128), aesKSN)
	// X9.24-3 supplement, counter 0x1FFFF (listed there though devices skip it).
	checkKey(t, "AESTransactionKey(17 bits)", gotAES, err, "1FE368988089CDD76DA18A3458E113BA")
}
