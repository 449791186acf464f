//go:build !headless

package ui

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// displayProbeTimeout bounds the check that the X server answers.
const displayProbeTimeout = time.Second

// DisplayAvailable reports whether a window can be opened. On Linux and the
// BSDs a display server must be named and reachable: fyne's driver panics
// when DISPLAY names a server that is gone (a stale variable over ssh, a
// stopped Xvfb), so the X socket is dialed first. Windows and macOS always
// have a desktop when an interactive user runs the agent.
func DisplayAvailable() bool {
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	if w := os.Getenv("WAYLAND_DISPLAY"); w != "" {
		if !filepath.IsAbs(w) {
			w = filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), w)
		}
		if reachable("unix", w) {
			return true
		}
	}
	return xReachable(os.Getenv("DISPLAY"))
}

// xReachable dials the X server a DISPLAY value names: ":N" is the unix
// socket /tmp/.X11-unix/XN, "host:N" is TCP port 6000+N.
func xReachable(display string) bool {
	i := strings.LastIndexByte(display, ':')
	if i < 0 {
		return false
	}
	host, num := display[:i], display[i+1:]
	if j := strings.IndexByte(num, '.'); j >= 0 {
		num = num[:j] // screen number
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return false
	}
	if host == "" || host == "unix" {
		return reachable("unix", "/tmp/.X11-unix/X"+num)
	}
	return reachable("tcp", net.JoinHostPort(host, strconv.Itoa(6000+n)))
}

func reachable(network, addr string) bool {
	c, err := net.DialTimeout(network, addr, displayProbeTimeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
