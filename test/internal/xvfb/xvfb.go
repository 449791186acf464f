package xvfb

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// Start starts Xvfb on a free display number and waits until it accepts
// connections. It returns the DISPLAY value and a function that stops the
// server.
func Start() (display string, stop func(), err error) {
	n := 110
	for ; n < 200; n++ {
		if _, err := os.Stat(socket(n)); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); errors.Is(err, os.ErrNotExist) {
				break
			}
		}
	}
	display = fmt.Sprintf(":%d", n)
	cmd := exec.Command("Xvfb", display, "-screen", "0", "1024x600x24", "-nolisten", "tcp")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting Xvfb (apt-get install xvfb): %w", err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	// The socket appears once the server listens.
	for range 100 {
		if _, err := os.Stat(socket(n)); err == nil {
			return display, stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("the X server (Xvfb %s) did not come up", display)
}

// Available reports whether Xvfb is installed.
func Available() bool {
	_, err := exec.LookPath("Xvfb")
	return err == nil
}

func socket(n int) string { return fmt.Sprintf("/tmp/.X11-unix/X%d", n) }
