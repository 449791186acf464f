package replay

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/decrypt"
)

// maxHold bounds the stream input a Recorder holds while a unit (a line or
// a burst) is incomplete: the largest IDG response.
const maxHold = 16 << 10

// Stream is the serial seam: Read returns a chunk, or (0, nil) on a read
// timeout.
type Stream interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Close() error
}

// ReportDevice is the HID seam, method for method karalabe/hid's Device.
type ReportDevice interface {
	ReadTimeout(b []byte, ms int) (int, error)
	Write(b []byte) (int, error)
	SendFeatureReport(b []byte) (int, error)
	GetFeatureReport(b []byte) (int, error)
	Close() error
}

// Recorder writes a transcript of the traffic through the transports it
// wraps. It is safe for concurrent use (Run reads while Arm writes).
type Recorder struct {
	mu      sync.Mutex
	w       *bufio.Writer
	now     func() time.Time
	last    time.Time
	reports bool // HID: every "in" is one report, judged alone

	held      []Event // stream input of the unit being collected
	heldBytes int
	heldAt    []time.Time
	sent      []byte // feature report waiting for its reply
	hasSent   bool
	err       error
}

// NewRecorder writes the transcript head (magic, device line, attach) to w
// and returns a Recorder. Call Flush when done (Close of a wrapped transport
// does it).
func NewRecorder(w io.Writer, h Header) (*Recorder, error) { return newRecorderClock(w, h, time.Now) }

func newRecorderClock(w io.Writer, h Header, now func() time.Time) (*Recorder, error) {
	r := &Recorder{w: bufio.NewWriter(w), now: now, reports: h.Transport == "hid"}
	r.last = r.now()
	r.w.WriteString(Magic + "\n" + h.String() + "\n")
	r.line(Event{Kind: KindAttach}, r.last)
	if err := r.w.Flush(); err != nil {
		return nil, fmt.Errorf("write transcript: %w", err)
	}
	return r, nil
}

// Err returns the first write error.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// line writes one event at time t; r.mu is held.
func (r *Recorder) line(e Event, t time.Time) {
	e.Delay = max(t.Sub(r.last), 0)
	r.last = t
	if _, err := r.w.Write(append(AppendEvent(nil, e), '\n')); err != nil && r.err == nil {
		r.err = err
	}
}

// Flush writes held input and flushes the writer.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release()
	r.flushSent()
	if err := r.w.Flush(); err != nil && r.err == nil {
		r.err = err
	}
	return r.err
}

// in records device input at t.
func (r *Recorder) in(b []byte, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushSent()
	if r.reports {
		if reason, bad := Clear(b); bad {
			r.line(Event{Kind: KindRefused, Note: fmt.Sprintf("%d bytes: %s", len(b), reason)}, t)
		} else {
			r.line(Event{Kind: KindIn, Data: b}, t)
		}
		r.w.Flush()
		return
	}
	// Streams: cut at line ends; each piece up to a line end completes a
	// unit.
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			r.hold(b, t)
			if r.heldBytes >= maxHold {
				r.release()
			}
			return
		}
		r.hold(b[:i+1], t)
		r.release()
		b = b[i+1:]
	}
}

func (r *Recorder) hold(b []byte, t time.Time) {
	r.held = append(r.held, Event{Kind: KindIn, Data: bytes.Clone(b)})
	r.heldAt = append(r.heldAt, t)
	r.heldBytes += len(b)
}

// release judges the held unit and writes it, or one refused line.
func (r *Recorder) release() {
	if len(r.held) == 0 {
		return
	}
	unit := make([]byte, 0, r.heldBytes)
	for _, e := range r.held {
		unit = append(unit, e.Data...)
	}
	if reason, bad := Clear(unit); bad {
		r.line(Event{Kind: KindRefused, Note: fmt.Sprintf("%d bytes: %s", len(unit), reason)}, r.heldAt[len(r.heldAt)-1])
	} else {
		for i, e := range r.held {
			r.line(e, r.heldAt[i])
		}
	}
	r.held, r.heldAt, r.heldBytes = r.held[:0], r.heldAt[:0], 0
	r.w.Flush()
}

func (r *Recorder) flushSent() {
	if r.hasSent {
		r.line(Event{Kind: KindFeature, Data: r.sent, NoReply: true}, r.last)
		r.sent, r.hasSent = nil, false
	}
}

func (r *Recorder) idle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release()
}

func (r *Recorder) out(b []byte, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release()
	r.flushSent()
	r.line(Event{Kind: KindOut, Data: bytes.Clone(b)}, t)
	r.w.Flush()
}

func (r *Recorder) sendFeature(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release()
	r.flushSent()
	// The feature line is written with the reply; its delay counts from
	// the previous line, so the time before the request is kept.
	r.sent, r.hasSent = bytes.Clone(b), true
}

func (r *Recorder) getFeature(reply []byte, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release()
	e := Event{Kind: KindFeature, Data: r.sent, NoRequest: !r.hasSent, Reply: bytes.Clone(reply)}
	if reason, bad := Clear(reply); bad {
		e = Event{Kind: KindRefused, Note: fmt.Sprintf("feature reply of %d bytes: %s", len(reply), reason)}
	}
	r.sent, r.hasSent = nil, false
	r.line(e, t)
	r.w.Flush()
}

func (r *Recorder) detach(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release()
	r.flushSent()
	r.line(Event{Kind: KindDetach}, t)
	r.w.Flush()
}

// Stream wraps a serial transport.
func (r *Recorder) Stream(s Stream) Stream { return &recStream{r: r, s: s} }

// Reports wraps a HID transport.
func (r *Recorder) Reports(d ReportDevice) ReportDevice { return &recReports{r: r, d: d} }

type recStream struct {
	r        *Recorder
	s        Stream
	detached bool
}

func (c *recStream) Read(p []byte) (int, error) {
	n, err := c.s.Read(p)
	t := c.r.now()
	if n > 0 {
		c.r.in(p[:n], t)
	} else if err == nil {
		c.r.idle()
	}
	if err != nil && !c.detached {
		c.detached = true
		c.r.detach(t)
	}
	return n, err
}

func (c *recStream) Write(p []byte) (int, error) {
	n, err := c.s.Write(p)
	if n > 0 {
		c.r.out(p[:n], c.r.now())
	}
	return n, err
}

func (c *recStream) Close() error {
	err := c.s.Close()
	c.r.Flush()
	return err
}

type recReports struct {
	r        *Recorder
	d        ReportDevice
	detached bool
}

func (c *recReports) ReadTimeout(b []byte, ms int) (int, error) {
	n, err := c.d.ReadTimeout(b, ms)
	t := c.r.now()
	if n > 0 {
		c.r.in(b[:n], t)
	}
	if err != nil && !c.detached {
		c.detached = true
		c.r.detach(t)
	}
	return n, err
}

func (c *recReports) Write(b []byte) (int, error) {
	n, err := c.d.Write(b)
	if n > 0 {
		c.r.out(b[:n], c.r.now())
	}
	return n, err
}

func (c *recReports) SendFeatureReport(b []byte) (int, error) {
	n, err := c.d.SendFeatureReport(b)
	if err == nil {
		c.r.sendFeature(b)
	}
	return n, err
}

func (c *recReports) GetFeatureReport(b []byte) (int, error) {
	n, err := c.d.GetFeatureReport(b)
	if err == nil && n > 0 && n <= len(b) {
		c.r.getFeature(b[:n], c.r.now())
	}
	return n, err
}

func (c *recReports) Close() error {
	err := c.d.Close()
	c.r.Flush()
	return err
}

// Clear reports whether b holds clear card data, and why: a read that
// internal/decrypt refuses as clear track data, or a clear-track pattern
// (%B<12-19 digits>^ or ;<12-19 digits>=) outside any read decrypt accepts
// as encrypted. The reason holds no card data.
func Clear(b []byte) (string, bool) {
	var safe []span
	judge := func(a, z int, err error) (string, bool) {
		if decrypt.CodeOf(err) == decrypt.CodeClearTrackData {
			return decrypt.MessageOf(err), true
		}
		if err == nil {
			safe = append(safe, span{a, z})
		}
		return "", false
	}
	// A whole MagTek HID report.
	switch len(b) {
	case 337, 856, 887:
		_, err := decrypt.ParseMagTekHID(b)
		if reason, bad := judge(0, len(b), err); bad {
			return reason, true
		}
		if err == nil {
			return "", false
		}
	}
	// IDG frames.
	for i := 0; i < len(b); {
		j := bytes.Index(b[i:], idgHeader)
		if j < 0 {
			break
		}
		j += i
		_, n, err := decrypt.ParseIDG(b[j:])
		if err != nil {
			i = j + 1
			continue
		}
		_, err = decrypt.ParseVivopay(b[j : j+n])
		if reason, bad := judge(j, j+n, err); bad {
			return reason, true
		}
		i = j + n
	}
	// ID TECH binary frames.
	for j := 0; j+6 <= len(b); j++ {
		if b[j] != 0x02 {
			continue
		}
		end := j + 6 + (int(b[j+1]) | int(b[j+2])<<8)
		if end > len(b) || b[end-1] != 0x03 {
			continue
		}
		_, err := decrypt.ParseIDTech(b[j:end])
		if reason, bad := judge(j, end, err); bad {
			return reason, true
		}
	}
	// Text lines (MagneSafe keyboard format, keyboard-wedge tracks).
	for a := 0; a < len(b); {
		z := a + bytes.IndexAny(b[a:], "\r\n")
		if z < a {
			z = len(b)
		}
		if line := b[a:z]; len(line) > 0 && (line[0] == '%' || line[0] == ';' || bytes.IndexByte(line, '|') >= 0) {
			_, err := decrypt.ParseMagneSafe(line)
			if reason, bad := judge(a, z, err); bad {
				return reason, true
			}
		}
		a = z + 1
	}
	if clearPattern(b, safe) {
		return "clear track pattern: the reader is not encrypting", true
	}
	return "", false
}

type span struct{ a, z int }

// clearPattern finds %B<12-19 digits>^ or ;<12-19 digits>= starting outside
// the safe spans.
func clearPattern(b []byte, safe []span) bool {
	inSafe := func(i int) bool {
		for _, s := range safe {
			if i >= s.a && i < s.z {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(b); i++ {
		var j int
		var end byte
		switch {
		case b[i] == '%' && i+1 < len(b) && (b[i+1] == 'B' || b[i+1] == 'b'):
			j, end = i+2, '^'
		case b[i] == ';':
			j, end = i+1, '='
		default:
			continue
		}
		k := j
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if d := k - j; d >= 12 && d <= 19 && k < len(b) && b[k] == end && !inSafe(i) {
			return true
		}
	}
	return false
}
