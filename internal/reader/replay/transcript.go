package replay

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Magic is the first line of every transcript.
const Magic = "# posagent transcript v1"

// Limits that keep a damaged or hostile transcript from costing much.
const (
	maxLine   = 1 << 20 // one event line: hex of the largest chunk
	maxEvents = 1 << 16
)

// Event kinds of a transcript line.
const (
	KindAttach  = "attach"
	KindIn      = "in"
	KindOut     = "out"
	KindFeature = "feature"
	KindRefused = "refused"
	KindDetach  = "detach"
)

// ErrTranscript is wrapped by every transcript parse error.
var ErrTranscript = errors.New("bad transcript")

// Header describes the recorded device.
type Header struct {
	Transport   string // serial or hid
	Protocol    string // an internal/reader/proto protocol name
	Vendor      string
	Model       string
	Serial      string
	Path        string
	VID, PID    uint16
	Baud        int
	ReportSize  int // vivopay-hid output report size
	FeatureSize int // magtek-hid feature report size
}

// Event is one transcript line.
type Event struct {
	Delay time.Duration // since the previous event
	Kind  string
	Data  []byte // in, out; feature request
	Reply []byte // feature reply
	Note  string // refused reason
	// NoRequest and NoReply mark a "-" on a feature line.
	NoRequest, NoReply bool
}

// Transcript is a parsed transcript.
type Transcript struct {
	Header Header
	Events []Event
}

// String renders the device line.
func (h Header) String() string {
	var b strings.Builder
	b.WriteString("device")
	kv := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(" " + k + "=")
		if strings.ContainsAny(v, " \t\"=") {
			b.WriteString(strconv.Quote(v))
		} else {
			b.WriteString(v)
		}
	}
	kv("transport", h.Transport)
	if h.VID != 0 || h.PID != 0 {
		kv("vid", fmt.Sprintf("%04x", h.VID))
		kv("pid", fmt.Sprintf("%04x", h.PID))
	}
	kv("vendor", h.Vendor)
	kv("model", h.Model)
	kv("protocol", h.Protocol)
	kv("serial", h.Serial)
	kv("path", h.Path)
	if h.Baud > 0 {
		kv("baud", strconv.Itoa(h.Baud))
	}
	if h.ReportSize > 0 {
		kv("report_size", strconv.Itoa(h.ReportSize))
	}
	if h.FeatureSize > 0 {
		kv("feature_size", strconv.Itoa(h.FeatureSize))
	}
	return b.String()
}

// AppendEvent renders one event line (without the newline).
func AppendEvent(dst []byte, e Event) []byte {
	dst = fmt.Appendf(dst, "+%dms %s", e.Delay.Milliseconds(), e.Kind)
	hexOrDash := func(b []byte, none bool) {
		dst = append(dst, ' ')
		if none {
			dst = append(dst, '-')
			return
		}
		dst = hex.AppendEncode(dst, b)
	}
	switch e.Kind {
	case KindIn, KindOut:
		hexOrDash(e.Data, false)
	case KindFeature:
		hexOrDash(e.Data, e.NoRequest)
		hexOrDash(e.Reply, e.NoReply)
	case KindRefused:
		dst = append(dst, ' ')
		dst = append(dst, e.Note...)
	}
	return dst
}

// Load reads a transcript file.
func Load(path string) (*Transcript, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// LoadHeader reads the header of a transcript file only (cheap: for Scan).
func LoadHeader(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, err
	}
	defer f.Close()
	t, err := parse(f, true)
	if err != nil {
		return Header{}, fmt.Errorf("%s: %w", path, err)
	}
	return t.Header, nil
}

// Parse reads a transcript.
func Parse(r io.Reader) (*Transcript, error) { return parse(r, false) }

func parse(r io.Reader, headerOnly bool) (*Transcript, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	t := &Transcript{}
	n := 0
	sawDevice := false
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			if line != Magic {
				return nil, fmt.Errorf("%w: line 1 must be %q", ErrTranscript, Magic)
			}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "device ") || line == "device" {
			if sawDevice {
				return nil, fmt.Errorf("%w: line %d: a second device line", ErrTranscript, n)
			}
			h, err := parseHeader(line)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %w", ErrTranscript, n, err)
			}
			t.Header, sawDevice = h, true
			if headerOnly {
				return t, nil
			}
			continue
		}
		if !sawDevice {
			return nil, fmt.Errorf("%w: line %d: events before the device line", ErrTranscript, n)
		}
		e, err := parseEvent(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrTranscript, n, err)
		}
		if len(t.Events) >= maxEvents {
			return nil, fmt.Errorf("%w: more than %d events", ErrTranscript, maxEvents)
		}
		t.Events = append(t.Events, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", ErrTranscript, n+1, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty", ErrTranscript)
	}
	if !sawDevice {
		return nil, fmt.Errorf("%w: no device line", ErrTranscript)
	}
	return t, nil
}

func parseHeader(line string) (Header, error) {
	var h Header
	rest := strings.TrimSpace(strings.TrimPrefix(line, "device"))
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return h, fmt.Errorf("device line: want key=value, got %q", cut(rest))
		}
		key := rest[:eq]
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return h, fmt.Errorf("device line: %s: bad quoting", key)
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			sp := strings.IndexAny(rest, " \t")
			if sp < 0 {
				sp = len(rest)
			}
			val, rest = rest[:sp], rest[sp:]
		}
		rest = strings.TrimLeft(rest, " \t")
		var err error
		switch key {
		case "transport":
			h.Transport = val
		case "protocol":
			h.Protocol = val
		case "vendor":
			h.Vendor = val
		case "model":
			h.Model = val
		case "serial":
			h.Serial = val
		case "path":
			h.Path = val
		case "vid":
			h.VID, err = parseHex16(val)
		case "pid":
			h.PID, err = parseHex16(val)
		case "baud":
			h.Baud, err = parseSize(val)
		case "report_size":
			h.ReportSize, err = parseSize(val)
		case "feature_size":
			h.FeatureSize, err = parseSize(val)
		default:
			// Unknown keys are kept out but allowed: later versions may add some.
		}
		if err != nil {
			return h, fmt.Errorf("device line: %s: %w", key, err)
		}
	}
	if h.Transport != "serial" && h.Transport != "hid" {
		return h, fmt.Errorf("device line: transport must be serial or hid, not %q", h.Transport)
	}
	if h.Protocol == "" {
		return h, errors.New("device line: protocol missing")
	}
	return h, nil
}

func parseHex16(s string) (uint16, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("not a 16-bit hex number")
	}
	return uint16(v), nil
}

func parseSize(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > 1<<22 {
		return 0, fmt.Errorf("not a size")
	}
	return v, nil
}

func cut(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

func parseEvent(line string) (Event, error) {
	var e Event
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "+") {
		return e, errors.New("want +<delay> <kind> …")
	}
	d, err := time.ParseDuration(f[0][1:])
	if err != nil || d < 0 || d > 24*time.Hour {
		return e, fmt.Errorf("bad delay %q", cut(f[0]))
	}
	e.Delay, e.Kind = d, f[1]
	args := f[2:]
	want := 0
	switch e.Kind {
	case KindAttach, KindDetach:
	case KindIn, KindOut:
		want = 1
	case KindFeature:
		want = 2
	case KindRefused:
		_, after, _ := strings.Cut(line, KindRefused)
		e.Note = strings.TrimSpace(after)
		return e, nil
	default:
		return e, fmt.Errorf("unknown event %q", cut(e.Kind))
	}
	if len(args) != want {
		return e, fmt.Errorf("%s takes %d argument(s), got %d", e.Kind, want, len(args))
	}
	decode := func(s string, none *bool) ([]byte, error) {
		if s == "-" && none != nil {
			*none = true
			return nil, nil
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("%s: not hex bytes", e.Kind)
		}
		return b, nil
	}
	switch e.Kind {
	case KindIn, KindOut:
		e.Data, err = decode(args[0], nil)
	case KindFeature:
		if e.Data, err = decode(args[0], &e.NoRequest); err == nil {
			e.Reply, err = decode(args[1], &e.NoReply)
		}
	}
	return e, err
}

// Write renders a transcript.
func (t *Transcript) Write(w io.Writer) error {
	var buf bytes.Buffer
	buf.WriteString(Magic + "\n")
	buf.WriteString(t.Header.String() + "\n")
	for _, e := range t.Events {
		buf.Write(AppendEvent(nil, e))
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}
