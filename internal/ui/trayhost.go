//go:build !headless

package ui

// trayState is what the desktop offers the tray icon.
type trayState int

const (
	// trayNone: no tray can appear (no session bus); none is installed.
	trayNone trayState = iota
	// trayHidden: a tray could appear (a session bus runs) but no host
	// shows it now.
	trayHidden
	// trayShown: a tray host shows the icon.
	trayShown
)

// probeTray is systemTray; tests replace it.
var probeTray = systemTray
