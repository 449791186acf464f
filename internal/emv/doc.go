// Package emv owns the EMV and vendor TLV data the card readers send:
//
//   - BER-TLV decoding and encoding (Decode, Scanner, Walk, Encode, AppendTLV)
//     with the vendor quirks seen in real ID TECH and MagTek output: legacy
//     two-byte FFxx tags, FFEE12 (constructed bit, primitive value), NEO2
//     masked/encrypted markers (A1/C1 before the length), 00/FF padding,
//     trailing padding and MACs after the last object;
//   - the tag dictionary (Lookup): names, formats and which tags carry card
//     data, so that debug output (Dump, TLV.String, TLV.LogValue) prints those
//     values as lengths only;
//   - the EMV receipt fields (Receipt, ReceiptFrom) and the CVM text of 9F34;
//   - the gateway entry mode letter from 9F39 (EntryModeFrom9F39);
//   - n12 BCD amounts for reader commands (AmountN12, ParseN12).
//
// The package imports nothing internal and never decrypts: ciphertext and
// masked values pass through it unchanged. Decoded values alias the input
// buffer; use TLV.Clone to keep a tree beyond the buffer's life.
package emv
