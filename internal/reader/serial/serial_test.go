package serial

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.bug.st/serial/enumerator"

	"github.com/posagent/posagent/internal/reader"
)

func TestScan(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "ttyACM0")
	if err := os.WriteFile(present, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Driver{
		Ports: []Port{
			{Path: present, Protocol: "idtech"},
			{Path: filepath.Join(dir, "ttyACM9"), Protocol: "magtek"}, // unplugged
			{Path: present + "x", Protocol: "bogus"},
		},
		Enumerate: true,
		Log:       quiet,
		listPorts: func() ([]*enumerator.PortDetails, error) {
			return []*enumerator.PortDetails{
				{Name: present, IsUSB: true, VID: "0ACD", PID: "1234"}, // configured already
				{Name: "/dev/ttyACM5", IsUSB: true, VID: "0801", PID: "0520", SerialNumber: "B0C1"},
				{Name: "/dev/ttyUSB0", IsUSB: true, VID: "1A86", PID: "7523"}, // a CH340: not a reader
				{Name: "/dev/ttyS0"},
				nil,
			}, nil
		},
	}
	devs, err := d.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]reader.Device{}
	for _, dv := range devs {
		byID[dv.ID] = dv
	}
	if len(devs) != 3 {
		t.Fatalf("got %d devices: %+v", len(devs), devs)
	}
	if dv := byID[ID(present)]; dv.Broken != "" || dv.Device.Transport != "serial" || dv.Device.Vendor != "ID TECH" {
		t.Errorf("present port: %+v", dv)
	}
	if dv := byID[ID(present+"x")]; !strings.Contains(dv.Broken, "protocol") {
		t.Errorf("bad protocol: %+v", dv)
	}
	if dv := byID["serial:/dev/ttyACM5"]; !strings.Contains(dv.Broken, `protocol = "idtech"`) || dv.Device.VID != 0x0801 || dv.Device.Serial != "B0C1" {
		t.Errorf("enumerated reader: %+v", dv)
	}
	if _, err := d.Open(context.Background(), reader.Device{ID: "serial:/dev/ttyACM5"}); err == nil {
		t.Error("Open of an unconfigured port succeeded")
	}
	if _, err := d.Open(context.Background(), reader.Device{ID: ID(present)}); err == nil {
		t.Error("Open of a regular file succeeded")
	}
}

func TestPortValidate(t *testing.T) {
	tests := []struct {
		p    Port
		ok   bool
		baud int
	}{
		{Port{Path: "/dev/ttyACM0", Protocol: "idtech"}, true, 9600},
		{Port{Path: "/dev/ttyACM0", Protocol: "vivopay"}, true, 115200},
		{Port{Path: "/dev/ttyACM0", Protocol: "magtek", Baud: 19200}, true, 19200},
		{Port{Path: "", Protocol: "idtech"}, false, 0},
		{Port{Path: "/dev/ttyACM0", Protocol: "magtek-hid"}, false, 0},
		{Port{Path: "/dev/ttyACM0", Protocol: "idtech", Baud: -1}, false, 0},
	}
	for _, tc := range tests {
		err := tc.p.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: Validate = %v", tc.p, err)
		}
		if tc.ok && tc.p.baud() != tc.baud {
			t.Errorf("%+v: baud %d, want %d", tc.p, tc.p.baud(), tc.baud)
		}
	}
}

func TestPermissionAdvice(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may open anything")
	}
	p := filepath.Join(t.TempDir(), "ttyLOCKED")
	if err := os.WriteFile(p, nil, 0o000); err != nil {
		t.Fatal(err)
	}
	d := &Driver{Ports: []Port{{Path: p, Protocol: "idtech"}}}
	devs, _ := d.Scan(context.Background())
	if len(devs) != 1 || !strings.Contains(devs[0].Broken, "dialout") {
		t.Fatalf("Scan = %+v", devs)
	}
}
