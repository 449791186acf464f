package replay

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/emv"
)

var update = flag.Bool("update", false, "rewrite the transcripts in testdata/ from testdata/captures/")

// capture reads a reference capture (hex or text) from testdata/captures.
func capture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "captures", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if strings.HasSuffix(name, ".hex") {
		h, err := hex.DecodeString(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return h
	}
	return []byte(s)
}

// response builds an IDG response frame with the CRC MSB first, as readers
// send it (captures.md).
func response(cmd, status byte, data []byte) []byte {
	b := append([]byte("ViVOtech2\x00"), cmd, status, byte(len(data)>>8), byte(len(data)))
	b = append(b, data...)
	crc := decrypt.CRC16CCITT(b)
	return append(b, byte(crc>>8), byte(crc))
}

// activate is the 02-01 command the agent sends for $12.50 at a fixed time
// (the Player matches commands on cmd/sub, so the time does not matter).
func activate() []byte {
	amt, _ := emv.AmountN12(1250)
	data := []byte{30}
	data = emv.AppendTLV(data, emv.MustTag("9F02"), amt)
	data = emv.AppendTLV(data, emv.MustTag("9C"), []byte{0})
	data = emv.AppendTLV(data, emv.MustTag("5F2A"), []byte{0x08, 0x40})
	data = emv.AppendTLV(data, emv.MustTag("9A"), []byte{0x25, 0x01, 0x02})
	data = emv.AppendTLV(data, emv.MustTag("9F21"), []byte{0x12, 0x00, 0x00})
	return decrypt.AppendIDG(nil, 0x02, 0x01, data)
}

// reports cuts a frame into zero-filled HID reports of size bytes with a
// report ID (01 single; 02 first, 03 middle, 04 last).
func reports(frame []byte, size int) [][]byte {
	var out [][]byte
	per := size - 1
	for i := 0; i < len(frame); i += per {
		id := byte(0x03)
		switch {
		case len(frame) <= per:
			id = 0x01
		case i == 0:
			id = 0x02
		case i+per >= len(frame):
			id = 0x04
		}
		r := make([]byte, size)
		r[0] = id
		copy(r[1:], frame[i:min(i+per, len(frame))])
		out = append(out, r)
	}
	return out
}

// rec drives a Recorder with a fake clock.
type rec struct {
	*Recorder
	buf bytes.Buffer
	t   time.Time
}

func newRec(t testing.TB, h Header) *rec {
	r := &rec{t: time.Date(2025, 1, 2, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return r.t }
	var err error
	r.Recorder, err = newRecorderClock(&r.buf, h, clock)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rec) after(ms int) time.Time {
	r.t = r.t.Add(time.Duration(ms) * time.Millisecond)
	return r.t
}

// The transcripts of testdata/, built from the reference captures by
// recording a scripted device.
var transcripts = map[string]func(t testing.TB) []byte{
	"magtek_dynamag_hid.txt": func(t testing.TB) []byte {
		r := newRec(t, Header{Transport: "hid", VID: 0x0801, PID: 0x0011, Vendor: "MagTek", Model: "Dynamag", Protocol: "magtek-hid", FeatureSize: 60})
		req := func(cmd byte, data ...byte) []byte {
			b := make([]byte, 61)
			b[1], b[2] = cmd, byte(len(data))
			copy(b[3:], data)
			return b
		}
		reply := func(data ...byte) []byte {
			b := make([]byte, 61)
			b[2] = byte(len(data))
			copy(b[3:], data)
			return b
		}
		r.after(2)
		r.sendFeature(req(0x00, 0x01))
		r.getFeature(reply([]byte("B27F1A0")...), r.after(3))
		ksn, _ := hex.DecodeString("FFFF9876543210E00008")
		r.after(2)
		r.sendFeature(req(0x09))
		r.getFeature(reply(ksn...), r.after(3))
		r.in(capture(t, "magtek_v5_hid_report_856.hex"), r.after(1500))
		r.detach(r.after(900))
		r.Flush()
		return r.buf.Bytes()
	},
	"magtek_kb_serial.txt": func(t testing.TB) []byte {
		r := newRec(t, Header{Transport: "serial", Vendor: "MagTek", Model: "MagneSafe V5 (serial)", Protocol: "magtek", Path: "/dev/ttyACM0", Baud: 9600})
		line := capture(t, "magtek_v5_kb_string.txt")
		r.idle()
		r.in(line[:200], r.after(1200))
		r.in(line[200:], r.after(210))
		r.in([]byte("\r"), r.after(400))
		r.idle()
		r.detach(r.after(2000))
		r.Flush()
		return r.buf.Bytes()
	},
	"idtech_securemag_serial.txt": func(t testing.TB) []byte {
		r := newRec(t, Header{Transport: "serial", Vendor: "ID TECH", Model: "SecureMag (serial)", Protocol: "idtech", Path: "/dev/ttyUSB0", Baud: 9600})
		vp := capture(t, "idtech_vp3350_0240_swipe_frame.hex")
		i := bytes.Index(vp, []byte{0xDF, 0xEE, 0x23, 0x82})
		frame := vp[i+6 : i+6+312] // the enhanced MSR frame inside DFEE23
		ms246 := capture(t, "idtech_ms246_original.hex")
		r.in([]byte{0x00, 0xFF, 'n', 'o', 'i', 's', 'e', 0x02}, r.after(500))
		r.in(frame[:100], r.after(800))
		r.in(frame[100:], r.after(120))
		r.idle()
		r.in(append([]byte("junk"), ms246...), r.after(3000))
		r.idle()
		damaged := bytes.Clone(frame)
		damaged[200] ^= 0x55 // one ciphertext byte flipped: bad LRC
		r.in(damaged, r.after(2500))
		r.idle()
		r.detach(r.after(1000))
		r.Flush()
		return r.buf.Bytes()
	},
	"idtech_securemag_hid.txt": func(t testing.TB) []byte {
		r := newRec(t, Header{Transport: "hid", VID: 0x0ACD, PID: 0x2010, Vendor: "ID TECH", Model: "ID TECH SecureMag", Protocol: "idtech-hid"})
		vp := capture(t, "idtech_vp3350_0240_swipe_frame.hex")
		i := bytes.Index(vp, []byte{0xDF, 0xEE, 0x23, 0x82})
		for j, frame := range [][]byte{vp[i+6 : i+6+312], capture(t, "idtech_authnet_msr_binary.hex")} {
			// Fixed-size zero-filled input reports without a report ID.
			for k := 0; k < len(frame); k += 64 {
				rep := make([]byte, 64)
				copy(rep, frame[k:min(k+64, len(frame))])
				r.in(rep, r.after(1500*(1-min(k, 1))*(j+1)+min(k, 1)*8))
			}
		}
		r.detach(r.after(1000))
		r.Flush()
		return r.buf.Bytes()
	},
	"vp3350_idg_serial.txt": func(t testing.TB) []byte {
		r := newRec(t, Header{Transport: "serial", Vendor: "ID TECH", Model: "VP3350", Protocol: "vivopay", Path: "/dev/ttyACM0", Baud: 115200})
		r.out(decrypt.AppendIDG(nil, 0x18, 0x01, nil), r.after(1))
		r.in(response(0x18, 0x00, nil), r.after(5))
		r.idle()
		r.out(decrypt.AppendIDG(nil, 0x12, 0x01, nil), r.after(1))
		r.in(response(0x12, 0x00, []byte("630Z000001\x00\x00\x00\x00\x00")), r.after(6))
		r.idle()
		r.out(activate(), r.after(1000))
		swipe := capture(t, "idtech_vp3350_0240_swipe_frame.hex")
		r.in(swipe[:150], r.after(2500))
		r.in(swipe[150:], r.after(30))
		r.idle()
		r.detach(r.after(1000))
		r.Flush()
		return r.buf.Bytes()
	},
	"vp3300_contact_hid.txt": func(t testing.TB) []byte {
		r := newRec(t, Header{Transport: "hid", VID: 0x0ACD, PID: 0x3530, Vendor: "ID TECH", Model: "VP3300", Protocol: "vivopay-hid", ReportSize: 64})
		send := func(frame []byte, ms int) {
			for i, rep := range reports(frame, 64) {
				r.out(rep, r.after(ms*(1-min(i, 1))))
			}
		}
		recv := func(frame []byte, ms int) {
			for i, rep := range reports(frame, 64) {
				r.in(rep, r.after(ms*(1-min(i, 1))+min(i, 1)))
			}
		}
		send(decrypt.AppendIDG(nil, 0x18, 0x01, nil), 1)
		recv(response(0x18, 0x00, nil), 4)
		send(decrypt.AppendIDG(nil, 0x12, 0x01, nil), 1)
		recv(response(0x12, 0x00, []byte("0820619250\x00\x00\x00\x00\x00")), 4)
		send(activate(), 1000)
		recv(response(0x02, 0x00, capture(t, "idtech_vp3300_contact_emv_tlv.hex")), 6000)
		r.detach(r.after(3000))
		r.Flush()
		return r.buf.Bytes()
	},
}

// TestTranscriptsUpToDate rebuilds every transcript and compares it with
// testdata/ (go test -run TestTranscriptsUpToDate -update rewrites them).
func TestTranscriptsUpToDate(t *testing.T) {
	for name, build := range transcripts {
		got := build(t)
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go test -run TestTranscriptsUpToDate -update", name)
		}
	}
}
