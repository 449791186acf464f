//go:build !headless

package ui

import (
	"os"
	"runtime"
)

// DisplayAvailable reports whether a window can be opened. On Linux and the
// BSDs a display server must be named (app.New panics without one); Windows
// and macOS always have a desktop when an interactive user runs the agent.
func DisplayAvailable() bool {
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
