package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/serial"
	"github.com/posagent/posagent/internal/sale"
)

// fakeDevices is a driver with fixed devices; Open fails for those in fail.
type fakeDevices struct {
	devs   []reader.Device
	fail   map[string]error
	closed int
}

func (f *fakeDevices) Name() string                                  { return "hid" }
func (f *fakeDevices) Scan(context.Context) ([]reader.Device, error) { return f.devs, nil }
func (f *fakeDevices) Open(_ context.Context, d reader.Device) (reader.Reader, error) {
	if err := f.fail[d.ID]; err != nil {
		return nil, err
	}
	return &fakeDevice{f: f, info: sale.Reader{Device: d.Device}}, nil
}

type fakeDevice struct {
	f    *fakeDevices
	info sale.Reader
}

func (d *fakeDevice) Info() sale.Reader                                   { return d.info }
func (d *fakeDevice) Run(ctx context.Context, _ func(reader.Event)) error { <-ctx.Done(); return nil }
func (d *fakeDevice) Arm(context.Context, reader.Transaction) error       { return nil }
func (d *fakeDevice) Cancel(context.Context) error                        { return nil }
func (d *fakeDevice) Close() error                                        { d.f.closed++; return nil }

func withDrivers(t *testing.T, drivers ...reader.Driver) {
	t.Helper()
	old := hardwareDrivers
	hardwareDrivers = func([]serial.Port, *slog.Logger) ([]reader.Driver, []string) { return drivers, nil }
	t.Cleanup(func() { hardwareDrivers = old })
}

func runDevicesCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(context.Background(), append([]string{"devices"}, args...), strings.NewReader(""), &out, &errOut)
	if errOut.Len() > 0 && code == 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
	return out.String(), code
}

func twoReaders() *fakeDevices {
	return &fakeDevices{
		devs: []reader.Device{
			{ID: "hid:0801:0011:/dev/hidraw3", Device: card.DeviceInfo{Vendor: "MagTek", Model: "Dynamag", Serial: "B4F2C31", Transport: "hid", VID: 0x0801, PID: 0x0011, Path: "/dev/hidraw3"}},
			{ID: "serial:/dev/ttyACM0", Device: card.DeviceInfo{Vendor: "ID TECH", Model: "VP3300", Transport: "serial", Path: "/dev/ttyACM0"}},
		},
		fail: map[string]error{"serial:/dev/ttyACM0": errors.New("open /dev/ttyACM0: permission denied: add your user to the dialout group and log in again")},
	}
}

func TestDevicesTable(t *testing.T) {
	f := twoReaders()
	withDrivers(t, f)
	out, code := runDevicesCmd(t)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"TRANSPORT", "hid:0801:0011:/dev/hidraw3", "MagTek Dynamag", "0801:0011", "B4F2C31", " ok",
		"serial:/dev/ttyACM0", "/dev/ttyACM0", "broken: open /dev/ttyACM0: permission denied: add your user to the dialout group",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if f.closed != 1 {
		t.Errorf("probed reader closed %d times, want 1", f.closed)
	}
}

func TestDevicesJSON(t *testing.T) {
	withDrivers(t, twoReaders())
	out, code := runDevicesCmd(t, "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(got) != 2 {
		t.Fatalf("%d entries", len(got))
	}
	ok, broken := got[0], got[1]
	if ok["status"] != "ok" || ok["vid"] != "0801" || ok["pid"] != "0011" || ok["transport"] != "hid" || ok["serial"] != "B4F2C31" || ok["detail"] != nil {
		t.Errorf("ok entry %v", ok)
	}
	if broken["status"] != "broken" || !strings.Contains(broken["detail"].(string), "dialout") || broken["path"] != "/dev/ttyACM0" {
		t.Errorf("broken entry %v", broken)
	}
}

func TestDevicesNone(t *testing.T) {
	tests := []struct {
		name    string
		drivers []reader.Driver
		args    []string
		want    string
	}{
		{"no drivers", nil, nil, "no readers found"},
		{"nothing plugged", []reader.Driver{&fakeDevices{}}, nil, "no readers found"},
		{"json none", []reader.Driver{&fakeDevices{}}, []string{"--json"}, "[]"},
		{"json no drivers", nil, []string{"--json"}, "[]"},
		{"only broken", []reader.Driver{&fakeDevices{devs: []reader.Device{{ID: "hid:x", Broken: "keyboard-emulation mode: switch it to HID"}}}}, nil, "no usable reader"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			withDrivers(t, tc.drivers...)
			out, code := runDevicesCmd(t, tc.args...)
			if code != 0 || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output %q, want %q", code, out, tc.want)
			}
		})
	}
}

func TestDevicesBadFlags(t *testing.T) {
	withDrivers(t)
	for _, args := range [][]string{{"--nope"}, {"extra"}} {
		if _, code := runDevicesCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// The real drivers on this machine: whatever is plugged in, the command
// answers, names what it cannot search, and opens configured serial ports.
func TestDevicesRealDrivers(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "posagent.toml")
	missing := filepath.Join(dir, "ttyACM9")
	if err := os.WriteFile(cfg, []byte("[[readers]]\nkind = \"serial\"\npath = \""+missing+"\"\nprotocol = \"vivopay\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runDevicesCmd(t, "--config", cfg)
	// With cgo the HID driver searches (this machine has no USB bus, so it
	// finds nothing); without cgo the output must say HID was not searched.
	if code != 0 || (!cgoEnabled && !strings.Contains(out, "does not look for USB-HID")) {
		t.Errorf("exit %d, output %q", code, out)
	}
	if strings.Contains(out, missing) {
		t.Errorf("an absent configured port is listed: %q", out)
	}
	if _, code := runDevicesCmd(t, "--config", filepath.Join(dir, "nope.toml")); code != 1 {
		t.Errorf("missing config: exit %d, want 1", code)
	}
	out, code = runDevicesCmd(t, "--json")
	var arr []any
	if code != 0 || json.Unmarshal([]byte(out), &arr) != nil {
		t.Errorf("--json: exit %d, output %q", code, out)
	}
}
