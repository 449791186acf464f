//go:build headless

package ui

import "context"

// UI is the cashier window; in this build there is none.
type UI struct{}

// New returns a UI whose Run fails: this build has no window.
func New(Backend, Options) *UI { return &UI{} }

// Run reports ErrHeadless.
func (u *UI) Run(context.Context) error { return ErrHeadless }

// AskPairing denies: nobody can be asked in a headless build.
func (u *UI) AskPairing(context.Context, string) (Decision, error) { return DecisionDeny, ErrHeadless }

// Run reports ErrHeadless.
func Run(context.Context, Backend, Options) error { return ErrHeadless }

// DisplayAvailable is false: this build cannot open a window.
func DisplayAvailable() bool { return false }
