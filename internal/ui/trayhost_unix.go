//go:build !headless && (linux || freebsd || openbsd || netbsd)

package ui

import (
	"context"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"
)

// statusNotifierWatcher is the D-Bus name of the tray host. fyne's tray on
// the free Unixes is a StatusNotifierItem on the session bus: it shows only
// while a watcher owns this name (KDE, XFCE and LXQt panels, GNOME with the
// AppIndicator extension), and fyne's tray code re-registers when one
// appears later, e.g. a panel that starts after the agent at login.
const statusNotifierWatcher = "org.kde.StatusNotifierWatcher"

// systemTray asks the session bus whether a tray host runs. It never
// starts a bus (no dbus-launch): a kiosk session without one has no tray,
// and fyne's tray would crash the agent at quit there (fyne.io/systray
// closes a connection it never made).
func systemTray(ctx context.Context) (trayState, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := dbus.SessionBusPrivateNoAutoStartup(dbus.WithContext(ctx))
	if err != nil {
		return trayNone, fmt.Errorf("no D-Bus session bus: %w", err)
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return trayNone, fmt.Errorf("D-Bus session bus: %w", err)
	}
	if err := conn.Hello(); err != nil {
		return trayNone, fmt.Errorf("D-Bus session bus: %w", err)
	}
	var has bool
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, statusNotifierWatcher).Store(&has)
	if err != nil {
		return trayHidden, fmt.Errorf("asking the session bus for a tray host: %w", err)
	}
	if !has {
		return trayHidden, fmt.Errorf("no tray host on the session bus (%s)", statusNotifierWatcher)
	}
	return trayShown, nil
}
