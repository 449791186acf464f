// Package decrypt understands the encrypted envelopes card readers send —
// ID TECH enhanced and original frames (binary and keyboard text), MagTek
// MagneSafe keyboard strings and V5 HID input reports, the gateway's ksn and
// ksnpin pipe forms, and ID TECH IDG (ViVOpay) responses — without
// decrypting them.
//
// Each parser checks the envelope's integrity (lengths, LRC, checksum, CRC,
// field counts), refuses clear track data (code clear_track_data), extracts
// what is public (masked PAN, brand, KSN, device serial, entry mode, EMV
// receipt fields) and builds the gateway fields e_format, e_track_data and
// e_serial_number exactly as docs/formats.md describes. The ciphertext is
// carried unchanged. Decryption lives only in the dukpt subpackage, which no
// agent path may import.
//
// The parsers are allocation-light: a decode costs a handful of allocations
// (the envelope string, the masked PAN, the KSN and one string holding the
// name and serial), because readers can deliver a read per second per lane
// and the agent runs on small kiosk PCs.
package decrypt
