package proto

import (
	"bytes"
	"testing"
)

func feedChunks(s Splitter, data []byte, chunk int, y func(Unit), check func()) {
	for len(data) > 0 {
		n := min(chunk, len(data))
		s.Feed(data[:n], y)
		data = data[n:]
		check()
	}
}

func FuzzIDTechSplitter(f *testing.F) {
	a, b := swipeFrame(f), load(f, "idtech_ms246_original.hex")
	f.Add(a, uint8(7))
	f.Add(cat([]byte{2, 0, 2, 'x'}, a, []byte("junk"), b), uint8(63))
	f.Add(cat(a[:100], b, make([]byte, 40)), uint8(1))
	f.Add(bytes.Repeat([]byte{2, 5, 0, 0x80, 3}, 50), uint8(200))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var s IDTechSplitter
		y := func(u Unit) {
			if u.Err != nil {
				return
			}
			fr := u.Frame
			if len(fr) < 6 || fr[0] != stx || fr[len(fr)-1] != etx || int(fr[1])|int(fr[2])<<8 != len(fr)-6 {
				t.Fatalf("malformed frame of %d bytes", len(fr))
			}
		}
		check := func() {
			if s.Buffered() > MaxIDTechFrame {
				t.Fatalf("%d bytes buffered", s.Buffered())
			}
		}
		feedChunks(&s, data, int(chunk)+1, y, check)
		s.Stale(y)
		if s.Buffered() != 0 {
			t.Fatalf("%d bytes left after Stale", s.Buffered())
		}
		// A valid frame between junk without STX is always found, whole.
		junk := bytes.ReplaceAll(data, []byte{stx}, nil)
		var frames [][]byte
		var errs int
		s2 := &IDTechSplitter{}
		y2 := func(u Unit) {
			if u.Err != nil {
				errs++
				return
			}
			frames = append(frames, bytes.Clone(u.Frame))
		}
		feedChunks(s2, cat(junk, a, junk), int(chunk)+1, y2, func() {})
		s2.Stale(y2)
		if len(frames) != 1 || !bytes.Equal(frames[0], a) || errs != 0 {
			t.Fatalf("frame after junk: %d frames, %d errors", len(frames), errs)
		}
	})
}

func FuzzIDGSplitter(f *testing.F) {
	swipe := load(f, "idtech_vp3350_0240_swipe_frame.hex")
	ping := response(0x18, 0, nil)
	f.Add(swipe, uint8(10))
	f.Add(cat([]byte("ViVOtech2\x00\xff\xff"), ping, []byte("ViVOt")), uint8(3))
	f.Add(load(f, "idtech_vp3300_ble_poll_response_padded.hex"), uint8(255))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var s IDGSplitter
		y := func(u Unit) {
			if u.Err == nil && !bytes.HasPrefix(u.Frame, idgHeader) {
				t.Fatal("frame without header")
			}
		}
		feedChunks(&s, data, int(chunk)+1, y, func() {
			if s.Buffered() > MaxIDGFrame {
				t.Fatalf("%d bytes buffered", s.Buffered())
			}
		})
		s.Stale(y)
		if s.Buffered() != 0 {
			t.Fatalf("%d bytes left after Stale", s.Buffered())
		}
		junk := data
		for bytes.Contains(junk, idgHeader) {
			junk = bytes.ReplaceAll(junk, idgHeader, nil)
		}
		var n, errs int
		s2 := &IDGSplitter{}
		y2 := func(u Unit) {
			if u.Err != nil {
				errs++
			} else if bytes.Equal(u.Frame, ping) {
				n++
			}
		}
		feedChunks(s2, cat(junk, ping, junk), int(chunk)+1, y2, func() {})
		if n != 1 {
			t.Fatalf("ping after junk found %d times (%d errors)", n, errs)
		}
	})
}

func FuzzLineSplitter(f *testing.F) {
	f.Add(cat(load(f, "magtek_v5_kb_string.txt"), []byte("\r\n")), uint8(9))
	f.Add([]byte("\r\r\n\nabc\rdef"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var s LineSplitter
		y := func(u Unit) {
			if u.Err != nil {
				return
			}
			if len(u.Frame) == 0 || len(u.Frame) > MaxLine || bytes.ContainsAny(u.Frame, "\r\n") {
				t.Fatalf("bad line of %d bytes", len(u.Frame))
			}
		}
		feedChunks(&s, data, int(chunk)+1, y, func() {
			if s.Buffered() > MaxLine {
				t.Fatalf("%d bytes buffered", s.Buffered())
			}
		})
		s.Stale(y)
	})
}

// BenchmarkIDTechSplitter measures the splitter on a serial-like stream:
// frames with junk between them, in 64-byte reads.
func BenchmarkIDTechSplitter(b *testing.B) {
	a, m := swipeFrame(b), load(b, "idtech_ms246_original.hex")
	var stream []byte
	for range 16 {
		stream = append(stream, a...)
		stream = append(stream, "\x00\xffjunk\x02"...)
		stream = append(stream, m...)
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	var s IDTechSplitter
	frames := 0
	y := func(u Unit) {
		if u.Err == nil {
			frames++
		}
	}
	for b.Loop() {
		for i := 0; i < len(stream); i += 64 {
			s.Feed(stream[i:min(i+64, len(stream))], y)
		}
	}
	if frames != 32*b.N {
		b.Fatalf("%d frames, want %d", frames, 32*b.N)
	}
}

// FuzzCardDecision: any completion answer a reader sends gives a decision
// or an error, never a panic, and an approval only with a TC.
func FuzzCardDecision(f *testing.F) {
	f.Add([]byte{0x8A, 0x02, '0', '0', 0x9F, 0x27, 0x01, 0x40})
	f.Add([]byte{0x8A, 0x02, 'Z', '3', 0x9F, 0x27, 0x01, 0x00})
	f.Add([]byte{0xC0, 0x9F, 0x27, 0x01, 0x80})
	f.Add([]byte{0x9F, 0x27, 0x05, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := cardDecision(data)
		if err == nil && d.Approved != (d.Cryptogram == "TC") {
			t.Fatalf("decision %+v", d)
		}
	})
}
