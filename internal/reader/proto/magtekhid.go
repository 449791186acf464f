package proto

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/reader"
)

// MagTek feature-report commands (card-formats.md §1.1; command and
// property numbers as in jscherff/gomagtek and the MagneSafe V5 manual).
const (
	mtCmdGetProperty  = 0x00
	mtCmdGetKSN       = 0x09
	mtPropSerial      = 0x01
	mtResultOK        = 0x00
	mtMinReport       = 337 // the smallest MagTek card report (MT-211)
	mtFeatureReportID = 0x00
)

// magtekHIDHandler reads MagneSafe V5 input reports: one report is one card
// read, with no report ID.
type magtekHIDHandler struct {
	r           *Reader
	featureSize int
}

// open asks the reader its serial number and KSN through feature reports.
// Both are best effort: a reader that does not answer still reads cards.
func (h *magtekHIDHandler) open(context.Context) error {
	fc, ok := h.r.conn.(FeatureConn)
	if !ok {
		return nil
	}
	if s, err := h.command(fc, mtCmdGetProperty, []byte{mtPropSerial}); err != nil {
		h.r.log.Info("reader did not report its serial number", "err", err)
	} else if serial := cleanSerial(s); serial != "" {
		h.r.setSerial(serial)
	}
	ksn, err := h.command(fc, mtCmdGetKSN, nil)
	switch {
	case err != nil:
		h.r.log.Info("reader did not report its KSN", "err", err)
	case len(ksn) < 10 || !card.KSN(ksn[:10]).Valid():
		h.r.log.Warn("reader has no DUKPT key loaded: its reads will be refused as not encrypted")
	default:
		h.r.log.Debug("reader key", "ksn", card.KSN(ksn[:10]))
	}
	return nil
}

// command sends [cmd][len][data…] as a feature report and reads the reply
// [result][len][data…] from the same feature report (§1.1).
func (h *magtekHIDHandler) command(fc FeatureConn, cmd byte, data []byte) ([]byte, error) {
	if len(data) > h.featureSize-2 {
		return nil, fmt.Errorf("magtek command %02X: %d data bytes do not fit a feature report", cmd, len(data))
	}
	req := make([]byte, 1+h.featureSize)
	req[0] = mtFeatureReportID
	req[1], req[2] = cmd, byte(len(data))
	copy(req[3:], data)
	if _, err := fc.SendFeatureReport(req); err != nil {
		return nil, fmt.Errorf("magtek command %02X: send feature report: %w", cmd, err)
	}
	rep := make([]byte, 1+h.featureSize)
	rep[0] = mtFeatureReportID
	n, err := fc.GetFeatureReport(rep)
	if err != nil {
		return nil, fmt.Errorf("magtek command %02X: get feature report: %w", cmd, err)
	}
	if n < 3 || n > len(rep) {
		return nil, fmt.Errorf("%w: magtek command %02X: reply of %d bytes", ErrProtocol, cmd, n)
	}
	rep = rep[:n]
	if rep[1] != mtResultOK {
		return nil, fmt.Errorf("%w: magtek command %02X failed with result %02X", ErrProtocol, cmd, rep[1])
	}
	l := int(rep[2])
	if 3+l > len(rep) {
		return nil, fmt.Errorf("%w: magtek command %02X: reply says %d bytes, %d came", ErrProtocol, cmd, l, len(rep)-3)
	}
	return rep[3 : 3+l], nil
}

// cleanSerial keeps a serial number's printable part (readers pad with NUL
// or spaces).
func cleanSerial(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimSpace(b)
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return ""
		}
	}
	return string(b)
}

func (h *magtekHIDHandler) input(b []byte, t time.Time) {
	if len(b) < mtMinReport {
		// Short reports are status or other reports, not card data.
		h.r.log.Debug("ignored short input report", "bytes", len(b))
		return
	}
	read, err := decrypt.ParseMagTekHID(b)
	h.r.deliver(read, err, t)
}

func (h *magtekHIDHandler) stale(time.Time)                               {}
func (h *magtekHIDHandler) arm(context.Context, reader.Transaction) error { return nil }
func (h *magtekHIDHandler) cancel(context.Context) error                  { return nil }
