package app

import (
	"fmt"
	"log/slog"

	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/hid"
	"github.com/posagent/posagent/internal/reader/replay"
	"github.com/posagent/posagent/internal/reader/serial"
	"github.com/posagent/posagent/internal/reader/sim"
)

// Drivers builds reader drivers from [[readers]] entries, which
// ValidateConfig has checked (at most one sim, its model); it also returns
// the simulator when one is configured (the bridge's simulate request needs
// it). "auto" searches USB-HID and lists vendor serial ports; serial entries
// share one serial driver, hid entries with a VID/PID each get a filtered
// HID driver.
func Drivers(entries []config.Reader, log *slog.Logger) ([]reader.Driver, *sim.Driver, error) {
	var (
		out     []reader.Driver
		simd    *sim.Driver
		ports   []serial.Port
		replays []string
		auto    bool
		hids    []*hid.Driver
	)
	for i, r := range entries {
		switch r.Kind {
		case config.ReaderAuto:
			auto = true
		case config.ReaderSim:
			o := sim.Options{}
			if r.Model != "" {
				m, err := sim.ParseModel(r.Model)
				if err != nil {
					return nil, nil, fmt.Errorf("readers[%d]: %w", i, err)
				}
				o.Model = m
			}
			d, err := sim.NewDriver(o)
			if err != nil {
				return nil, nil, fmt.Errorf("readers[%d]: %w", i, err)
			}
			simd = d
			out = append(out, d)
		case config.ReaderHID:
			d := hid.New()
			d.Log, d.OnlyVID, d.OnlyPID = log, r.VID, r.PID
			hids = append(hids, d)
		case config.ReaderSerial:
			p := serial.Port{Path: r.Path, Protocol: r.Protocol, Baud: r.Baud}
			if err := p.Validate(); err != nil {
				return nil, nil, fmt.Errorf("readers[%d]: %w", i, err)
			}
			ports = append(ports, p)
		case config.ReaderReplay:
			replays = append(replays, r.File)
		default:
			return nil, nil, fmt.Errorf("readers[%d]: unknown kind %q", i, r.Kind)
		}
	}
	if auto && len(hids) == 0 {
		d := hid.New()
		d.Log = log
		hids = append(hids, d)
	}
	for _, d := range hids {
		out = append(out, d)
	}
	if len(ports) > 0 || auto {
		out = append(out, &serial.Driver{Ports: ports, Enumerate: auto, Log: log})
	}
	if len(replays) > 0 {
		out = append(out, replay.NewDriver(replays...))
	}
	return out, simd, nil
}
