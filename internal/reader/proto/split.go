package proto

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/posagent/posagent/internal/decrypt"
)

// Bounds of what a splitter holds. Every reader frame we know fits: the
// largest ID TECH frame seen is ~540 bytes (decrypt caps frames at 4 KiB),
// a MagneSafe line ~600 characters, an IDG response with EMV TLVs a few KiB.
const (
	MaxIDTechFrame = 4096
	MaxLine        = 4096
	MaxIDGFrame    = 16 << 10
)

// Frame bytes of the ID TECH frame (card-formats.md §2.1).
const (
	stx = 0x02
	etx = 0x03
	// idtechMinData is the smallest <card data> of a real frame: encode
	// type, status and three track lengths.
	idtechMinData = 5
	// cutFrameMin is how many bytes of a frame must precede the next frame
	// for the splitter to report a read cut short rather than junk.
	cutFrameMin = 8
)

// Errors a splitter reports when it drops bytes that looked like a frame.
// They become refused events: the customer should swipe again.
var (
	ErrDamagedFrame    = errors.New("the reader sent a damaged frame: swipe again")
	ErrIncompleteFrame = errors.New("the reader sent an incomplete frame and stopped: swipe again")
	ErrLineTooLong     = errors.New("the reader sent a line longer than any card read: swipe again")
)

// Unit is what a splitter yields: a complete frame or line, or Err when it
// dropped bytes that looked like the start of one.
type Unit struct {
	// Frame is valid only during the yield callback.
	Frame []byte
	Err   error
}

// Splitter turns a byte stream, in chunks of any size, into frames.
type Splitter interface {
	// Feed appends p and yields every unit it completes.
	Feed(p []byte, yield func(Unit))
	// Stale is called when no byte arrived for a while: whatever partial
	// frame is buffered will never complete, so it is dropped (and
	// reported when it looked like a frame).
	Stale(yield func(Unit))
	// Buffered is the number of bytes held.
	Buffered() int
	// Junk is the number of non-zero bytes dropped between frames so far.
	Junk() int
}

// IDTechSplitter cuts ID TECH binary frames (STX LenL LenH … LRC SUM ETX)
// out of a stream. It resynchronizes on STX, drops junk between frames
// (zero fill silently: HID reports pad with zeros) and holds at most
// MaxIDTechFrame bytes. The zero value is ready to use.
type IDTechSplitter struct {
	buf  []byte
	junk int
	// ahead is the buffer length at the last look-ahead: candidates ending
	// before it were already checked.
	ahead int
}

// Feed implements Splitter.
func (s *IDTechSplitter) Feed(p []byte, yield func(Unit)) {
	for len(p) > 0 {
		n := min(MaxIDTechFrame-len(s.buf), len(p))
		s.buf = append(s.buf, p[:n]...)
		p = p[n:]
		s.scan(false, yield)
	}
}

// Stale implements Splitter.
func (s *IDTechSplitter) Stale(yield func(Unit)) { s.scan(true, yield) }

// Buffered implements Splitter.
func (s *IDTechSplitter) Buffered() int { return len(s.buf) }

// Junk implements Splitter.
func (s *IDTechSplitter) Junk() int { return s.junk }

func (s *IDTechSplitter) scan(flush bool, yield func(Unit)) {
	for {
		i := bytes.IndexByte(s.buf, stx)
		if i < 0 {
			s.drop(len(s.buf))
			return
		}
		s.drop(i)
		if len(s.buf) < 3 {
			if flush {
				s.drop(len(s.buf))
			}
			return
		}
		n := int(s.buf[1]) | int(s.buf[2])<<8
		total := n + 6
		if n < idtechMinData || total > MaxIDTechFrame {
			s.drop(1) // an STX in junk, not a frame start
			continue
		}
		if len(s.buf) < total {
			// A false STX in junk may announce a length that a real frame
			// behind it would wait for: look for a complete, valid frame
			// further on before waiting.
			if j := s.lookAhead(len(s.buf)); j > 0 {
				if j > cutFrameMin && plausibleIDTech(s.buf) {
					yield(Unit{Err: ErrIncompleteFrame}) // a read cut short by the next one
				}
				s.drop(j)
				continue
			}
			if !flush {
				return
			}
			if plausibleIDTech(s.buf) {
				yield(Unit{Err: ErrIncompleteFrame})
			}
			s.drop(1)
			continue
		}
		if s.buf[total-1] != etx {
			j := s.lookAhead(total)
			switch {
			case !plausibleIDTech(s.buf):
				s.drop(1) // an STX in junk
			case j > 0:
				if j > cutFrameMin {
					yield(Unit{Err: ErrIncompleteFrame}) // a read cut short by the next one
				}
				s.drop(j)
			default:
				// A frame damaged in transit: drop all of it, so that STX
				// bytes in its ciphertext do not each count as another one.
				yield(Unit{Err: fmt.Errorf("%w (no ETX where its length says)", ErrDamagedFrame)})
				s.drop(total)
			}
			continue
		}
		if !validIDTech(s.buf[:total-1]) {
			// A false STX whose length happens to land on an ETX: prefer a
			// valid frame inside it. Otherwise it is a damaged read, which
			// decrypt reports (bad LRC or checksum).
			if j := s.lookAhead(total); j > 0 {
				s.drop(j)
				continue
			}
		}
		yield(Unit{Frame: s.buf[:total:total]})
		s.consume(total)
	}
}

// plausibleIDTech reports whether b starts like a real frame: a known card
// encode type (original 0x0x or enhanced 0x8x, §2.2) after the length.
func plausibleIDTech(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	t := b[3]
	return t <= 0x05 || (t >= 0x80 && t <= 0x85)
}

// validIDTech reports whether b (a frame without its ETX) has a matching LRC
// and checksum.
func validIDTech(b []byte) bool {
	if len(b) < 5 {
		return false
	}
	n := int(b[1]) | int(b[2])<<8
	if 3+n+2 != len(b) {
		return false
	}
	var lrc, sum byte
	for _, c := range b[3 : 3+n] {
		lrc ^= c
		sum += c
	}
	return lrc == b[3+n] && sum == b[4+n]
}

// lookAhead returns the offset (below within) of a later STX that starts a
// complete frame with a valid LRC and checksum, or 0.
func (s *IDTechSplitter) lookAhead(within int) int {
	from := 1
	if within >= len(s.buf) {
		// Candidates ending before the last full look-ahead were checked.
		from = max(s.ahead, 1)
		s.ahead = len(s.buf)
	}
	for j := 1; j < min(within, len(s.buf)); j++ {
		if s.buf[j] != stx || j+3 > len(s.buf) {
			continue
		}
		n := int(s.buf[j+1]) | int(s.buf[j+2])<<8
		end := j + n + 6
		if n < idtechMinData || end > len(s.buf) || end <= from {
			continue
		}
		if s.buf[end-1] == etx && validIDTech(s.buf[j:end-1]) {
			return j
		}
	}
	return 0
}

func (s *IDTechSplitter) drop(n int) {
	for _, c := range s.buf[:n] {
		if c != 0 {
			s.junk++
		}
	}
	s.consume(n)
}

func (s *IDTechSplitter) consume(n int) {
	if n == 0 {
		return
	}
	m := copy(s.buf, s.buf[n:])
	s.buf = s.buf[:m]
	s.ahead = max(0, s.ahead-n)
}

// LineSplitter cuts text lines ended by CR (LF tolerated, so CR LF works)
// out of a stream: the MagneSafe keyboard format over serial. Empty lines are
// skipped; a line longer than MaxLine is dropped whole and reported when it
// ends. The zero value is ready to use.
type LineSplitter struct {
	buf      []byte
	overflow int
	junk     int
}

// Feed implements Splitter.
func (s *LineSplitter) Feed(p []byte, yield func(Unit)) {
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			s.add(p)
			return
		}
		s.add(p[:i])
		s.end(yield)
		p = p[i+1:]
	}
}

func (s *LineSplitter) add(p []byte) {
	if s.overflow > 0 || len(s.buf)+len(p) > MaxLine {
		s.overflow += len(s.buf) + len(p)
		s.buf = s.buf[:0]
		return
	}
	s.buf = append(s.buf, p...)
}

func (s *LineSplitter) end(yield func(Unit)) {
	switch {
	case s.overflow > 0:
		s.junk += s.overflow
		s.overflow = 0
		yield(Unit{Err: ErrLineTooLong})
	case len(s.buf) > 0:
		yield(Unit{Frame: s.buf})
	}
	s.buf = s.buf[:0]
}

// Stale implements Splitter: a line without its terminator is taken as a
// line, because a reader can be configured to send none (MagTek P34).
func (s *LineSplitter) Stale(yield func(Unit)) { s.end(yield) }

// Buffered implements Splitter.
func (s *LineSplitter) Buffered() int { return len(s.buf) }

// Junk implements Splitter.
func (s *LineSplitter) Junk() int { return s.junk }

// idgHeader starts every IDG protocol 2 frame (card-formats.md §3.1).
var idgHeader = []byte("ViVOtech2\x00")

// idgOverhead is header, command, status, length and CRC.
const idgOverhead = 16

// IDGSplitter cuts ID TECH IDG ("ViVOtech2") frames out of a stream,
// resynchronizing on the header. Frames with a bad CRC are reported and
// skipped. The zero value is ready to use.
type IDGSplitter struct {
	buf  []byte
	junk int
}

// Feed implements Splitter.
func (s *IDGSplitter) Feed(p []byte, yield func(Unit)) {
	for len(p) > 0 {
		n := min(MaxIDGFrame-len(s.buf), len(p))
		s.buf = append(s.buf, p[:n]...)
		p = p[n:]
		s.scan(false, yield)
	}
}

// Stale implements Splitter.
func (s *IDGSplitter) Stale(yield func(Unit)) { s.scan(true, yield) }

// Buffered implements Splitter.
func (s *IDGSplitter) Buffered() int { return len(s.buf) }

// Junk implements Splitter.
func (s *IDGSplitter) Junk() int { return s.junk }

func (s *IDGSplitter) scan(flush bool, yield func(Unit)) {
	for {
		i := bytes.Index(s.buf, idgHeader)
		if i < 0 {
			// Keep a tail that may be the start of a header.
			keep := 0
			if !flush {
				for k := min(len(s.buf), len(idgHeader)-1); k > 0; k-- {
					if bytes.HasPrefix(idgHeader, s.buf[len(s.buf)-k:]) {
						keep = k
						break
					}
				}
			}
			s.drop(len(s.buf) - keep)
			return
		}
		s.drop(i)
		if len(s.buf) < 14 {
			if flush {
				yield(Unit{Err: ErrIncompleteFrame})
				s.drop(len(s.buf))
			}
			return
		}
		total := idgOverhead + (int(s.buf[12])<<8 | int(s.buf[13]))
		if total > MaxIDGFrame {
			s.drop(1)
			continue
		}
		if len(s.buf) < total {
			if !flush {
				return
			}
			yield(Unit{Err: ErrIncompleteFrame})
			s.drop(1)
			continue
		}
		if _, _, err := decrypt.ParseIDG(s.buf[:total]); err != nil {
			yield(Unit{Err: fmt.Errorf("%w: %w", ErrDamagedFrame, err)})
			s.drop(1)
			continue
		}
		yield(Unit{Frame: s.buf[:total:total]})
		s.consume(total)
	}
}

func (s *IDGSplitter) drop(n int) {
	for _, c := range s.buf[:n] {
		if c != 0 {
			s.junk++
		}
	}
	s.consume(n)
}

func (s *IDGSplitter) consume(n int) {
	if n == 0 {
		return
	}
	m := copy(s.buf, s.buf[n:])
	s.buf = s.buf[:m]
}
