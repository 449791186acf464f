package sale

import "github.com/posagent/posagent/internal/card"

// ReaderStatus is a reader's state as people see it; the values are
// protocol v1's.
type ReaderStatus string

// Reader states.
const (
	ReaderOK       ReaderStatus = "ok"
	ReaderBroken   ReaderStatus = "broken"   // present but unusable: Detail says why and what to do
	ReaderDetached ReaderStatus = "detached" // was there, is gone
)

// Reader describes a card reader for status displays, the websocket and
// `posagent devices`.
type Reader struct {
	// ID is stable while the device stays plugged in the same place, e.g.
	// "hid:0801:0011:/dev/hidraw3", "serial:/dev/ttyACM0", "sim:1".
	ID     string
	Device card.DeviceInfo
	Status ReaderStatus
	// Detail is the reason and the fix when Status is broken, in words a
	// cashier can act on.
	Detail string
	// EMV is true for readers that take chip and tap (they need Arm).
	EMV bool
	// Simulated is true for the sim reader (the page may offer simulate buttons).
	Simulated bool
}
