package emv

import (
	"encoding/hex"
	"strings"
)

// Receipt holds the EMV receipt fields the gateway documents for
// emv_receipt_data (TC, TVR, AID, TSI, ATC, APPLAB, APPN, CVM) plus the kind
// of cryptogram TC holds. card.Receipt has the same fields in the same order,
// so one converts to the other with a type conversion; keep them in step.
type Receipt struct {
	TC     string `json:"TC,omitempty"`
	TVR    string `json:"TVR,omitempty"`
	AID    string `json:"AID,omitempty"`
	TSI    string `json:"TSI,omitempty"`
	ATC    string `json:"ATC,omitempty"`
	APPLAB string `json:"APPLAB,omitempty"`
	APPN   string `json:"APPN,omitempty"`
	CVM    string `json:"CVM,omitempty"`
	// CryptogramType names the 9F26 cryptogram: "TC", "ARQC" or "AAC".
	CryptogramType string `json:"cryptogram_type,omitempty"`
}

// Receipt tags.
const (
	TagAID          Tag = 0x4F
	TagAppLabel     Tag = 0x50
	TagDFName       Tag = 0x84
	TagTVR          Tag = 0x95
	TagTSI          Tag = 0x9B
	TagAmount       Tag = 0x9F02
	TagAmountOther  Tag = 0x9F03
	TagTerminalAID  Tag = 0x9F06
	TagPreferred    Tag = 0x9F12
	TagCryptogram   Tag = 0x9F26
	TagCID          Tag = 0x9F27
	TagCVMResults   Tag = 0x9F34
	TagATC          Tag = 0x9F36
	TagPOSEntryMode Tag = 0x9F39
)

// ReceiptFrom builds the receipt fields from a decoded tree (the first
// occurrence of each tag, depth first). Absent tags leave their field empty.
//
//	AID    = 4F, else 84, else 9F06 (upper-case hex)
//	APPLAB = 50, APPN = 9F12 (text, sanitized by Text)
//	TVR    = 95, TSI = 9B, ATC = 9F36, TC = 9F26 (upper-case hex)
//	CryptogramType from 9F27 bits 8–7; CVM = CVMText(9F34)
func ReceiptFrom(tlvs []TLV) Receipt {
	return buildReceipt(func(t Tag) ([]byte, bool) {
		v, ok := Find(tlvs, t)
		return v.Value, ok
	})
}

// ReceiptFromBytes is ReceiptFrom straight from encoded TLVs, in one scan.
func ReceiptFromBytes(b []byte) (Receipt, error) {
	var found [len(receiptTags)][]byte
	var seen [len(receiptTags)]bool
	var s Scanner
	s.Reset(b)
	for s.Next() {
		f := s.Field()
		for i, t := range receiptTags {
			if f.Tag == t && !seen[i] {
				found[i], seen[i] = f.Value, true
			}
		}
	}
	if err := s.Err(); err != nil {
		return Receipt{}, err
	}
	return buildReceipt(func(t Tag) ([]byte, bool) {
		for i, rt := range receiptTags {
			if rt == t {
				return found[i], seen[i]
			}
		}
		return nil, false
	}), nil
}

var receiptTags = [...]Tag{TagAID, TagDFName, TagTerminalAID, TagAppLabel, TagPreferred, TagTVR, TagTSI, TagATC, TagCryptogram, TagCID, TagCVMResults}

func buildReceipt(get func(Tag) ([]byte, bool)) Receipt {
	var r Receipt
	hexOf := func(t Tag) string {
		if v, ok := get(t); ok && len(v) > 0 {
			return strings.ToUpper(hex.EncodeToString(v))
		}
		return ""
	}
	for _, t := range []Tag{TagAID, TagDFName, TagTerminalAID} {
		if r.AID = hexOf(t); r.AID != "" {
			break
		}
	}
	if v, ok := get(TagAppLabel); ok {
		r.APPLAB = Text(v)
	}
	if v, ok := get(TagPreferred); ok {
		r.APPN = Text(v)
	}
	r.TVR = hexOf(TagTVR)
	r.TSI = hexOf(TagTSI)
	r.ATC = hexOf(TagATC)
	r.TC = hexOf(TagCryptogram)
	if v, ok := get(TagCID); ok && len(v) == 1 {
		r.CryptogramType = CryptogramType(v[0])
	}
	if v, ok := get(TagCVMResults); ok {
		r.CVM = CVMText(v)
	}
	return r
}

// CryptogramType names the cryptogram from Cryptogram Information Data (9F27)
// bits 8–7: 00 AAC (declined), 01 TC (approved), 10 ARQC (go online). 11 is
// reserved and gives "".
func CryptogramType(cid byte) string {
	switch cid >> 6 {
	case 0:
		return "AAC"
	case 1:
		return "TC"
	case 2:
		return "ARQC"
	}
	return ""
}

// CVM texts printed on receipts.
const (
	CVMPINVerified          = "PIN Verified"
	CVMPINAndSignature      = "PIN Verified and Signature"
	CVMSignature            = "Signature"
	CVMNoCVMRequired        = "No CVM Required"
	CVMNoCVMPerformed       = "No CVM Performed"
	CVMFailed               = "CVM Failed"
	CVMBiometric            = "Biometric"
	CVMOfflinePINUnverified = "Offline PIN"
	CVMUnknown              = "Unknown CVM"
)

// CVMText is the receipt text for CVM Results (9F34, 3 bytes: method,
// condition, result), per card-formats.md §5.3 / EMV Book 3 Annex C3. The
// method is byte 1 & 3F (bit 7, "apply next rule if this fails", does not
// matter for display); byte 3 is 00 unknown, 01 failed, 02 successful. A
// value that is not 3 bytes gives "".
//
//	3F (any result)        No CVM Performed
//	result 01, or method 00 CVM Failed
//	01, 04 offline PIN     PIN Verified when result 02, else Offline PIN
//	02 online PIN          PIN Verified (the issuer checks it; result is 00)
//	03, 05 PIN + signature PIN Verified and Signature
//	06–0F biometrics       Biometric
//	1E                     Signature
//	1F                     No CVM Required
//	anything else          Unknown CVM
func CVMText(b []byte) string {
	if len(b) != 3 {
		return ""
	}
	method, result := b[0]&0x3F, b[2]
	switch {
	case method == 0x3F:
		return CVMNoCVMPerformed
	case result == 0x01 || method == 0x00:
		return CVMFailed
	}
	switch method {
	case 0x01, 0x04:
		if result == 0x02 {
			return CVMPINVerified
		}
		return CVMOfflinePINUnverified
	case 0x02:
		return CVMPINVerified
	case 0x03, 0x05:
		return CVMPINAndSignature
	case 0x1E:
		return CVMSignature
	case 0x1F:
		return CVMNoCVMRequired
	}
	if method >= 0x06 && method <= 0x0F {
		return CVMBiometric
	}
	return CVMUnknown
}

// CVMNeedsSignature reports whether the receipt needs a signature line:
// methods 03 and 05 (PIN plus signature) and 1E (signature), unless the CVM
// failed.
func CVMNeedsSignature(b []byte) bool {
	if len(b) != 3 || b[2] == 0x01 {
		return false
	}
	switch b[0] & 0x3F {
	case 0x03, 0x05, 0x1E:
		return true
	}
	return false
}
