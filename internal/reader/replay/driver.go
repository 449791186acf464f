package replay

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/proto"
	"github.com/posagent/posagent/internal/sale"
)

// Driver opens transcript files as readers: config `kind = "replay",
// file = "capture.txt"`.
type Driver struct {
	// Files are the transcripts, one reader each.
	Files []string
	// Speed scales the recorded delays (1 = real time, 0 = no delays).
	Speed float64
	Log   *slog.Logger
}

// NewDriver returns a Driver that plays files in real time.
func NewDriver(files ...string) *Driver { return &Driver{Files: files, Speed: 1} }

// Name implements reader.Driver.
func (d *Driver) Name() string { return "replay" }

func deviceID(file string) string { return "replay:" + file }

// Scan implements reader.Driver: every configured file is a device; one that
// cannot be read is listed as broken with the reason.
func (d *Driver) Scan(ctx context.Context) ([]reader.Device, error) {
	var out []reader.Device
	for _, f := range d.Files {
		dev := reader.Device{ID: deviceID(f), Device: card.DeviceInfo{Transport: "replay", Path: f}}
		h, err := LoadHeader(f)
		switch {
		case os.IsNotExist(err):
			dev.Broken = fmt.Sprintf("transcript %s does not exist: check the file path in the [[readers]] entry", f)
		case err != nil:
			dev.Broken = fmt.Sprintf("cannot use transcript: %v", err)
		default:
			dev.Device = info(h, f)
		}
		out = append(out, dev)
	}
	return out, nil
}

func info(h Header, file string) card.DeviceInfo {
	return card.DeviceInfo{
		Vendor: h.Vendor, Model: h.Model, Serial: h.Serial, Transport: "replay",
		VID: h.VID, PID: h.PID, Path: file,
	}
}

// Open implements reader.Driver: the transcript plays through the protocol
// code a real device of its kind uses.
func (d *Driver) Open(ctx context.Context, dev reader.Device) (reader.Reader, error) {
	file, ok := strings.CutPrefix(dev.ID, "replay:")
	if !ok {
		return nil, fmt.Errorf("replay: %q is not a replay device", dev.ID)
	}
	t, err := Load(file)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	p := NewPlayer(t)
	p.Speed = d.Speed
	return OpenPlayer(ctx, p, t.Header, sale.Reader{ID: dev.ID, Device: info(t.Header, file)}, d.Log)
}

// OpenPlayer runs a Player as a reader with the transcript's protocol.
func OpenPlayer(ctx context.Context, p *Player, h Header, in sale.Reader, log *slog.Logger) (*proto.Reader, error) {
	in.Status = sale.ReaderOK
	in.EMV = h.Protocol == proto.Vivopay || h.Protocol == proto.VivopayHID
	r, err := proto.Open(ctx, p, proto.Options{
		Protocol: h.Protocol, Info: in, Log: log,
		ReportSize: h.ReportSize, FeatureSize: h.FeatureSize,
	})
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", in.ID, err)
	}
	return r, nil
}
