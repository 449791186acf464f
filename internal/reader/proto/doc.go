// Package proto holds the device protocols of the card readers — ID TECH
// enhanced frames (idtech), MagneSafe keyboard lines (magtek), ID TECH IDG
// "ViVOtech2" commands (vivopay) and their USB-HID variants (magtek-hid,
// idtech-hid, vivopay-hid) — and one Reader that runs a protocol over a
// transport.
//
// The seam is deliberately small: a Conn is Read/Write/Close, where Read
// returns one chunk of a byte stream (serial) or one input report (HID) and
// (0, nil) when nothing arrived within the transport's poll interval. HID
// feature reports go through the optional FeatureConn. internal/reader/serial
// and internal/reader/hid open real devices and hand a Conn to Open;
// internal/reader/replay hands it a Player that plays a recorded transcript.
// The protocol code lives here, apart from the transports, so that all three
// run the same bytes through the same code: a bug found with a replayed
// transcript is a bug of the real reader, and the transports stay thin
// enough to need no tests of their own beyond "bytes go in and out".
//
// The stream splitters (IDTechSplitter, LineSplitter, IDGSplitter) turn
// arbitrary chunks into frames: they resynchronize on the start marker, drop
// junk between frames, reassemble frames split across reads and never hold
// more than a frame's worth of bytes. Card data is parsed by
// internal/decrypt only; nothing here logs, prints or keeps a clear track.
//
// The vivopay handler runs the contact EMV flow of the NEO 2 guide: a
// contact card that asks to go online (status 23) stays in the reader, and
// its card event carries a reader.Completion that sends Apply Host Response
// (60-12) and returns the card's decision at the second GENERATE AC
// (docs/readers.md, "Contact EMV flow").
package proto
