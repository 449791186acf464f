//go:build !headless

package ui

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"github.com/posagent/posagent/internal/sale"
)

// tray is the system tray icon and menu, where the driver has one.
type tray struct {
	u      *UI
	desk   desktop.App
	menu   *fyne.Menu
	state  *fyne.MenuItem
	pause  *fyne.MenuItem
	paused bool
}

// newTray installs the tray menu, or returns nil when the driver has no
// tray (the test driver, mobile) or the desktop cannot show one (no session
// bus): then closing the window asks before quitting (onClose).
func newTray(u *UI) *tray {
	desk, ok := u.app.(desktop.App)
	if !ok {
		return nil
	}
	if st, err := probeTray(context.Background()); st == trayNone {
		u.log.Info("no system tray on this desktop: closing the window will ask before quitting posagent", "reason", err)
		return nil
	} else if st == trayHidden {
		u.log.Info("no tray host shows posagent's icon yet: closing the window asks before quitting until one does", "reason", err)
	}
	t := &tray{u: u, desk: desk}
	show := fyne.NewMenuItem("Show window", func() {
		u.win.Show()
		u.win.RequestFocus()
	})
	t.state = fyne.NewMenuItem("Starting…", nil)
	t.state.Disabled = true
	t.pause = fyne.NewMenuItem("Pause sales", t.togglePause)
	quit := fyne.NewMenuItem("Quit", func() {
		u.app.Quit()
	})
	quit.IsQuit = true
	t.menu = fyne.NewMenu(u.opts.Title, show, t.state, fyne.NewMenuItemSeparator(), t.pause, fyne.NewMenuItemSeparator(), quit)
	desk.SetSystemTrayMenu(t.menu)
	// A left click on the icon shows the window where the OS supports it.
	desk.SetSystemTrayWindow(u.win)
	if icon := u.app.Icon(); icon != nil {
		desk.SetSystemTrayIcon(icon)
	}
	return t
}

// trayShown reports whether the tray icon is on screen now, i.e. whether a
// hidden window can be brought back from it.
func (u *UI) trayShown(ctx context.Context) bool {
	if u.tray == nil {
		return false
	}
	st, _ := probeTray(ctx)
	return st == trayShown
}

func (t *tray) togglePause() {
	want := !t.paused
	if err := t.u.b.SetPaused(want); err != nil {
		t.u.reg.showError("Could not pause", err)
		return
	}
	t.u.applyStatus(t.u.b.Status())
}

// update shows st in the menu.
func (t *tray) update(st Status) {
	t.paused = st.Paused
	if st.Paused {
		t.pause.Label = "Resume sales"
	} else {
		t.pause.Label = "Pause sales"
	}
	ready := 0
	for _, r := range st.Readers {
		if r.Status == sale.ReaderOK {
			ready++
		}
	}
	gw := "gateway reachable"
	if !st.Gateway.Reachable {
		gw = "gateway NOT reachable"
	}
	t.state.Label = fmt.Sprintf("%d of %d readers ready, %s", ready, len(st.Readers), gw)
	t.menu.Refresh()
}
