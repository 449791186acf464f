// Package hid is the USB-HID transport of the card readers and the only
// importer of github.com/karalabe/hid.
//
// The HID calls (enumerate, open, read an input report with a timeout,
// write an output report, send and get feature reports, close) sit behind a
// Backend of function fields and the Handle interface, which is method for
// method karalabe/hid's Device. System() is the real backend; tests use a
// fake whose Open returns a replay.Player, so recorded report sequences run
// through exactly the code path of a real device: this package → the
// protocols of internal/reader/proto → internal/decrypt.
//
// The Driver ("hid") knows the readers by VID/PID (Models). Readers in
// keyboard-emulation mode, readers the agent may not open (permissions) and
// unknown products of the card-reader vendors are listed as broken with the
// fix. Built without cgo, karalabe/hid is a stub; Scan then fails with
// ErrNotCompiled so the user learns why no HID reader shows up.
package hid
