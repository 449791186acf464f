package replay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultPoll is how long a Player's Read waits at most before returning
// (0, nil), like a serial port's read timeout.
const DefaultPoll = 50 * time.Millisecond

// ErrMismatch is wrapped when the host sends something the transcript did
// not record.
var ErrMismatch = errors.New("host traffic differs from the transcript")

// Player plays a transcript as a device. It implements the serial seam
// (Read, Write, Close) and the HID seam (ReadTimeout, Write,
// SendFeatureReport, GetFeatureReport, Close), so the protocol code under
// test is the code that runs on real devices.
//
// Input waits for the host: an "in" recorded after an "out" is delivered
// only once the host wrote that "out", and its delay counts from then.
type Player struct {
	// Speed scales recorded delays: 1 plays in real time, 0 (the default)
	// plays as fast as the host reads.
	Speed float64
	// Poll bounds how long Read blocks; 0 means DefaultPoll.
	Poll time.Duration
	// Match compares a host write with the recorded one; nil means
	// SameCommand.
	Match func(recorded, written []byte) bool

	mu       sync.Mutex
	events   []Event
	used     []bool
	next     int // first unused event
	last     time.Time
	partial  []byte // rest of an "in" chunk a short Read left over
	feature  []byte // reply of the last sent feature report
	hasReply bool
	closed   bool
	done     chan struct{}
}

// NewPlayer returns a Player for t.
func NewPlayer(t *Transcript) *Player {
	return &Player{events: t.Events, used: make([]bool, len(t.Events)), done: make(chan struct{})}
}

// Done reports whether every event was played.
func (p *Player) Done() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.skip()
	return p.next >= len(p.events) || p.events[p.next].Kind == KindDetach
}

// skip moves next past used events and markers (attach, refused).
func (p *Player) skip() {
	for p.next < len(p.events) {
		e := p.events[p.next]
		if p.used[p.next] || e.Kind == KindAttach || e.Kind == KindRefused {
			p.next++
			continue
		}
		return
	}
}

func (p *Player) due(e Event) time.Time {
	if p.last.IsZero() {
		p.last = time.Now()
	}
	return p.last.Add(time.Duration(float64(e.Delay) * p.Speed))
}

// Read implements the serial seam.
func (p *Player) Read(b []byte) (int, error) { return p.read(b, p.poll()) }

// ReadTimeout implements the HID seam; a negative or zero timeout waits at
// most the poll interval.
func (p *Player) ReadTimeout(b []byte, ms int) (int, error) {
	d := time.Duration(ms) * time.Millisecond
	if ms <= 0 {
		d = p.poll()
	}
	return p.read(b, d)
}

func (p *Player) poll() time.Duration {
	if p.Poll > 0 {
		return p.Poll
	}
	return DefaultPoll
}

func (p *Player) read(b []byte, wait time.Duration) (int, error) {
	deadline := time.Now().Add(wait)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return 0, io.ErrClosedPipe
		}
		if len(p.partial) > 0 {
			n := copy(b, p.partial)
			p.partial = p.partial[n:]
			p.mu.Unlock()
			return n, nil
		}
		p.skip()
		if p.next >= len(p.events) {
			p.mu.Unlock()
			return 0, io.EOF // the recording ends: the device is gone
		}
		e := p.events[p.next]
		var sleep time.Duration
		switch e.Kind {
		case KindIn, KindDetach:
			at := p.due(e)
			if now := time.Now(); !now.Before(at) {
				p.used[p.next] = true
				p.last = now
				if e.Kind == KindDetach {
					p.mu.Unlock()
					return 0, io.EOF
				}
				n := copy(b, e.Data)
				p.partial = e.Data[n:]
				p.mu.Unlock()
				return n, nil
			} else {
				sleep = at.Sub(now)
			}
		default:
			// out or feature: the host has to act first.
			sleep = wait
		}
		p.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return 0, nil
		}
		t := time.NewTimer(min(sleep, left))
		select {
		case <-t.C:
		case <-p.done:
			t.Stop()
		}
	}
}

// find returns the index of the first unused event of kind before any
// detach, or -1.
func (p *Player) find(kind string) int {
	for i := p.next; i < len(p.events); i++ {
		if p.used[i] {
			continue
		}
		e := p.events[i]
		if e.Kind == KindDetach {
			break
		}
		if e.Kind == kind {
			return i
		}
	}
	return -1
}

// Write implements both seams: the host's bytes must be the next recorded
// "out". A mismatch consumes nothing.
func (p *Player) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	p.skip()
	i := p.find(KindOut)
	if i < 0 {
		return 0, fmt.Errorf("%w: host wrote %d bytes, the transcript has no more writes", ErrMismatch, len(b))
	}
	match := p.Match
	if match == nil {
		match = SameCommand
	}
	if e := p.events[i]; !match(e.Data, b) {
		return 0, fmt.Errorf("%w: host wrote %d bytes that differ from the recorded %d", ErrMismatch, len(b), len(e.Data))
	}
	p.used[i] = true
	p.last = time.Now()
	return len(b), nil
}

// idgHeader starts an IDG frame; see SameCommand.
var idgHeader = []byte("ViVOtech2\x00")

// SameCommand is the default write matcher: the bytes are equal, or both
// hold an IDG frame at the same offset with the same command and
// subcommand. Activate Transaction carries the date and time, which differ
// on every run.
func SameCommand(recorded, written []byte) bool {
	if bytes.Equal(recorded, written) {
		return true
	}
	i, j := bytes.Index(recorded, idgHeader), bytes.Index(written, idgHeader)
	if i < 0 || i != j || len(recorded) < i+12 || len(written) < i+12 {
		return false
	}
	return bytes.Equal(recorded[:i+12], written[:i+12])
}

// SendFeatureReport implements the HID seam: b must be the request of the
// next recorded feature line.
func (p *Player) SendFeatureReport(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	p.skip()
	i := p.find(KindFeature)
	if i < 0 || p.events[i].NoRequest {
		return 0, fmt.Errorf("%w: host sent a feature report the transcript does not have here", ErrMismatch)
	}
	e := p.events[i]
	if !bytes.Equal(e.Data, b) {
		return 0, fmt.Errorf("%w: feature report of %d bytes differs from the recorded one", ErrMismatch, len(b))
	}
	p.used[i] = true
	p.last = time.Now()
	p.feature, p.hasReply = e.Reply, !e.NoReply
	return len(b), nil
}

// GetFeatureReport implements the HID seam: the reply recorded with the
// last sent feature report, or else the next feature line when it is
// reply-only.
func (p *Player) GetFeatureReport(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	if !p.hasReply {
		p.skip()
		if i := p.find(KindFeature); i >= 0 && p.events[i].NoRequest && !p.events[i].NoReply {
			p.used[i] = true
			p.last = time.Now()
			p.feature, p.hasReply = p.events[i].Reply, true
		}
	}
	if !p.hasReply {
		return 0, fmt.Errorf("%w: the transcript has no feature reply here", ErrMismatch)
	}
	p.hasReply = false
	return copy(b, p.feature), nil
}

// Close implements both seams.
func (p *Player) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	return nil
}
