package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/hid"
	"github.com/posagent/posagent/internal/reader/serial"
	"github.com/posagent/posagent/internal/sale"
)

// devicesTimeout bounds the one scan `posagent devices` runs: opening a
// device that hangs must not hang the command.
const devicesTimeout = 15 * time.Second

func init() {
	register(command{name: "devices", summary: "list attached card readers and why any is unusable", run: runDevices})
}

// hardwareDrivers returns the drivers of real readers: USB-HID, and serial
// for the configured ports plus any vendor serial port (listed as broken with
// the [[readers]] entry to add). Transports this build cannot search are
// named in the output, so that "no readers found" is not taken for more than
// it means. A variable so that tests can fake it.
var hardwareDrivers = func(ports []serial.Port, log *slog.Logger) (drivers []reader.Driver, missing []string) {
	sd := &serial.Driver{Ports: ports, Enumerate: true, Log: log}
	hd := hid.New()
	hd.Log = log
	if _, err := hd.Scan(context.Background()); errors.Is(err, hid.ErrNotCompiled) {
		return []reader.Driver{sd}, []string{"USB-HID (this build has no cgo)"}
	}
	return []reader.Driver{hd, sd}, nil
}

// configuredPorts reads the serial [[readers]] entries of a config file.
func configuredPorts(path string) ([]serial.Port, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := config.Load(f)
	if err != nil {
		return nil, err
	}
	var ports []serial.Port
	for _, r := range c.Readers {
		if r.Kind == config.ReaderSerial {
			ports = append(ports, serial.Port{Path: r.Path, Protocol: r.Protocol, Baud: r.Baud})
		}
	}
	return ports, nil
}

// deviceJSON is one reader in `posagent devices --json`. It has the fields of
// the websocket protocol's reader object (id, model, serial, transport,
// status, detail) plus vendor, VID/PID and path. status is "ok" or "broken";
// detail holds the reason and the fix.
type deviceJSON struct {
	ID        string `json:"id"`
	Transport string `json:"transport"`
	Vendor    string `json:"vendor,omitempty"`
	Model     string `json:"model,omitempty"`
	VID       string `json:"vid,omitempty"`
	PID       string `json:"pid,omitempty"`
	Path      string `json:"path,omitempty"`
	Serial    string `json:"serial,omitempty"`
	Status    string `json:"status"`
	Detail    string `json:"detail,omitempty"`
}

func runDevices(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("devices", stderr)
	asJSON := fs.Bool("json", false, "print a JSON array")
	cfgPath := fs.String("config", "", "also open the serial readers this configuration file names")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: posagent devices [--json] [--config FILE]\n\nOpens each attached card reader once and lists it as ok, or as broken with the reason and the fix.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "posagent devices: takes no arguments")
		return 2
	}
	ports, err := configuredPorts(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "posagent devices: %v\n", err)
		return 1
	}
	// Broken devices are in the output; logs would only repeat them.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	drivers, missing := hardwareDrivers(ports, log)
	ctx, cancel := context.WithTimeout(ctx, devicesTimeout)
	defer cancel()
	infos := reader.Probe(ctx, drivers, reader.Options{Logger: log})

	if *asJSON {
		out := make([]deviceJSON, 0, len(infos))
		for _, in := range infos {
			out = append(out, deviceOf(in))
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return 1
		}
		return 0
	}
	if len(missing) > 0 {
		defer fmt.Fprintf(stdout, "note: this build does not look for %s readers yet\n", strings.Join(missing, " or "))
	}
	if len(infos) == 0 {
		fmt.Fprintln(stdout, "no readers found")
		fmt.Fprintln(stdout, "Plug a reader in; if it still does not show, see docs/readers.md (permissions, HID vs keyboard mode).")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTRANSPORT\tMODEL\tVID:PID / PORT\tSERIAL\tSTATUS")
	for _, in := range infos {
		d := deviceOf(in)
		where := d.Path
		if d.VID != "" || d.PID != "" {
			where = d.VID + ":" + d.PID
		}
		status := d.Status
		if d.Detail != "" {
			status += ": " + d.Detail
		}
		model := strings.TrimSpace(d.Vendor + " " + d.Model)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, dash(d.Transport), dash(model), dash(where), dash(d.Serial), status)
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	for _, in := range infos {
		if in.Status == sale.ReaderOK {
			return 0
		}
	}
	fmt.Fprintln(stdout, "no usable reader: fix the broken ones above (docs/readers.md explains each message)")
	return 0
}

func deviceOf(in sale.Reader) deviceJSON {
	d := deviceJSON{
		ID:        in.ID,
		Transport: in.Device.Transport,
		Vendor:    in.Device.Vendor,
		Model:     in.Device.Model,
		Path:      in.Device.Path,
		Serial:    in.Device.Serial,
		Status:    string(in.Status),
		Detail:    in.Detail,
	}
	if in.Device.VID != 0 || in.Device.PID != 0 {
		d.VID = fmt.Sprintf("%04x", in.Device.VID)
		d.PID = fmt.Sprintf("%04x", in.Device.PID)
	}
	if d.Status == "" {
		d.Status = string(sale.ReaderOK)
	}
	return d
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
