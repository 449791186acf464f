// Package xvfb starts a private X server (Xvfb) for the programs under test/
// that need a real display: the tray test drives the cashier window on it
// and the benchmark harness measures the window's memory on it. The screen
// is the small counter screen the window is laid out for, 1024x600.
package xvfb
