//go:build windows

package svc

import (
	"fmt"
	"os/exec"
)

// restrictDir gives the config directory to SYSTEM (the service) and
// Administrators only, dropping the inherited "Users: read" of ProgramData.
// SIDs, not names, because group names are translated on localized Windows.
func restrictDir(dir string) error {
	out, err := exec.Command("icacls", dir, "/inheritance:r",
		"/grant:r", "*S-1-5-18:(OI)(CI)F", "*S-1-5-32-544:(OI)(CI)F").CombinedOutput()
	if err != nil {
		return fmt.Errorf("restricting %s with icacls: %w: %s", dir, err, out)
	}
	return nil
}
