package proto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// Protocol names, as the configuration and transcripts spell them.
const (
	IDTech     = "idtech"      // ID TECH binary frames over a byte stream
	MagTek     = "magtek"      // MagneSafe keyboard-format lines over a byte stream
	Vivopay    = "vivopay"     // ID TECH IDG protocol 2 over a byte stream
	MagTekHID  = "magtek-hid"  // MagneSafe V5 HID input reports + feature commands
	IDTechHID  = "idtech-hid"  // ID TECH frames in zero-filled HID input reports
	VivopayHID = "vivopay-hid" // IDG frames in HID reports with a report ID
)

// Protocols lists the protocol names Open accepts.
var Protocols = []string{IDTech, MagTek, Vivopay, MagTekHID, IDTechHID, VivopayHID}

// StreamProtocols are the protocols of byte-stream transports (serial).
var StreamProtocols = []string{IDTech, MagTek, Vivopay}

// Conn is the transport seam. Read returns one chunk of a byte stream or one
// HID input report, and (0, nil) when nothing arrived within the
// transport's poll interval (it must not block much longer than that). Any
// Read error means the device is gone.
type Conn interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Close() error
}

// FeatureConn is implemented by HID transports: feature reports, with the
// report ID in byte 0 (karalabe/hid's convention).
type FeatureConn interface {
	SendFeatureReport(b []byte) (int, error)
	GetFeatureReport(b []byte) (int, error)
}

// Timing of the reader loop.
const (
	// FrameGap is how long a partial frame may wait for its next byte. A
	// reader sends a frame in one burst (a 600-byte frame takes 0.6 s at
	// 9600 baud, with no pause); a longer silence means the rest is lost.
	FrameGap = 1 * time.Second
	// maxQueued bounds events waiting for Run (e.g. prompts from Arm while
	// Run is not running); the oldest are dropped.
	maxQueued = 64
	// readBufSize holds one serial chunk or the largest HID report.
	readBufSize = 4096
)

// ErrProtocol is wrapped by errors about a device that does not speak the
// configured protocol.
var ErrProtocol = errors.New("device protocol error")

// Options configure Open.
type Options struct {
	// Protocol is one of Protocols.
	Protocol string
	// Info names the reader; Open fills Device.Serial when the device
	// reports one.
	Info sale.Reader
	Log  *slog.Logger
	// ReportSize is the HID report size of vivopay-hid output reports
	// (report ID included); 0 means 64.
	ReportSize int
	// FeatureSize is the MagTek feature report size without the report ID:
	// 24 (SureSwipe) or 60 (Dynamag); 0 means 60.
	FeatureSize int
	// Now is the clock (tests fix it); nil means time.Now.
	Now func() time.Time
	// HostResponseTimeout is how long a contact chip card that went online
	// waits for the engine's host response before the reader handler tells
	// it "unable to go online" by itself (vivopay); 0 means
	// DefaultHostResponseTimeout.
	HostResponseTimeout time.Duration
}

// Reader runs a device protocol over a Conn. It implements reader.Reader.
type Reader struct {
	conn Conn
	h    handler
	log  *slog.Logger
	now  func() time.Time

	readMu  sync.Mutex // held by whoever reads conn: Run, or an exchange before Run
	writeMu sync.Mutex

	mu    sync.Mutex
	info  sale.Reader
	queue []reader.Event
	// logs are the log lines of queued events, written once flush has
	// emitted them: a line costs ~50 µs (slog's JSON and a write), which
	// sat between the card's last byte and the gateway request.
	logs   []func()
	closed bool

	buf []byte
}

// handler is one device protocol.
type handler interface {
	// open runs the protocol's handshake (may exchange commands).
	open(ctx context.Context) error
	// input takes one chunk or report that arrived at t.
	input(b []byte, t time.Time)
	// stale drops a partial frame after FrameGap of silence.
	stale(t time.Time)
	arm(ctx context.Context, t reader.Transaction) error
	cancel(ctx context.Context) error
}

// Open starts a protocol on an opened transport: it runs the handshake (IDG
// ping and serial number, MagTek feature commands) and returns the Reader.
// On error the Conn is closed.
func Open(ctx context.Context, c Conn, o Options) (*Reader, error) {
	r := &Reader{conn: c, log: o.Log, now: o.Now, info: o.Info, buf: make([]byte, readBufSize)}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.log = r.log.With("reader", o.Info.ID, "protocol", o.Protocol)
	switch o.Protocol {
	case IDTech:
		r.h = &idtechHandler{r: r}
	case IDTechHID:
		r.h = &idtechHandler{r: r}
	case MagTek:
		r.h = &magtekHandler{r: r}
	case MagTekHID:
		size := o.FeatureSize
		if size <= 0 {
			size = 60
		}
		r.h = &magtekHIDHandler{r: r, featureSize: size}
	case Vivopay, VivopayHID:
		v := &vivopayHandler{r: r, waiters: map[byte]chan decrypt.IDGFrame{}, hostTimeout: o.HostResponseTimeout}
		if v.hostTimeout <= 0 {
			v.hostTimeout = DefaultHostResponseTimeout
		}
		if o.Protocol == VivopayHID {
			v.reportSize = o.ReportSize
			if v.reportSize <= 0 {
				v.reportSize = 64
			}
		}
		r.h = v
	default:
		c.Close()
		return nil, fmt.Errorf("unknown reader protocol %q (want one of %v)", o.Protocol, Protocols)
	}
	if err := r.h.open(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return r, nil
}

// Info implements reader.Reader.
func (r *Reader) Info() sale.Reader {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info
}

func (r *Reader) setSerial(s string) {
	r.mu.Lock()
	r.info.Device.Serial = s
	r.mu.Unlock()
}

// Run implements reader.Reader. Only one Run may be active.
func (r *Reader) Run(ctx context.Context, emit func(reader.Event)) error {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	var lastByte time.Time
	for {
		r.flush(emit)
		if ctx.Err() != nil || r.isClosed() {
			return nil
		}
		n, err := r.conn.Read(r.buf)
		now := r.now()
		if n > 0 {
			r.h.input(r.buf[:n], now)
			lastByte = now
		}
		if err != nil {
			r.flush(emit)
			if ctx.Err() != nil || r.isClosed() {
				return nil
			}
			r.log.Info("reader gone", "err", err)
			return fmt.Errorf("%s: %w: %w", r.Info().ID, reader.ErrDetached, err)
		}
		if n == 0 && !lastByte.IsZero() && now.Sub(lastByte) >= FrameGap {
			r.h.stale(now)
			lastByte = time.Time{}
		}
	}
}

// Arm implements reader.Reader.
func (r *Reader) Arm(ctx context.Context, t reader.Transaction) error { return r.h.arm(ctx, t) }

// Cancel implements reader.Reader.
func (r *Reader) Cancel(ctx context.Context) error { return r.h.cancel(ctx) }

// Close implements reader.Reader. A Run in progress returns nil.
func (r *Reader) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	return r.conn.Close()
}

func (r *Reader) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

func (r *Reader) write(b []byte) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	for len(b) > 0 {
		n, err := r.conn.Write(b)
		if err != nil {
			return fmt.Errorf("write to reader: %w", err)
		}
		if n == 0 {
			return errors.New("write to reader: no progress")
		}
		b = b[n:]
	}
	return nil
}

// push queues an event for Run to emit.
func (r *Reader) push(ev reader.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev.Reader = r.info
	if len(r.queue) >= maxQueued {
		r.queue = slices.Delete(r.queue, 0, 1)
	}
	r.queue = append(r.queue, ev)
}

func (r *Reader) flush(emit func(reader.Event)) {
	r.mu.Lock()
	q, logs := r.queue, r.logs
	r.queue, r.logs = nil, nil
	r.mu.Unlock()
	for _, ev := range q {
		emit(ev)
	}
	for _, log := range logs {
		log()
	}
}

// logAfter queues a log line to write after the queued events are out.
func (r *Reader) logAfter(log func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, log)
}

func (r *Reader) prompt(p sale.Prompt, t time.Time, err error) {
	r.push(reader.Event{Kind: reader.EventPrompt, Prompt: p, Time: t, Err: err})
}

// deliver turns a parse result into a card or refused event. Logs carry
// the read's LogValue (masked) or the error's code and message, which
// decrypt guarantees hold no card data.
func (r *Reader) deliver(read card.Read, err error, t time.Time) {
	if err != nil {
		r.refuse(err, t)
		return
	}
	r.deliverCard(read, t, nil)
}

// deliverCard emits a card event; complete is set when the card waits for
// the host response.
func (r *Reader) deliverCard(read card.Read, t time.Time, complete reader.Completion) {
	// The device's own answer (IDG 12-01, MagTek property) names the
	// terminal; a serial inside the read is the fallback.
	info := r.Info().Device
	if info.Serial == "" {
		info.Serial = read.Device.Serial
	}
	read.Device = info
	// Resolved now: the event's read is the engine's once emitted.
	lv := read.LogValue()
	r.push(reader.Event{Kind: reader.EventCard, Read: &read, Time: t, Complete: complete})
	r.logAfter(func() { r.log.Info("card read", "read", lv) })
}

func (r *Reader) refuse(err error, t time.Time) {
	r.log.Warn("read refused", "code", decrypt.CodeOf(err), "reason", decrypt.MessageOf(err))
	r.push(reader.Event{Kind: reader.EventRefused, Err: err, Time: t})
}

// splitFeed runs a splitter and hands each frame to parse.
func (r *Reader) splitFeed(s Splitter, b []byte, t time.Time, parse func([]byte) (card.Read, error)) {
	junk := s.Junk()
	s.Feed(b, func(u Unit) { r.unit(u, t, parse) })
	if d := s.Junk() - junk; d > 0 {
		r.log.Debug("dropped bytes between frames", "bytes", d)
	}
}

func (r *Reader) unit(u Unit, t time.Time, parse func([]byte) (card.Read, error)) {
	if u.Err != nil {
		r.refuse(u.Err, t)
		return
	}
	read, err := parse(u.Frame)
	r.deliver(read, err, t)
}

// idtechHandler reads unsolicited ID TECH frames (serial, or HID reports
// that carry the frame zero-filled; the splitter reassembles frames that
// span reports and skips the fill).
type idtechHandler struct {
	r     *Reader
	split IDTechSplitter
}

func (h *idtechHandler) open(context.Context) error { return nil }
func (h *idtechHandler) input(b []byte, t time.Time) {
	h.r.splitFeed(&h.split, b, t, decrypt.ParseIDTech)
}
func (h *idtechHandler) stale(t time.Time) {
	h.split.Stale(func(u Unit) { h.r.unit(u, t, decrypt.ParseIDTech) })
}
func (h *idtechHandler) arm(context.Context, reader.Transaction) error { return nil }
func (h *idtechHandler) cancel(context.Context) error                  { return nil }

// magtekHandler reads MagneSafe keyboard-format lines.
type magtekHandler struct {
	r     *Reader
	split LineSplitter
}

func (h *magtekHandler) open(context.Context) error { return nil }
func (h *magtekHandler) input(b []byte, t time.Time) {
	h.r.splitFeed(&h.split, b, t, decrypt.ParseMagneSafe)
}
func (h *magtekHandler) stale(t time.Time) {
	h.split.Stale(func(u Unit) { h.r.unit(u, t, decrypt.ParseMagneSafe) })
}
func (h *magtekHandler) arm(context.Context, reader.Transaction) error { return nil }
func (h *magtekHandler) cancel(context.Context) error                  { return nil }
