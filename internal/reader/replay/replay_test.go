package replay

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if len(files) < 6 {
		t.Fatalf("only %d transcripts", len(files))
	}
	for _, f := range files {
		tr, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tr.Write(&buf); err != nil {
			t.Fatal(err)
		}
		orig, _ := os.ReadFile(f)
		if buf.String() != string(orig) {
			t.Errorf("%s: Write(Parse(file)) differs from the file", f)
		}
	}
}

func TestParseErrors(t *testing.T) {
	head := Magic + "\ndevice transport=serial protocol=idtech\n"
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"no magic", "hello\n", "line 1"},
		{"no device", Magic + "\n+0ms attach\n", "before the device line"},
		{"no device at all", Magic + "\n# only a comment\n", "no device line"},
		{"bad transport", Magic + "\ndevice transport=usb protocol=x\n", "transport must be"},
		{"no protocol", Magic + "\ndevice transport=hid\n", "protocol missing"},
		{"bad vid", Magic + "\ndevice transport=hid protocol=x vid=zz\n", "vid"},
		{"bad quote", Magic + "\ndevice transport=hid protocol=x model=\"abc\n", "quoting"},
		{"two devices", head + "device transport=serial protocol=idtech\n", "second device"},
		{"bad delay", head + "+soon in 00\n", "bad delay"},
		{"negative delay", head + "+-5ms in 00\n", "bad delay"},
		{"unknown kind", head + "+0ms teleport\n", "unknown event"},
		{"bad hex", head + "+0ms in zz\n", "not hex"},
		{"odd hex", head + "+0ms out 123\n", "not hex"},
		{"missing arg", head + "+0ms feature 00\n", "takes 2"},
		{"extra arg", head + "+0ms in 00 11\n", "takes 1"},
		{"long line", head + "+0ms in " + strings.Repeat("00", maxLine) + "\n", "too long"},
	}
	for _, tc := range tests {
		_, err := Parse(strings.NewReader(tc.in))
		if !errors.Is(err, ErrTranscript) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	tr, err := Parse(strings.NewReader(head + "\n# note\n+1s in 0102\n+0ms refused 3 bytes: why\n+5ms feature - 00\n"))
	if err != nil || len(tr.Events) != 3 || tr.Events[0].Delay != time.Second || tr.Events[1].Note != "3 bytes: why" || !tr.Events[2].NoRequest {
		t.Errorf("Parse = %+v, %v", tr, err)
	}
}

func TestHeaderQuoting(t *testing.T) {
	h := Header{Transport: "hid", Protocol: "magtek-hid", Model: `Odd "model" = x`, VID: 0x801, PID: 0x11, FeatureSize: 24}
	tr, err := Parse(strings.NewReader(Magic + "\n" + h.String() + "\n"))
	if err != nil || tr.Header != h {
		t.Fatalf("got %+v, %v; want %+v", tr.Header, err, h)
	}
}

func mustParse(t *testing.T, s string) *Transcript {
	t.Helper()
	tr, err := Parse(strings.NewReader(Magic + "\ndevice transport=serial protocol=vivopay\n" + s))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestPlayer(t *testing.T) {
	tr := mustParse(t, "+0ms attach\n+0ms out 0102\n+0ms in 0a0b0c\n+0ms refused 9 bytes: x\n+50ms in 0d\n+0ms detach\n")
	p := NewPlayer(tr)
	p.Speed = 1
	p.Poll = 10 * time.Millisecond
	buf := make([]byte, 2)
	// The "in" after an "out" waits for the host's write.
	if n, err := p.Read(buf); n != 0 || err != nil {
		t.Fatalf("Read before the write = %d, %v", n, err)
	}
	if _, err := p.Write([]byte{1, 3}); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong write: %v", err)
	}
	if _, err := p.Write([]byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	var got []byte
	start := time.Now()
	for {
		n, err := p.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
	}
	if !bytes.Equal(got, []byte{0xa, 0xb, 0xc, 0xd}) {
		t.Errorf("read % x", got)
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Errorf("the 50ms delay was not kept")
	}
	if !p.Done() {
		t.Error("not done")
	}
	if _, err := p.Write([]byte{1}); !errors.Is(err, ErrMismatch) {
		t.Errorf("write past the end: %v", err)
	}
	p.Close()
	if _, err := p.Read(buf); err == nil {
		t.Error("Read after Close succeeded")
	}
}

func TestPlayerFeatures(t *testing.T) {
	tr := mustParse(t, "+0ms feature 0001 0a0b\n+0ms feature 0002 -\n+0ms feature - 0c\n")
	p := NewPlayer(tr)
	b := make([]byte, 4)
	if _, err := p.GetFeatureReport(b); err == nil {
		t.Error("Get before any Send succeeded")
	}
	if _, err := p.SendFeatureReport([]byte{0, 9}); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong request: %v", err)
	}
	if _, err := p.SendFeatureReport([]byte{0, 1}); err != nil {
		t.Fatal(err)
	}
	if n, err := p.GetFeatureReport(b); err != nil || !bytes.Equal(b[:n], []byte{0xa, 0xb}) {
		t.Fatalf("Get = % x, %v", b[:n], err)
	}
	if _, err := p.SendFeatureReport([]byte{0, 2}); err != nil {
		t.Fatal(err)
	}
	if n, err := p.GetFeatureReport(b); err != nil || !bytes.Equal(b[:n], []byte{0xc}) {
		t.Fatalf("reply-only Get = % x, %v", b[:n], err)
	}
	if _, err := p.SendFeatureReport([]byte{0, 3}); !errors.Is(err, ErrMismatch) {
		t.Errorf("Send past the end: %v", err)
	}
}

func TestSameCommand(t *testing.T) {
	a := []byte("ViVOtech2\x00\x02\x01\x00\x01\x1e\xaa\xbb")
	b := []byte("ViVOtech2\x00\x02\x01\x00\x01\x3c\xcc\xdd")
	c := []byte("ViVOtech2\x00\x05\x01\x00\x00\xcc\xdd")
	if !SameCommand(a, b) || SameCommand(a, c) || SameCommand([]byte{1}, []byte{2}) || !SameCommand([]byte{1}, []byte{1}) {
		t.Error("SameCommand wrong")
	}
}

func TestClear(t *testing.T) {
	const pan = "4111111111111111"
	kb := capture(t, "magtek_v5_kb_string.txt")
	tests := []struct {
		name  string
		in    []byte
		clear bool
	}{
		{"MagneSafe line masked with zeros", append(kb, '\r'), false},
		{"MagTek HID report", capture(t, "magtek_v5_hid_report_856.hex"), false},
		{"ID TECH frame", capture(t, "idtech_ms246_original.hex"), false},
		{"IDG swipe", capture(t, "idtech_vp3350_0240_swipe_frame.hex"), false},
		{"IDG clear contactless", capture(t, "idtech_vendi_neo_0300_unencrypted_frame.hex"), true},
		{"keyboard wedge track 1", []byte("%B" + pan + "^DOE/J^2512?\r"), true},
		{"track 2 only", []byte(";" + pan + "=2512101?"), true},
		{"track 2 inside binary", append([]byte{0, 1, 2}, ";"+pan+"=25"...), true},
		{"masked inside binary", append([]byte{0xff}, "%*4111********1111^DOE/J^?;4111********1111=?"...), false},
		{"masked tracks alone (decrypt refuses a line without encryption)", []byte("%*4111********1111^DOE/J^?"), true},
		{"too few digits", []byte(";12345=1"), false},
		{"noise", []byte("hello"), false},
	}
	for _, tc := range tests {
		reason, clear := Clear(tc.in)
		if clear != tc.clear {
			t.Errorf("%s: Clear = %v (%s)", tc.name, clear, reason)
		}
		if strings.Contains(reason, "4111") {
			t.Errorf("%s: reason holds card data: %s", tc.name, reason)
		}
	}
}

// fakeStream serves reads and records writes for recorder tests.
type fakeStream struct {
	reads [][]byte
	wrote []byte
}

func (f *fakeStream) Read(p []byte) (int, error) {
	if len(f.reads) == 0 {
		return 0, io.EOF
	}
	r := f.reads[0]
	f.reads = f.reads[1:]
	return copy(p, r), nil
}
func (f *fakeStream) Write(p []byte) (int, error) {
	f.wrote = append(f.wrote, p...)
	return len(p), nil
}
func (f *fakeStream) Close() error { return nil }

// A clear track split over three reads, between encrypted traffic, is
// refused whole; the rest is recorded and plays back byte for byte.
func TestRecorderStream(t *testing.T) {
	const pan = "4111111111111111"
	kb := capture(t, "magtek_v5_kb_string.txt")
	clear := "%B" + pan + "^DOE/J^2512101?;" + pan + "=2512101?\r"
	reads := [][]byte{kb[:100], kb[100:], {'\r'}, nil, []byte(clear[:5]), []byte(clear[5:20]), []byte(clear[20:]), []byte("tail")}
	var buf bytes.Buffer
	rec, err := NewRecorder(&buf, Header{Transport: "serial", Protocol: "magtek"})
	if err != nil {
		t.Fatal(err)
	}
	s := rec.Stream(&fakeStream{reads: reads})
	p := make([]byte, 1024)
	for {
		if _, err := s.Read(p); err != nil {
			break
		}
	}
	s.Write([]byte("cmd"))
	s.Close()
	text := buf.String()
	for _, leak := range []string{pan, "3431313131", "DOE"} {
		if strings.Contains(strings.ToUpper(text), strings.ToUpper(leak)) {
			t.Fatalf("transcript leaks %q:\n%s", leak, text)
		}
	}
	tr, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var in []byte
	for _, e := range tr.Events {
		kinds = append(kinds, e.Kind)
		if e.Kind == KindIn {
			in = append(in, e.Data...)
		}
	}
	// "tail" was held when the stream ended and is written at the detach.
	if got := strings.Join(kinds, " "); got != "attach in in in refused in detach out" {
		t.Errorf("events %s", got)
	}
	if !bytes.Equal(in, append(append(kb, '\r'), "tail"...)) {
		t.Errorf("recorded input differs")
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, fn := range files {
		b, _ := os.ReadFile(fn)
		f.Add(b)
	}
	f.Add([]byte(Magic + "\ndevice transport=hid protocol=x model=\"a b\"\n+1h in 00\n+0ms feature - -\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		tr, err := Parse(bytes.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		tr.Write(&buf)
		tr2, err := Parse(&buf)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(tr2.Events) != len(tr.Events) || tr2.Header != tr.Header {
			t.Fatal("round trip changed the transcript")
		}
	})
}

func FuzzClear(f *testing.F) {
	for _, c := range []string{"magtek_v5_kb_string.txt", "idtech_ms246_original.hex", "idtech_vp3350_0240_swipe_frame.hex", "idtech_vendi_neo_0300_unencrypted_frame.hex"} {
		f.Add(capture(f, c))
	}
	f.Add([]byte(";4111111111111111=2512"))
	f.Fuzz(func(t *testing.T, in []byte) {
		reason, _ := Clear(in)
		if len(reason) > 300 {
			t.Fatalf("reason of %d bytes", len(reason))
		}
	})
}
