// Package serial is the serial-port transport of the card readers and the
// only importer of go.bug.st/serial.
//
// A Driver (Name "serial") is configured with explicit ports — path,
// protocol (idtech, magtek or vivopay) and baud rate — because the ports a
// reader appears on (and pseudo-terminals used in tests) cannot be told
// apart from modems and GPS units by enumeration. With Enumerate set it also
// lists USB serial ports of card-reader vendors (MagTek 0x0801, ID TECH
// 0x0ACD) that are not configured, as broken devices that say how to
// configure them.
//
// The package is thin on purpose: it opens the port (8N1, a short read
// timeout so Run notices cancellation), maps its errors and hands the port
// to internal/reader/proto, where the protocols live; the replay transport
// runs the same protocol code. It never touches DTR/RTS: card readers do not
// need modem control and on pseudo-terminals those ioctls fail (ENOTTY).
package serial
