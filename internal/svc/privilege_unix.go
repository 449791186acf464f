//go:build !windows

package svc

import (
	"os"
	"path/filepath"
)

// isPrivileged: installing and controlling system services needs root.
func isPrivileged() bool { return os.Geteuid() == 0 }

func resolve(exe string) string {
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		return p
	}
	return exe
}
