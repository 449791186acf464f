//go:build unix

package serial

import (
	"io/fs"
	"syscall"
)

// access reports fs.ErrPermission when the agent may not read and write
// path. It does not open the port: opening a real serial port toggles its
// modem lines, which Scan (called every poll) must not do.
func access(path string) error {
	if err := syscall.Access(path, 0x2|0x4); err == syscall.EACCES || err == syscall.EPERM {
		return fs.ErrPermission
	}
	return nil
}
