package hid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/proto"
	"github.com/posagent/posagent/internal/reader/replay"
	"github.com/posagent/posagent/internal/sale"
)

// ReadPoll is how long a report read waits before Run looks at its context.
const ReadPoll = 100 * time.Millisecond

// ErrNotCompiled is returned by Scan and Open when karalabe/hid is the stub.
var ErrNotCompiled = errors.New("HID support not compiled in (built without cgo): build with CGO_ENABLED=1, or use the keyboard capture page")

// Info describes one HID interface.
type Info struct {
	Path         string
	VID, PID     uint16
	Serial       string
	Manufacturer string
	Product      string
	Interface    int
}

// Handle is an opened HID device: karalabe/hid's Device, and the seam a
// replay.Player implements.
type Handle = replay.ReportDevice

// Backend is the HID library seam.
type Backend struct {
	Supported func() bool
	Enumerate func() ([]Info, error)
	Open      func(Info) (Handle, error)
	// Access reports fs.ErrPermission when the device node may not be
	// opened; nil means unknown or fine.
	Access func(Info) error
}

// Recorder opens a transcript for a device being opened; the Reader closes
// it when it closes.
type Recorder func(d reader.Device) (io.WriteCloser, error)

// Driver is the HID transport.
type Driver struct {
	Backend Backend
	Log     *slog.Logger
	// Record, when set, records every opened device's traffic.
	Record Recorder
	// Only, when non-zero, limits the driver to one VID/PID (config
	// `kind = "hid", vid = 0x0801, pid = 0x0011`).
	OnlyVID, OnlyPID uint16
}

// New returns a Driver over the system's HID library.
func New() *Driver { return &Driver{Backend: System()} }

// Name implements reader.Driver.
func (d *Driver) Name() string { return "hid" }

func (d *Driver) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// ID is the reader ID of a HID interface.
func ID(in Info) string { return fmt.Sprintf("hid:%04x:%04x:%s", in.VID, in.PID, in.Path) }

// UdevAdvice is the fix for a reader the agent may not open on Linux: the
// packaged udev rules (packaging/linux/60-posagent.rules), which cover the
// vendor's USB and hidraw nodes for the service's group and the desktop user.
func UdevAdvice(vid uint16) string {
	return fmt.Sprintf("no permission to open this reader (vendor %04x): install posagent's udev rules "+
		"(the .deb and `sudo posagent service install` do; by hand: copy packaging/linux/60-posagent.rules to /etc/udev/rules.d/), "+
		"run `sudo udevadm control --reload-rules && sudo udevadm trigger`, and replug the reader", vid)
}

// Scan implements reader.Driver.
func (d *Driver) Scan(ctx context.Context) ([]reader.Device, error) {
	if d.Backend.Supported == nil || !d.Backend.Supported() {
		return nil, ErrNotCompiled
	}
	infos, err := d.Backend.Enumerate()
	if err != nil {
		return nil, fmt.Errorf("hid: enumerate: %w", err)
	}
	var out []reader.Device
	seen := map[string]bool{}
	for _, in := range infos {
		vendor, ok := vendorName(in.VID)
		if !ok || (d.OnlyVID != 0 && (in.VID != d.OnlyVID || in.PID != d.OnlyPID)) || seen[ID(in)] {
			continue
		}
		seen[ID(in)] = true
		dev := reader.Device{ID: ID(in), Device: card.DeviceInfo{
			Vendor: vendor, Model: in.Product, Serial: in.Serial, Transport: "hid",
			VID: in.VID, PID: in.PID, Path: in.Path,
		}}
		m, known := Lookup(in.VID, in.PID)
		switch {
		case !known:
			dev.Broken = fmt.Sprintf("unsupported %s product %04x:%04x: no protocol known for it; if it has a HID mode (not keyboard), report its model", vendor, in.VID, in.PID)
		case m.Protocol == "":
			dev.Device.Model = m.Name
			dev.Broken = KeyboardAdvice
		default:
			dev.Device.Model = m.Name
			if d.Backend.Access != nil && errors.Is(d.Backend.Access(in), fs.ErrPermission) {
				dev.Broken = UdevAdvice(in.VID)
			}
		}
		out = append(out, dev)
	}
	return out, nil
}

// Open implements reader.Driver.
func (d *Driver) Open(ctx context.Context, dev reader.Device) (reader.Reader, error) {
	if d.Backend.Supported == nil || !d.Backend.Supported() {
		return nil, ErrNotCompiled
	}
	in := Info{Path: dev.Device.Path, VID: dev.Device.VID, PID: dev.Device.PID, Serial: dev.Device.Serial}
	m, ok := Lookup(in.VID, in.PID)
	if !ok || m.Protocol == "" {
		return nil, fmt.Errorf("hid: %s: cannot read %04x:%04x as HID", dev.ID, in.VID, in.PID)
	}
	h, err := d.Backend.Open(in)
	if err != nil {
		if d.Backend.Access != nil && errors.Is(d.Backend.Access(in), fs.ErrPermission) {
			return nil, fmt.Errorf("hid: open %s: %w (%s)", dev.ID, err, UdevAdvice(in.VID))
		}
		return nil, fmt.Errorf("hid: open %s: %w", dev.ID, err)
	}
	info := card.DeviceInfo{Vendor: m.Vendor, Model: m.Name, Serial: dev.Device.Serial, Transport: "hid", VID: in.VID, PID: in.PID, Path: in.Path}
	var closer io.Closer
	if d.Record != nil {
		if w, err := d.Record(dev); err != nil {
			d.log().Warn("cannot record the reader's traffic", "reader", dev.ID, "err", err)
		} else if rec, err := replay.NewRecorder(w, replay.Header{
			Transport: "hid", VID: in.VID, PID: in.PID, Vendor: m.Vendor, Model: m.Name, Protocol: m.Protocol,
			Serial: info.Serial, ReportSize: m.ReportSize, FeatureSize: m.FeatureSize,
		}); err != nil {
			w.Close()
			d.log().Warn("cannot record the reader's traffic", "reader", dev.ID, "err", err)
		} else {
			h, closer = rec.Reports(h), w
		}
	}
	r, err := proto.Open(ctx, conn{h: h, extra: closer}, proto.Options{
		Protocol: m.Protocol, Log: d.log(), ReportSize: m.ReportSize, FeatureSize: m.FeatureSize,
		Info: sale.Reader{ID: dev.ID, Device: info, Status: sale.ReaderOK, EMV: m.Protocol == proto.VivopayHID},
	})
	if err != nil {
		return nil, fmt.Errorf("hid: %s: %w", dev.ID, err)
	}
	return r, nil
}

// conn adapts a Handle to proto's Conn and FeatureConn: one Read is one
// input report, waiting at most ReadPoll.
type conn struct {
	h     Handle
	extra io.Closer // a transcript to close after the device
}

func (c conn) Read(b []byte) (int, error) {
	n, err := c.h.ReadTimeout(b, int(ReadPoll/time.Millisecond))
	if err != nil {
		return n, fmt.Errorf("read HID report: %w", err)
	}
	return n, nil
}

func (c conn) Write(b []byte) (int, error)             { return c.h.Write(b) }
func (c conn) SendFeatureReport(b []byte) (int, error) { return c.h.SendFeatureReport(b) }
func (c conn) GetFeatureReport(b []byte) (int, error)  { return c.h.GetFeatureReport(b) }

func (c conn) Close() error {
	err := c.h.Close()
	if c.extra != nil {
		if cerr := c.extra.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
