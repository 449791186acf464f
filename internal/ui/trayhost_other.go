//go:build !headless && !(linux || freebsd || openbsd || netbsd)

package ui

import "context"

// systemTray: Windows and macOS always have a notification area / menu bar
// for fyne's tray icon.
func systemTray(context.Context) (trayState, error) { return trayShown, nil }
