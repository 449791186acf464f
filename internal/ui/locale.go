//go:build !headless

package ui

import "github.com/posagent/posagent/internal/ui/localefix"

// fyne's lang package has read the locale by now (ui imports fyne, so
// this runs after fyne's inits): give the process its environment back.
func init() { localefix.Restore() }
