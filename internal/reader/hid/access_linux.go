package hid

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// access checks the device node behind a HID path without opening it.
// karalabe/hid on Linux goes through libusb, whose paths are the sysfs name
// of the USB device plus ":config.interface" (e.g. "1-4.2:1.0"); the node
// it opens is /dev/bus/usb/BBB/DDD. A hidraw path is checked as is.
func access(in Info) error {
	node := in.Path
	if !strings.HasPrefix(node, "/dev/") {
		name, _, ok := strings.Cut(in.Path, ":")
		if !ok || !validSysfsName(name) {
			return nil
		}
		dir := filepath.Join("/sys/bus/usb/devices", name)
		bus, err1 := readInt(filepath.Join(dir, "busnum"))
		dev, err2 := readInt(filepath.Join(dir, "devnum"))
		if err1 != nil || err2 != nil {
			return nil
		}
		node = fmt.Sprintf("/dev/bus/usb/%03d/%03d", bus, dev)
	}
	if err := syscall.Access(node, 0x2|0x4); err == syscall.EACCES || err == syscall.EPERM {
		return fs.ErrPermission
	}
	return nil
}

// validSysfsName accepts "bus-port[.port…]" and nothing that walks paths.
func validSysfsName(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && c != '-' && c != '.' {
			return false
		}
	}
	return !strings.Contains(s, "..") && s != ""
}

func readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
