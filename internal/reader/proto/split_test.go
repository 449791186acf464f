package proto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/decrypt"
)

func load(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if strings.HasSuffix(name, ".hex") {
		h, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	return []byte(s)
}

// swipeFrame is the enhanced MSR frame inside the VP3350 capture (312 bytes).
func swipeFrame(t testing.TB) []byte {
	vp := load(t, "idtech_vp3350_0240_swipe_frame.hex")
	i := bytes.Index(vp, []byte{0xDF, 0xEE, 0x23, 0x82})
	return vp[i+6 : i+6+312]
}

// collect feeds chunks and returns the frames (hex) and errors yielded.
func collect(s Splitter, chunks [][]byte, stale bool) (frames []string, errs []error) {
	y := func(u Unit) {
		if u.Err != nil {
			errs = append(errs, u.Err)
			return
		}
		frames = append(frames, hex.EncodeToString(u.Frame))
	}
	for _, c := range chunks {
		s.Feed(c, y)
	}
	if stale {
		s.Stale(y)
	}
	return frames, errs
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestIDTechSplitter(t *testing.T) {
	a, b := swipeFrame(t), load(t, "idtech_ms246_original.hex")
	damagedETX := bytes.Clone(a)
	damagedETX[len(damagedETX)-1] = 0x04
	falseSTX := []byte{0x02, 0x00, 0x02} // says 512 bytes follow
	tests := []struct {
		name   string
		chunks [][]byte
		stale  bool
		want   [][]byte
		errs   []error
		junk   int
	}{
		{name: "one frame", chunks: [][]byte{a}, want: [][]byte{a}},
		{name: "two frames in one read", chunks: [][]byte{cat(a, b)}, want: [][]byte{a, b}},
		{name: "junk around", chunks: [][]byte{cat([]byte("xx\x03"), a, []byte("\xff\xfe"), b, []byte("zz"))}, want: [][]byte{a, b}, junk: 7},
		{name: "zero fill is not junk", chunks: [][]byte{cat(a, make([]byte, 200), b, make([]byte, 64))}, want: [][]byte{a, b}},
		{name: "split across reads", chunks: [][]byte{a[:1], a[1:3], a[3:200], a[200:], b[:10], b[10:]}, want: [][]byte{a, b}},
		{name: "false STX before a frame", chunks: [][]byte{cat(falseSTX, a)}, want: [][]byte{a}, junk: 2},
		{name: "false STX, frame split", chunks: [][]byte{cat(falseSTX, a[:100]), a[100:]}, want: [][]byte{a}, junk: 2},
		{name: "ETX missing", chunks: [][]byte{cat(damagedETX, b)}, want: [][]byte{b}, errs: []error{ErrDamagedFrame}},
		{name: "incomplete then silence", chunks: [][]byte{a[:100]}, stale: true, errs: []error{ErrIncompleteFrame}},
		{name: "cut frame then a whole one", chunks: [][]byte{a[:100], b}, stale: true, want: [][]byte{b}, errs: []error{ErrIncompleteFrame}},
		{name: "junk only", chunks: [][]byte{[]byte("hello world")}, stale: true, junk: 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s IDTechSplitter
			frames, errs := collect(&s, tc.chunks, tc.stale)
			var want []string
			for _, w := range tc.want {
				want = append(want, hex.EncodeToString(w))
			}
			if strings.Join(frames, ",") != strings.Join(want, ",") {
				t.Errorf("got %d frames, want %d", len(frames), len(want))
			}
			if len(errs) != len(tc.errs) {
				t.Fatalf("errors %v, want %v", errs, tc.errs)
			}
			for i := range errs {
				if !errors.Is(errs[i], tc.errs[i]) {
					t.Errorf("error %v, want %v", errs[i], tc.errs[i])
				}
			}
			if tc.junk != 0 && s.Junk() != tc.junk {
				t.Errorf("junk %d, want %d", s.Junk(), tc.junk)
			}
			if tc.stale && s.Buffered() != 0 {
				t.Errorf("%d bytes left after Stale", s.Buffered())
			}
		})
	}
}

// Every split point of a frame gives the frame back.
func TestIDTechSplitterEverySplit(t *testing.T) {
	a := swipeFrame(t)
	for i := 1; i < len(a); i++ {
		var s IDTechSplitter
		frames, errs := collect(&s, [][]byte{[]byte("junk"), a[:i], a[i:]}, false)
		if len(frames) != 1 || len(errs) != 0 || s.Buffered() != 0 {
			t.Fatalf("split at %d: %d frames, %v", i, len(frames), errs)
		}
	}
}

// Endless junk never grows the buffer past its cap.
func TestSplittersBounded(t *testing.T) {
	junk := bytes.Repeat([]byte{0x02, 0xFF, 0x0F, 'V', 'i', 'V', 'O', 0x41}, 4096)
	for name, s := range map[string]Splitter{"idtech": &IDTechSplitter{}, "line": &LineSplitter{}, "idg": &IDGSplitter{}} {
		for i := 0; i < len(junk); i += 333 {
			s.Feed(junk[i:min(i+333, len(junk))], func(Unit) {})
			if s.Buffered() > MaxIDGFrame {
				t.Fatalf("%s: %d bytes buffered", name, s.Buffered())
			}
		}
	}
	var l LineSplitter
	frames, errs := collect(&l, [][]byte{bytes.Repeat([]byte("A"), MaxLine+10), []byte("\rok\r")}, false)
	if len(errs) != 1 || !errors.Is(errs[0], ErrLineTooLong) || len(frames) != 1 || frames[0] != hex.EncodeToString([]byte("ok")) {
		t.Errorf("long line: %v %v", frames, errs)
	}
}

func TestLineSplitter(t *testing.T) {
	kb := load(t, "magtek_v5_kb_string.txt")
	tests := []struct {
		name   string
		chunks [][]byte
		stale  bool
		want   []string
	}{
		{"CR", [][]byte{cat(kb, []byte("\r"))}, false, []string{string(kb)}},
		{"CRLF and blank lines", [][]byte{cat([]byte("\r\n\n"), kb, []byte("\r\n"), kb, []byte("\n"))}, false, []string{string(kb), string(kb)}},
		{"split", [][]byte{kb[:10], kb[10:300], cat(kb[300:], []byte("\r"))}, false, []string{string(kb)}},
		{"no terminator, then silence", [][]byte{kb}, true, []string{string(kb)}},
		{"no terminator, no silence", [][]byte{kb}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s LineSplitter
			frames, errs := collect(&s, tc.chunks, tc.stale)
			var want []string
			for _, w := range tc.want {
				want = append(want, hex.EncodeToString([]byte(w)))
			}
			if strings.Join(frames, ",") != strings.Join(want, ",") || len(errs) != 0 {
				t.Errorf("got %d lines (%v), want %d", len(frames), errs, len(want))
			}
		})
	}
}

func response(cmd, status byte, data []byte) []byte {
	b := append([]byte("ViVOtech2\x00"), cmd, status, byte(len(data)>>8), byte(len(data)))
	b = append(b, data...)
	crc := decrypt.CRC16CCITT(b)
	return append(b, byte(crc>>8), byte(crc))
}

func TestIDGSplitter(t *testing.T) {
	swipe := load(t, "idtech_vp3350_0240_swipe_frame.hex")
	ping := response(0x18, 0, nil)
	ble := load(t, "idtech_vp3300_ble_poll_response_padded.hex") // a frame + 2004 zero bytes
	cmd := decrypt.AppendIDG(nil, 0x12, 0x01, nil)               // CRC LSB first
	bad := bytes.Clone(ping)
	bad[len(bad)-1] ^= 1
	tests := []struct {
		name   string
		chunks [][]byte
		stale  bool
		want   [][]byte
		errs   int
	}{
		{name: "one", chunks: [][]byte{swipe}, want: [][]byte{swipe}},
		{name: "split", chunks: [][]byte{swipe[:5], swipe[5:13], swipe[13:200], swipe[200:]}, want: [][]byte{swipe}},
		{name: "junk and a header prefix", chunks: [][]byte{cat([]byte("ViVO\x00junk"), ping, []byte("ViVOtec")), cat([]byte("h2\x00"), ping[10:])}, want: [][]byte{ping, ping}},
		{name: "zero padding", chunks: [][]byte{ble, ping}, want: [][]byte{ble[:16], ping}},
		{name: "either CRC order", chunks: [][]byte{cat(cmd, ping)}, want: [][]byte{cmd, ping}},
		{name: "bad CRC", chunks: [][]byte{cat(bad, ping)}, want: [][]byte{ping}, errs: 1},
		{name: "cut", chunks: [][]byte{swipe[:100]}, stale: true, errs: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s IDGSplitter
			frames, errs := collect(&s, tc.chunks, tc.stale)
			var want []string
			for _, w := range tc.want {
				want = append(want, hex.EncodeToString(w))
			}
			if strings.Join(frames, ",") != strings.Join(want, ",") {
				t.Errorf("got %d frames, want %d", len(frames), len(want))
			}
			if len(errs) != tc.errs {
				t.Errorf("errors %v, want %d", errs, tc.errs)
			}
		})
	}
}
