package serial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	bugst "go.bug.st/serial"
	"go.bug.st/serial/enumerator"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/proto"
	"github.com/posagent/posagent/internal/reader/replay"
	"github.com/posagent/posagent/internal/sale"
)

// ReadPoll is the port's read timeout: how often Run looks at its context
// when the reader is quiet. A read returns as soon as bytes arrive.
const ReadPoll = 100 * time.Millisecond

// Default baud rates: ID TECH and MagTek serial readers ship at 9600; the
// VP3300 family talks 115200 over RS-232 (USB-CDC ignores the rate).
const (
	DefaultBaud        = 9600
	DefaultVivopayBaud = 115200
)

// Port is one configured serial reader.
type Port struct {
	Path     string
	Protocol string // proto.IDTech, proto.MagTek or proto.Vivopay
	Baud     int    // 0: the protocol's default
	Model    string // shown to people; optional
}

// Recorder opens a transcript for a device that is being opened; the
// transport's traffic is recorded to it (see internal/reader/replay).
// The Reader closes the writer when it closes.
type Recorder func(d reader.Device) (io.WriteCloser, error)

// Driver is the serial transport.
type Driver struct {
	Ports []Port
	// Enumerate lists unconfigured USB serial ports of card-reader vendors
	// as broken devices with configuration advice.
	Enumerate bool
	Log       *slog.Logger
	// Record, when set, records every opened port's traffic.
	Record Recorder
	// HostResponseTimeout is proto.Options.HostResponseTimeout (vivopay);
	// 0 means the default.
	HostResponseTimeout time.Duration

	// listPorts is the enumeration seam (tests replace it).
	listPorts func() ([]*enumerator.PortDetails, error)
}

// New returns a Driver for the configured ports.
func New(ports ...Port) *Driver { return &Driver{Ports: ports} }

// Name implements reader.Driver.
func (d *Driver) Name() string { return "serial" }

// ID is the reader ID of a serial path.
func ID(path string) string { return "serial:" + path }

func (d *Driver) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// Validate checks a port's configuration.
func (p Port) Validate() error {
	if p.Path == "" {
		return errors.New("serial reader: path is empty")
	}
	if !slices.Contains(proto.StreamProtocols, p.Protocol) {
		return fmt.Errorf("serial reader %s: protocol %q is not one of %v", p.Path, p.Protocol, proto.StreamProtocols)
	}
	if p.Baud < 0 || p.Baud > 4_000_000 {
		return fmt.Errorf("serial reader %s: baud %d is out of range", p.Path, p.Baud)
	}
	return nil
}

func (p Port) baud() int {
	switch {
	case p.Baud > 0:
		return p.Baud
	case p.Protocol == proto.Vivopay:
		return DefaultVivopayBaud
	}
	return DefaultBaud
}

func (p Port) info() card.DeviceInfo {
	vendor, model := "", p.Model
	switch p.Protocol {
	case proto.IDTech:
		vendor = "ID TECH"
		if model == "" {
			model = "ID TECH serial reader"
		}
	case proto.Vivopay:
		vendor = "ID TECH"
		if model == "" {
			model = "ID TECH ViVOpay (IDG)"
		}
	case proto.MagTek:
		vendor = "MagTek"
		if model == "" {
			model = "MagTek MagneSafe serial reader"
		}
	}
	return card.DeviceInfo{Vendor: vendor, Model: model, Transport: "serial", Path: p.Path}
}

// Scan implements reader.Driver: configured ports whose path exists now,
// plus (Enumerate) unconfigured reader ports.
func (d *Driver) Scan(ctx context.Context) ([]reader.Device, error) {
	var out []reader.Device
	for _, p := range d.Ports {
		dev := reader.Device{ID: ID(p.Path), Device: p.info()}
		if err := p.Validate(); err != nil {
			dev.Broken = err.Error() + ": fix the [[readers]] entry"
			out = append(out, dev)
			continue
		}
		if _, err := os.Stat(p.Path); err != nil {
			continue // not plugged in now
		}
		if err := access(p.Path); errors.Is(err, fs.ErrPermission) {
			dev.Broken = permissionAdvice(p.Path)
		}
		out = append(out, dev)
	}
	if d.Enumerate {
		out = append(out, d.enumerate()...)
	}
	return out, nil
}

func permissionAdvice(path string) string {
	return fmt.Sprintf("no permission to open %s: add the agent's user to the group that owns it "+
		"(on Debian/Ubuntu: sudo usermod -aG dialout $USER, then log in again)", path)
}

// Card-reader vendors whose USB serial ports Enumerate reports.
var vendors = map[uint16]string{0x0801: "MagTek", 0x0ACD: "ID TECH"}

func (d *Driver) enumerate() []reader.Device {
	list := d.listPorts
	if list == nil {
		list = func() ([]*enumerator.PortDetails, error) { return enumerator.GetDetailedPortsList() }
	}
	ports, err := list()
	if err != nil {
		d.log().Debug("serial port enumeration failed", "err", err)
		return nil
	}
	var out []reader.Device
	for _, p := range ports {
		if p == nil || !p.IsUSB || slices.ContainsFunc(d.Ports, func(c Port) bool { return c.Path == p.Name }) {
			continue
		}
		vid, err1 := strconv.ParseUint(p.VID, 16, 16)
		pid, err2 := strconv.ParseUint(p.PID, 16, 16)
		vendor, ok := vendors[uint16(vid)]
		if err1 != nil || err2 != nil || !ok {
			continue
		}
		out = append(out, reader.Device{
			ID: ID(p.Name),
			Device: card.DeviceInfo{Vendor: vendor, Model: vendor + " serial reader", Serial: p.SerialNumber,
				Transport: "serial", VID: uint16(vid), PID: uint16(pid), Path: p.Name},
			Broken: fmt.Sprintf("%s reader on %s is not configured: add [[readers]] kind = \"serial\", path = %q, "+
				"protocol = \"idtech\", \"magtek\" or \"vivopay\" (see docs/readers.md)", vendor, p.Name, p.Name),
		})
	}
	return out
}

// Open implements reader.Driver.
func (d *Driver) Open(ctx context.Context, dev reader.Device) (reader.Reader, error) {
	path, _ := strings.CutPrefix(dev.ID, "serial:")
	i := slices.IndexFunc(d.Ports, func(p Port) bool { return p.Path == path })
	if i < 0 {
		return nil, fmt.Errorf("serial: %s is not configured", path)
	}
	p := d.Ports[i]
	if err := p.Validate(); err != nil {
		return nil, err
	}
	port, err := bugst.Open(p.Path, &bugst.Mode{BaudRate: p.baud(), DataBits: 8, Parity: bugst.NoParity, StopBits: bugst.OneStopBit})
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(access(p.Path), fs.ErrPermission) {
			return nil, fmt.Errorf("serial: open %s: %w (%s)", p.Path, err, permissionAdvice(p.Path))
		}
		return nil, fmt.Errorf("serial: open %s: %w", p.Path, err)
	}
	if err := port.SetReadTimeout(ReadPoll); err != nil {
		port.Close()
		return nil, fmt.Errorf("serial: %s: set read timeout: %w", p.Path, err)
	}
	var conn replay.Stream = portConn{port}
	if d.Record != nil {
		if w, err := d.Record(dev); err != nil {
			d.log().Warn("cannot record the reader's traffic", "reader", dev.ID, "err", err)
		} else {
			h := replay.Header{Transport: "serial", Protocol: p.Protocol, Vendor: p.info().Vendor, Model: p.info().Model, Path: p.Path, Baud: p.baud()}
			if rec, err := replay.NewRecorder(w, h); err != nil {
				w.Close()
				d.log().Warn("cannot record the reader's traffic", "reader", dev.ID, "err", err)
			} else {
				conn = closeAfter{rec.Stream(conn), w}
			}
		}
	}
	info := sale.Reader{ID: dev.ID, Device: p.info(), Status: sale.ReaderOK, EMV: p.Protocol == proto.Vivopay}
	r, err := proto.Open(ctx, conn, proto.Options{Protocol: p.Protocol, Info: info, Log: d.log(), HostResponseTimeout: d.HostResponseTimeout})
	if err != nil {
		return nil, fmt.Errorf("serial: %s: %w", p.Path, err)
	}
	return r, nil
}

// portConn maps the port's errors: a closed or vanished port is io.EOF
// wrapped with the cause, so Run reports a detach.
type portConn struct{ p bugst.Port }

func (c portConn) Read(b []byte) (int, error) {
	n, err := c.p.Read(b)
	if err != nil {
		var pe *bugst.PortError
		if errors.As(err, &pe) && pe.Code() == bugst.PortClosed {
			return n, fmt.Errorf("%w: port closed", io.EOF)
		}
		return n, fmt.Errorf("read serial port: %w", err)
	}
	return n, nil
}

func (c portConn) Write(b []byte) (int, error) {
	n, err := c.p.Write(b)
	if err != nil {
		return n, fmt.Errorf("write serial port: %w", err)
	}
	return n, nil
}

func (c portConn) Close() error { return c.p.Close() }

// closeAfter closes a transcript writer after the transport.
type closeAfter struct {
	replay.Stream
	w io.Closer
}

func (c closeAfter) Close() error {
	err := c.Stream.Close()
	if werr := c.w.Close(); err == nil {
		err = werr
	}
	return err
}
