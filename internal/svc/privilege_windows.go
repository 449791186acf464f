//go:build windows

package svc

import (
	"path/filepath"

	"golang.org/x/sys/windows"
)

// isPrivileged: the SCM lets only an elevated Administrator create or
// control services.
func isPrivileged() bool { return windows.GetCurrentProcessToken().IsElevated() }

func resolve(exe string) string {
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		return p
	}
	return exe
}
