// Package serialtest is the device side of a serial card reader for tests
// and harnesses outside the serial package: a pseudo-terminal behind a
// stable path (as /dev/serial/by-id/… would be) and an ID TECH reader
// loaded with the public ANSI test key that writes encrypted enhanced
// frames into it. The agent under test opens the path with its real serial
// driver and sees what it would see from a SecureMag on a cable.
//
// It holds no clear card data beyond the frame being built (test card
// numbers only) and clears its tracks and keys after use.
package serialtest
