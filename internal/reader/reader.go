package reader

import (
	"context"
	"errors"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
)

// EventKind says what happened.
type EventKind string

// Event kinds.
const (
	EventAttached EventKind = "attached"
	EventDetached EventKind = "detached"
	EventBroken   EventKind = "broken"
	EventCard     EventKind = "card"    // Read holds an encrypted read
	EventRefused  EventKind = "refused" // a read arrived but cannot be used: Err says why (e.g. clear_track_data, bad LRC)
	EventPrompt   EventKind = "prompt"  // an EMV reader asks the customer for something
)

// Event is one thing a reader reports. Read never holds clear card data:
// only what internal/decrypt extracted (masked PAN, ciphertext envelope).
type Event struct {
	Kind   EventKind
	Reader sale.Reader
	Read   *card.Read  // EventCard
	Prompt sale.Prompt // EventPrompt
	Err    error       // EventBroken, EventRefused
	// Complete is set on an EventCard whose card waits for the host
	// response (contact EMV that went online); nil for one-step reads
	// (swipe, contactless). If nobody calls it, the reader tells the card
	// "unable to go online" by itself after its host-response timeout.
	Complete Completion
	// Raw is the time the last byte of the read arrived (for latency measurement).
	Time time.Time
}

// Transaction is what an EMV reader needs to start a transaction.
type Transaction struct {
	AmountCents int64
	// Type is the EMV transaction type (9C): 0x00 purchase, 0x20 refund.
	Type byte
	// Timeout is how long the reader waits for a card.
	Timeout time.Duration
}

// Reader is one opened reader.
type Reader interface {
	// Info names the reader.
	Info() sale.Reader
	// Run reads until ctx ends (returns nil) or the device goes away
	// (returns an error wrapping ErrDetached), calling emit for each event.
	// emit must not block for long.
	Run(ctx context.Context, emit func(Event)) error
	// Arm starts a transaction on an EMV reader; swipe-only readers accept
	// it and do nothing (they always listen).
	Arm(ctx context.Context, t Transaction) error
	// Cancel stops a transaction in progress; a no-op for swipe readers.
	Cancel(ctx context.Context) error
	// Close releases the device.
	Close() error
}

// Device is a reader found by a driver's scan, opened or not.
type Device struct {
	ID     string
	Device card.DeviceInfo
	// Broken, when set, says why the device cannot be used and how to fix it
	// (permissions, keyboard-emulation mode, …); the manager lists it but
	// does not open it.
	Broken string
}

// Driver finds and opens the readers of one transport.
type Driver interface {
	// Name is the transport: hid, serial, sim, replay.
	Name() string
	// Scan lists the devices present now. It must be cheap: the manager
	// calls it every poll interval.
	Scan(ctx context.Context) ([]Device, error)
	// Open opens a scanned device.
	Open(ctx context.Context, d Device) (Reader, error)
}

// ErrDetached is wrapped by Run's error when the device went away.
var ErrDetached = errors.New("reader detached")
