//go:build !windows

package svc

import (
	"fmt"
	"os"
)

// restrictDir leaves the config directory to root.
func restrictDir(dir string) error {
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restricting %s: %w", dir, err)
	}
	return nil
}
