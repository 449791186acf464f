package serial

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/emv"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/replay"
)

var quiet = slog.New(slog.DiscardHandler)

// newPTY opens a pseudo-terminal and returns its master (the fake device's
// side) and the path of its slave (the port the driver opens).
func newPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	// Keep the slave open too: reading a master whose slave has no open
	// file fails with EIO, and the fake device starts before the driver
	// opens the port.
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave.Name()
}

// linkPTY makes a stable path (like /dev/serial/by-id/…) that points to a
// new pty's slave, so that a reconnect reuses the configured path.
func linkPTY(t *testing.T, link string) *os.File {
	t.Helper()
	master, path := newPTY(t)
	os.Remove(link)
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	return master
}

// session runs an opened reader and collects its events.
type session struct {
	r      reader.Reader
	events chan reader.Event
	done   chan error
	cancel context.CancelFunc
}

func open(t *testing.T, d *Driver, path string) *session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	r, err := d.Open(ctx, reader.Device{ID: ID(path)})
	if err != nil {
		cancel()
		t.Fatalf("Open: %v", err)
	}
	s := &session{r: r, events: make(chan reader.Event, 100), done: make(chan error, 1), cancel: cancel}
	go func() { s.done <- r.Run(ctx, func(ev reader.Event) { s.events <- ev }) }()
	t.Cleanup(func() { cancel(); r.Close() })
	return s
}

// next waits for the next event.
func (s *session) next(t *testing.T) reader.Event {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case err := <-s.done:
		t.Fatalf("Run ended (%v) while an event was expected", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return reader.Event{}
}

// end waits for Run to return and checks no event is left.
func (s *session) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		for len(s.events) > 0 {
			t.Errorf("unexpected event %s", summary(<-s.events))
		}
		return err
	case ev := <-s.events:
		t.Fatalf("unexpected event %s", summary(ev))
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s")
	}
	return nil
}

func summary(ev reader.Event) string {
	switch ev.Kind {
	case reader.EventCard:
		r := ev.Read
		return fmt.Sprintf("card %s %s %s serial=%s", r.Envelope.Format, r.MaskedPAN, r.EntryMode, r.Device.Serial)
	case reader.EventRefused:
		return "refused " + decrypt.CodeOf(ev.Err)
	case reader.EventPrompt:
		return "prompt " + string(ev.Prompt)
	}
	return string(ev.Kind)
}

// playDevice plays a transcript's device side on the pty master: "in"
// lines are written (delays scaled by speed), "out" lines are read and
// compared, "detach" closes the master (the cable is pulled).
func playDevice(t *testing.T, master *os.File, file string, speed float64) <-chan error {
	t.Helper()
	tr, err := replay.Load(filepath.Join("..", "replay", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			for _, e := range tr.Events {
				time.Sleep(time.Duration(float64(e.Delay) * speed))
				switch e.Kind {
				case replay.KindIn:
					if _, err := master.Write(e.Data); err != nil {
						return err
					}
				case replay.KindOut:
					got := make([]byte, len(e.Data))
					if _, err := io.ReadFull(master, got); err != nil {
						return err
					}
					if !replay.SameCommand(e.Data, got) {
						return fmt.Errorf("host wrote % x, want % x", got[:min(16, len(got))], e.Data[:min(16, len(e.Data))])
					}
				case replay.KindDetach:
					return master.Close()
				}
			}
			return nil
		}()
	}()
	return errc
}

// The recorded transcripts of each serial model, played by a fake device on
// a real pseudo-terminal and read through go.bug.st/serial.
func TestTranscriptsOverPTY(t *testing.T) {
	tests := []struct {
		file, protocol string
		arm            bool
		want           []string
	}{
		{"idtech_securemag_serial.txt", "idtech", false, []string{
			"card idtech 4761********0043 S serial=310T061040",
			"card idtech 4266********9999 S serial=",
			"refused bad_lrc",
		}},
		{"magtek_kb_serial.txt", "magtek", false, []string{
			"card magnesafe 5452********7189 S serial=",
		}},
		{"vp3350_idg_serial.txt", "vivopay", true, []string{
			"prompt present_card",
			"prompt processing",
			"card idtech 4761********0043 S serial=630Z000001",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			master, path := newPTY(t)
			d := &Driver{Ports: []Port{{Path: path, Protocol: tc.protocol}}, Log: quiet}
			// The device answers the handshake while Open runs.
			played := playDevice(t, master, tc.file, 0.1)
			s := open(t, d, path)
			if got := s.r.Info().Device.Serial; tc.protocol == "vivopay" && got != "630Z000001" {
				t.Errorf("serial after open = %q", got)
			}
			if tc.arm {
				if err := s.r.Arm(context.Background(), reader.Transaction{AmountCents: 1250}); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for range tc.want {
				ev := s.next(t)
				if ev.Time.IsZero() || ev.Reader.ID != ID(path) {
					t.Errorf("event %s: time %v, reader %q", ev.Kind, ev.Time, ev.Reader.ID)
				}
				got = append(got, summary(ev))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if err := <-played; err != nil {
				t.Errorf("device side: %v", err)
			}
			if err := s.end(t); !errors.Is(err, reader.ErrDetached) {
				t.Errorf("Run = %v, want ErrDetached after the master closed", err)
			}
		})
	}
}

// idtechFrame is the enhanced MSR frame inside the VP3350 capture.
func idtechFrame(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "replay", "testdata", "captures", "idtech_vp3350_0240_swipe_frame.hex"))
	if err != nil {
		t.Fatal(err)
	}
	vp := make([]byte, len(b)/2)
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%x", &vp); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(vp, []byte{0xDF, 0xEE, 0x23, 0x82})
	return vp[i+6 : i+6+312]
}

// Junk between frames, frames written a few bytes at a time, and a frame
// split across reads with a pause all give one read per frame.
func TestIDTechJunkAndPartialWrites(t *testing.T) {
	master, path := newPTY(t)
	d := &Driver{Ports: []Port{{Path: path, Protocol: "idtech", Baud: 115200}}, Log: quiet}
	s := open(t, d, path)
	frame := idtechFrame(t)
	var stream []byte
	for i := range 3 {
		stream = append(stream, []byte{0x02, 0x03, 0xFF, 'x', 0x02}[:i+2]...)
		stream = append(stream, frame...)
	}
	go func() {
		for len(stream) > 0 {
			n := min(len(stream), 7)
			master.Write(stream[:n])
			stream = stream[n:]
			if len(stream)%100 < 7 {
				time.Sleep(30 * time.Millisecond)
			}
		}
	}()
	for range 3 {
		if ev := s.next(t); ev.Kind != reader.EventCard || ev.Read.MaskedPAN != "4761********0043" {
			t.Fatalf("got %s", summary(ev))
		}
	}
}

// Pulling the cable mid-frame ends Run with ErrDetached and no read; the
// reader comes back on a new pty behind the same path.
func TestUnplugMidFrameAndReconnect(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyREADER")
	master := linkPTY(t, link)
	d := &Driver{Ports: []Port{{Path: link, Protocol: "idtech"}}, Log: quiet}
	devs, _ := d.Scan(context.Background())
	if len(devs) != 1 || devs[0].Broken != "" {
		t.Fatalf("Scan = %+v", devs)
	}
	s := open(t, d, link)
	frame := idtechFrame(t)
	master.Write(frame[:150])
	time.Sleep(100 * time.Millisecond)
	master.Close()
	os.Remove(link)
	if err := s.end(t); !errors.Is(err, reader.ErrDetached) {
		t.Fatalf("Run = %v, want ErrDetached", err)
	}
	if devs, _ := d.Scan(context.Background()); len(devs) != 0 {
		t.Fatalf("unplugged reader still scanned: %+v", devs)
	}

	master = linkPTY(t, link)
	if devs, _ := d.Scan(context.Background()); len(devs) != 1 {
		t.Fatalf("replugged reader not scanned: %+v", devs)
	}
	s = open(t, d, link)
	master.Write(frame)
	if ev := s.next(t); ev.Kind != reader.EventCard {
		t.Fatalf("after reconnect: %s", summary(ev))
	}
}

// A reader in clear mode is refused with "reader is not encrypting", and
// the event holds no card data.
func TestClearTrackRefused(t *testing.T) {
	master, path := newPTY(t)
	d := &Driver{Ports: []Port{{Path: path, Protocol: "magtek"}}, Log: quiet}
	s := open(t, d, path)
	const pan = "4111111111111111"
	master.Write([]byte("%B" + pan + "^DOE/JOHN^2512101000000000?;" + pan + "=25121010000000000?\r\n"))
	ev := s.next(t)
	if ev.Kind != reader.EventRefused || !errors.Is(ev.Err, decrypt.ErrClearTrackData) {
		t.Fatalf("got %s (%v)", summary(ev), ev.Err)
	}
	if msg := ev.Err.Error(); !strings.Contains(msg, "reader is not encrypting") || strings.Contains(msg, pan) {
		t.Errorf("error %q", msg)
	}
}

// fakeVP3300 answers IDG commands on the pty master like a VP3300, with
// the contact EMV state machine of the NEO 2 guide (card-formats.md §3.2):
// idle -> (02-01) a card answer; a contact card that goes online (status
// 23) leaves it waiting for Apply Host Response (60-12), refusing any other
// transaction (status 0B) until the host response comes or hostTimeout
// passes (then it is idle again and a late 60-12 is refused too).
//
// Each Activate Transaction takes the next scenario: "swipe" answers with
// the VP3350 capture, "fallback" with the same swipe flagged 9F39 80 (the
// chip could not be read), "chip" with the VP3300 contact capture and status
// 23 (auto-authenticate), "chip-auth" with a start answer without a
// cryptogram, so that the host must send Authenticate (60-11), "timeout"
// with status 08, "nack" with status 0A, and "hold" waits for Cancel
// (answering 05 00, then 02 08 as the reader does).
type fakeVP3300 struct {
	master    *os.File
	mu        sync.Mutex
	scenarios []string
	commands  []string
	swipe     []byte // an IDG frame
	contact   []byte // 02-40-style data: attribution byte, TLVs
	// secondAC is the card's cryptogram type at the second GENERATE AC
	// after an approval (8A "00"): 0x40 TC, 0x00 AAC (the card declines).
	secondAC byte
	// offline is the card's choice when told "unable to go online" (Z3).
	offline     byte
	hostTimeout time.Duration
	state       string // "", "auth", "host"
	hostSince   time.Time
	arcs        []string // the 8A values of the host responses
	tap         []byte   // contactless record TLVs
}

func respond(cmd, status byte, data []byte) []byte {
	b := append([]byte("ViVOtech2\x00"), cmd, status, byte(len(data)>>8), byte(len(data)))
	b = append(b, data...)
	crc := decrypt.CRC16CCITT(b)
	return append(b, byte(crc>>8), byte(crc))
}

func (f *fakeVP3300) run() {
	buf := make([]byte, 1024)
	var pending []byte
	for {
		n, err := f.master.Read(buf)
		if err != nil {
			return
		}
		pending = append(pending, buf[:n]...)
		for {
			fr, used, err := decrypt.ParseIDG(pending)
			if err != nil {
				break
			}
			pending = pending[used:]
			for _, out := range f.handle(fr) {
				f.master.Write(out)
			}
		}
	}
}

// handle is the reader's state machine: one command in, its answers out.
func (f *fakeVP3300) handle(fr decrypt.IDGFrame) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, fmt.Sprintf("%02X-%02X", fr.Cmd, fr.Sub))
	if f.state == "host" && f.hostTimeout > 0 && time.Since(f.hostSince) > f.hostTimeout {
		f.state = "" // the reader gave up on the host: the card decided alone
	}
	switch fr.Cmd {
	case 0x18:
		return [][]byte{respond(0x18, 0, nil)}
	case 0x12:
		return [][]byte{respond(0x12, 0, []byte("630Z000001\x00\x00\x00\x00\x00"))}
	case 0x05:
		if f.state == "host" {
			return [][]byte{respond(0x05, 0x0B, nil)}
		}
		f.state = ""
		return [][]byte{respond(0x05, 0, nil), respond(0x02, 0x08, nil)}
	case 0x02:
		if f.state != "" {
			return [][]byte{respond(0x02, 0x0B, nil)} // command not allowed
		}
		var sc string
		if len(f.scenarios) > 0 {
			sc, f.scenarios = f.scenarios[0], f.scenarios[1:]
		}
		switch sc {
		case "swipe":
			return [][]byte{f.swipe}
		case "fallback":
			in, _, _ := decrypt.ParseIDG(f.swipe)
			data := bytes.Replace(in.Data, []byte{0x9F, 0x39, 0x01, 0x90}, []byte{0x9F, 0x39, 0x01, 0x80}, 1)
			return [][]byte{respond(0x02, 0x00, data)}
		case "chip":
			f.state, f.hostSince = "host", time.Now()
			return [][]byte{respond(0x02, 0x23, f.contact)}
		case "chip-auth":
			f.state = "auth"
			return [][]byte{respond(0x02, 0x00, withoutCryptogram(f.contact))}
		case "chip-clear":
			// Encryption off: one clear 57, no KSN; the card waits all the same.
			d := emv.AppendTLV(nil, emv.MustTag("9F39"), []byte{0x05})
			d = emv.AppendTLV(d, emv.MustTag("57"), []byte{0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xD2, 0x51, 0x22, 0x01, 0x1F})
			f.state, f.hostSince = "host", time.Now()
			return [][]byte{respond(0x02, 0x23, d)}
		case "tap":
			return [][]byte{respond(0x02, 0x23, f.tap)} // online request, one step
		case "timeout":
			return [][]byte{respond(0x02, 0x08, nil)}
		case "nack":
			return [][]byte{respond(0x02, 0x0A, []byte{0x20, 0x6A, 0x82, 0x00})}
		}
		return nil // hold
	case 0x60:
		switch {
		case fr.Sub == 0x11 && f.state == "auth":
			f.state, f.hostSince = "host", time.Now()
			return [][]byte{respond(0x60, 0x23, f.contact)}
		case fr.Sub == 0x12 && f.state == "host":
			f.state = ""
			tlvs, _, err := emv.Decode(fr.Data)
			a, ok := emv.Find(tlvs, emv.MustTag("8A"))
			if err != nil || !ok {
				return [][]byte{respond(0x60, 0x05, nil)}
			}
			arc := string(a.Value)
			f.arcs = append(f.arcs, arc)
			cid := byte(0x00)
			switch arc {
			case "00":
				cid = f.secondAC
			case "Z3":
				cid = f.offline
			}
			out := emv.AppendTLV(nil, emv.MustTag("8A"), a.Value)
			out = emv.AppendTLV(out, emv.MustTag("9F27"), []byte{cid})
			return [][]byte{respond(0x60, 0x00, out)}
		}
		return [][]byte{respond(0x60, 0x0B, nil)}
	}
	return [][]byte{respond(fr.Cmd, 0x02, nil)} // unknown command
}

// idgCommand parses a command frame as the fake receives it.
func idgCommand(cmd, sub byte) decrypt.IDGFrame {
	f, _, _ := decrypt.ParseIDG(decrypt.AppendIDG(nil, cmd, sub, nil))
	return f
}

// withoutCryptogram drops 9F26 and 9F27 from the contact capture: a start
// answer before the first GENERATE AC.
func withoutCryptogram(d []byte) []byte {
	h := strings.ToUpper(hex.EncodeToString(d))
	for _, tlv := range []string{"9F260880E4775B5CB93C64", "9F270180"} {
		h = strings.Replace(h, tlv, "", 1)
	}
	b, _ := hex.DecodeString(h)
	return b
}

func readHex(t *testing.T, name string) []byte {
	t.Helper()
	return readHexAt(t, filepath.Join("..", "replay", "testdata", "captures", name))
}

func readHexAt(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVivopayFakeVP3300(t *testing.T) {
	master, path := newPTY(t)
	f := &fakeVP3300{master: master, scenarios: []string{"hold", "swipe", "timeout", "nack"},
		swipe: readHex(t, "idtech_vp3350_0240_swipe_frame.hex")}
	go f.run()
	d := &Driver{Ports: []Port{{Path: path, Protocol: "vivopay"}}, Log: quiet}
	s := open(t, d, path)
	if got := s.r.Info(); got.Device.Serial != "630Z000001" || !got.EMV {
		t.Errorf("Info = %+v", got)
	}
	ctx := context.Background()
	arm := func() {
		t.Helper()
		if err := s.r.Arm(ctx, reader.Transaction{AmountCents: 1250, Timeout: 30 * time.Second}); err != nil {
			t.Fatal(err)
		}
		if ev := s.next(t); summary(ev) != "prompt present_card" {
			f.mu.Lock()
			defer f.mu.Unlock()
			t.Fatalf("after Arm: %s (device saw %v)", summary(ev), f.commands)
		}
	}
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			if ev := s.next(t); summary(ev) != w {
				t.Fatalf("got %s, want %s", summary(ev), w)
			}
		}
	}
	// hold, then Cancel: the reader's late 02/08 is not an event.
	arm()
	if err := s.r.Cancel(ctx); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	arm()
	expect("prompt processing", "card idtech 4761********0043 S serial=630Z000001")
	arm()
	expect("prompt retry")
	arm()
	ev := s.next(t)
	if ev.Kind != reader.EventRefused || !strings.Contains(ev.Err.Error(), "error code 20") {
		t.Fatalf("nack: %s %v", summary(ev), ev.Err)
	}
	if err := s.r.Cancel(ctx); err != nil { // nothing armed: a no-op
		t.Errorf("Cancel when idle: %v", err)
	}
	f.mu.Lock()
	got := strings.Join(f.commands, " ")
	f.mu.Unlock()
	if want := "18-01 12-01 02-01 05-01 02-01 02-01 02-01"; got != want {
		t.Errorf("commands %s, want %s", got, want)
	}
}

// A recorded serial session plays back through the replay driver to the
// same read, and clear data never reaches the transcript.
func TestRecord(t *testing.T) {
	master, path := newPTY(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "rec.txt")
	d := &Driver{Ports: []Port{{Path: path, Protocol: "magtek"}}, Log: quiet,
		Record: func(reader.Device) (io.WriteCloser, error) { return os.Create(file) }}
	s := open(t, d, path)
	line, err := os.ReadFile(filepath.Join("..", "replay", "testdata", "captures", "magtek_v5_kb_string.txt"))
	if err != nil {
		t.Fatal(err)
	}
	const pan = "4111111111111111"
	master.Write([]byte("%B" + pan + "^DOE/JOHN^2512101000000000?;" + pan + "=25121010000000000?\r"))
	if ev := s.next(t); ev.Kind != reader.EventRefused {
		t.Fatalf("clear line: %s", summary(ev))
	}
	master.Write(bytes.TrimSpace(line)[:300])
	time.Sleep(20 * time.Millisecond)
	master.Write(append(bytes.TrimSpace(line)[300:], '\r'))
	if ev := s.next(t); ev.Kind != reader.EventCard {
		t.Fatalf("encrypted line: %s", summary(ev))
	}
	master.Close()
	if err := s.end(t); !errors.Is(err, reader.ErrDetached) {
		t.Fatalf("Run = %v", err)
	}
	s.r.Close()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{pan, fmt.Sprintf("%x", pan)} {
		if strings.Contains(string(text), leak) {
			t.Fatalf("transcript holds the clear PAN:\n%s", text)
		}
	}
	if !strings.Contains(string(text), "refused") || !strings.Contains(string(text), "detach") {
		t.Fatalf("transcript:\n%s", text)
	}
	rd := &replay.Driver{Files: []string{file}, Log: quiet}
	r, err := rd.Open(context.Background(), reader.Device{ID: "replay:" + file})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	err = r.Run(context.Background(), func(ev reader.Event) { got = append(got, summary(ev)) })
	if !errors.Is(err, reader.ErrDetached) || len(got) != 1 || got[0] != "card magnesafe 5452********7189 S serial=" {
		t.Fatalf("replayed: %v, %v", got, err)
	}
}
