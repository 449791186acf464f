// Package replay records a reader's raw traffic to a text transcript and
// plays a transcript back as a reader, in the spirit of periph's conntest
// Record/Playback.
//
// A transcript is line oriented and meant to be read by people:
//
//	# posagent transcript v1
//	device transport=hid vid=0801 pid=0011 model="MagTek Dynamag" protocol=magtek-hid
//	+0ms attach
//	+3ms feature 000001 -
//	+1ms feature - 00000700…
//	+120ms in <hex>        one chunk (serial) or one input report (hid) from the device
//	+5ms out <hex>         host to device
//	+0ms refused 580 bytes: <reason>
//	+900ms detach
//
// Each event's time is relative to the previous one. A feature line is a
// feature report sent (request, "-" when none) and the reply read back
// ("-" when none).
//
// The Recorder wraps a transport (a serial Stream or a HID ReportDevice) so
// that serial and hid record real devices. The Player implements the same
// seams, so a transcript runs through the very protocol code of
// internal/reader/proto that a real reader runs. The Driver ("replay") opens
// transcript files as readers.
//
// Transcripts hold the reader's encrypted bytes only. The Recorder refuses to
// write a unit of input that internal/decrypt classifies as clear track data,
// or that shows a clear-track pattern (%B<digits>^ or ;<digits>=) outside a
// read that decrypt accepts as encrypted (MagTek masks with '0', so its
// masked tracks look clear), and writes a "refused" line instead. Stream
// input is held until its unit is complete (a line end, a pause, a write by
// the host) so that a clear track split across reads is still caught.
//
// This package imports neither go.bug.st/serial nor karalabe/hid: the
// transports import it, not the other way round.
package replay
