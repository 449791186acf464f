//go:build !headless

package ui

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/posagent/posagent/assets"
)

// AppID is the application id (settings, preferences and the desktop file).
const AppID = "com.posagent.agent"

// Run opens the cashier window for b and blocks until the cashier quits
// (tray menu) or ctx ends. It must be called from the main goroutine: the
// GL drivers need the process's first thread. Without a display it returns
// ErrNoDisplay instead of letting the driver panic.
func Run(ctx context.Context, b Backend, opts Options) error {
	return New(b, opts).Run(ctx)
}

// Run opens the window and blocks; see the package-level Run.
func (u *UI) Run(ctx context.Context) error {
	if !DisplayAvailable() {
		return ErrNoDisplay
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cashier window: %w", err)
	}
	a := app.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon()))
	w := u.build(a)
	u.start(ctx)
	defer u.shutdown()
	// Quit when ctx ends, unless the cashier quit first: done stops this
	// goroutine so it never posts to a driver that has finished.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			fyne.Do(a.Quit)
		case <-done:
		}
	}()
	u.log.Info("cashier window open")
	// Building the window parses fonts and lays out every tab once; the Go
	// heap peaks at about twice what stays live. The runtime would hand the
	// difference back to the OS only slowly, so an idle counter PC would
	// show it as the agent's memory for minutes: return it once the first
	// frames are drawn (measured: docs/performance.md, "Cashier window").
	trim := time.AfterFunc(3*time.Second, debug.FreeOSMemory)
	defer trim.Stop()
	if u.opts.StartHidden && u.trayShown(ctx) {
		a.Run()
	} else {
		w.ShowAndRun()
	}
	u.log.Info("cashier window closed")
	return nil
}
