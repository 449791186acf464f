package emv

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestCVMText(t *testing.T) {
	tests := []struct {
		in        string
		want      string
		signature bool
	}{
		{"5E0300", CVMSignature, true},             // VP3300/Augusta: 5E & 3F = 1E signature, result unknown
		{"1E0300", CVMSignature, true},             // without the "apply next" bit
		{"1E0302", CVMSignature, true},             //
		{"1F0302", CVMNoCVMRequired, false},        // NEO2 Mastercard contactless
		{"1F0000", CVMNoCVMRequired, false},        //
		{"3F0000", CVMNoCVMPerformed, false},       // no CVM performed, any result
		{"3F0001", CVMNoCVMPerformed, false},       // 3F wins over "failed"
		{"7F0002", CVMNoCVMPerformed, false},       // 7F & 3F = 3F
		{"420300", CVMPINVerified, false},          // 02 online PIN: issuer verifies, result 00
		{"020302", CVMPINVerified, false},          //
		{"410302", CVMPINVerified, false},          // 01 plaintext offline PIN, successful
		{"440302", CVMPINVerified, false},          // 04 enciphered offline PIN, successful
		{"010300", CVMOfflinePINUnverified, false}, // offline PIN, result unknown
		{"430302", CVMPINAndSignature, true},       // 03 plaintext PIN + signature
		{"050302", CVMPINAndSignature, true},       // 05 enciphered PIN + signature
		{"410301", CVMFailed, false},               // offline PIN failed
		{"5E0301", CVMFailed, false},               // signature "failed"
		{"000000", CVMFailed, false},               // 00 fail CVM processing
		{"400001", CVMFailed, false},               //
		{"060302", CVMBiometric, false},            // EMV 4.4 biometrics 06–0F
		{"0F0300", CVMBiometric, false},            //
		{"200300", CVMUnknown, false},              // unassigned method
		{"5E03", "", false},                        // wrong length
		{"", "", false},                            //
		{"5E030000", "", false},                    //
	}
	for _, tc := range tests {
		b := hx(tc.in)
		if got := CVMText(b); got != tc.want {
			t.Errorf("CVMText(%s) = %q, want %q", tc.in, got, tc.want)
		}
		if got := CVMNeedsSignature(b); got != tc.signature {
			t.Errorf("CVMNeedsSignature(%s) = %v, want %v", tc.in, got, tc.signature)
		}
	}
}

func TestCryptogramType(t *testing.T) {
	tests := []struct {
		cid  byte
		want string
	}{
		{0x00, "AAC"}, {0x3F, "AAC"}, {0x40, "TC"}, {0x41, "TC"}, {0x80, "ARQC"}, {0x88, "ARQC"}, {0xC0, ""}, {0xFF, ""},
	}
	for _, tc := range tests {
		if got := CryptogramType(tc.cid); got != tc.want {
			t.Errorf("CryptogramType(%02X) = %q, want %q", tc.cid, got, tc.want)
		}
	}
}

func TestReceiptFrom(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Receipt
	}{
		{"empty", "", Receipt{}},
		{"AID from 4F first", "9F06 02 AAAA 84 02 BBBB 4F 02 a00c", Receipt{AID: "A00C"}},
		{"AID from 84 without 4F", "9F06 02 AAAA 84 02 bbbb", Receipt{AID: "BBBB"}},
		{"AID from 9F06 last", "9F06 02 aaaa", Receipt{AID: "AAAA"}},
		{"empty 4F falls back", "4F 00 84 01 0B", Receipt{AID: "0B"}},
		{"TC approved offline", "9F26 08 0102030405060708 9F27 01 40", Receipt{TC: "0102030405060708", CryptogramType: "TC"}},
		{"AAC", "9F27 01 00 9F26 02 ABCD", Receipt{TC: "ABCD", CryptogramType: "AAC"}},
		{"labels sanitized", "50 0A 56495341 00 1B 0A 43 52 FF 9F12 03 20 41 20",
			Receipt{APPLAB: "VISA???CR?", APPN: "A"}},
		{"nested in a template", "77 16 95 05 0000008000 9B 02 E800 9F36 02 0001 9F34 03 420300",
			Receipt{TVR: "0000008000", TSI: "E800", ATC: "0001", CVM: CVMPINVerified}},
		{"first copy wins", "9F36 02 0001 9F36 02 0002", Receipt{ATC: "0001"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tree, _, err := Decode(hx(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := ReceiptFrom(tree); got != tc.want {
				t.Errorf("ReceiptFrom = %+v, want %+v", got, tc.want)
			}
			if got, err := ReceiptFromBytes(hx(tc.in)); err != nil || got != tc.want {
				t.Errorf("ReceiptFromBytes = %+v, %v, want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := ReceiptFromBytes(hx("70 80 00 00")); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReceiptFromBytes of bad input: %v", err)
	}
}

// The card package converts with card.Receipt(r): the field list must stay
// exactly this, in this order, all strings.
func TestReceiptLayout(t *testing.T) {
	want := []string{"TC", "TVR", "AID", "TSI", "ATC", "APPLAB", "APPN", "CVM", "CryptogramType"}
	rt := reflect.TypeOf(Receipt{})
	if rt.NumField() != len(want) {
		t.Fatalf("Receipt has %d fields, want %d", rt.NumField(), len(want))
	}
	for i, name := range want {
		f := rt.Field(i)
		if f.Name != name || f.Type.Kind() != reflect.String {
			t.Errorf("field %d = %s %s, want %s string", i, f.Name, f.Type, name)
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"VISA CREDIT", "VISA CREDIT"},
		{"  Debit  ", "Debit"},
		{"A\x00B\x7fC\xe9", "A?B?C?"},
		{"\n\r\t", "???"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Text([]byte(tc.in)); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEntryModeFrom9F39(t *testing.T) {
	tests := []struct {
		in   byte
		want string
		ok   bool
	}{
		{0x05, "C", true}, {0x07, "P", true}, {0x91, "P", true}, {0x80, "F", true},
		{0x90, "S", true}, {0x02, "S", true}, {0x01, "K", true},
		{0x00, "", false}, {0x10, "", false}, {0x95, "", false}, {0x06, "", false}, {0xFF, "", false},
	}
	for _, tc := range tests {
		got, ok := EntryModeFrom9F39(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("EntryModeFrom9F39(%02X) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAmountN12(t *testing.T) {
	tests := []struct {
		cents   int64
		want    string
		wantErr bool
	}{
		{0, "000000000000", false},
		{1, "000000000001", false},
		{200, "000000000200", false}, // ID TECH script: 02 01 1E 9F02 06 000000000200
		{1250, "000000001250", false},
		{123456789012, "123456789012", false},
		{MaxN12, "999999999999", false},
		{MaxN12 + 1, "", true},
		{-1, "", true},
	}
	for _, tc := range tests {
		got, err := AmountN12(tc.cents)
		if (err != nil) != tc.wantErr {
			t.Errorf("AmountN12(%d) error %v, want error %v", tc.cents, err, tc.wantErr)
			continue
		}
		if tc.wantErr {
			if !errors.Is(err, ErrAmount) {
				t.Errorf("AmountN12(%d) error %v does not wrap ErrAmount", tc.cents, err)
			}
			continue
		}
		if !bytes.Equal(got, hx(tc.want)) {
			t.Errorf("AmountN12(%d) = %X, want %s", tc.cents, got, tc.want)
		}
		back, err := ParseN12(got)
		if err != nil || back != tc.cents {
			t.Errorf("ParseN12(%X) = %d, %v; want %d", got, back, err, tc.cents)
		}
	}
	for _, bad := range []string{"00000000001A", "0000000000", "F00000000000", "00000000000000"} {
		if _, err := ParseN12(hx(bad)); !errors.Is(err, ErrAmount) {
			t.Errorf("ParseN12(%s) error %v, want ErrAmount", bad, err)
		}
	}
}
