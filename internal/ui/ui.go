//go:build !headless

package ui

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// The window is designed for a 1024x600 counter screen, the smallest common
// all-in-one POS display.
var windowSize = fyne.NewSize(1024, 600)

// UI is the cashier window. Create it with New, hand AskPairing to the
// bridge, then call Run from the main goroutine.
type UI struct {
	b    Backend
	opts Options
	log  *slog.Logger

	app fyne.App
	win fyne.Window

	// ready is closed once the window exists, so AskPairing calls that
	// arrive before Run has built it wait instead of failing.
	ready     chan struct{}
	readyOnce sync.Once

	// stop ends the background goroutines started by start.
	stop context.CancelFunc
	wg   sync.WaitGroup

	reg    *register
	hist   *history
	sett   *settings
	tray   *tray
	tabs   *container.AppTabs
	status Status

	// handled counts the events applied, so tests can wait until the
	// window has caught up with what they emitted.
	handled atomic.Int64
}

// New prepares the window for b; nothing is shown before Run.
func New(b Backend, opts Options) *UI {
	if opts.Title == "" {
		opts.Title = "posagent"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StatusEvery <= 0 {
		opts.StatusEvery = 2 * time.Second
	}
	return &UI{b: b, opts: opts, log: opts.Logger.With("component", "ui"), ready: make(chan struct{})}
}

// build creates the window and its screens in a. It runs on the UI
// goroutine (Run before the event loop, or a test).
func (u *UI) build(a fyne.App) fyne.Window {
	u.app = a
	u.win = a.NewWindow(u.opts.Title)
	u.reg = newRegister(u)
	u.hist = newHistory(u)
	u.sett = newSettings(u)
	u.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Register", theme.HomeIcon(), u.reg.content),
		container.NewTabItemWithIcon("History", theme.HistoryIcon(), u.hist.content),
		container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), u.sett.content),
	)
	u.tabs.OnSelected = func(t *container.TabItem) {
		// Reload on entry so the screens show what the POS page did too.
		switch t.Text {
		case "History":
			u.hist.reload()
		case "Settings":
			u.sett.load()
		}
	}
	u.win.SetContent(u.tabs)
	u.win.Resize(windowSize)
	u.tray = newTray(u)
	u.win.SetCloseIntercept(u.onClose)
	u.applyStatus(u.b.Status())
	u.readyOnce.Do(func() { close(u.ready) })
	return u.win
}

// onClose is the window's close button. The agent keeps serving the POS
// page with the window closed, so where a tray host shows the icon (Show
// window and Quit are in its menu) it only hides the window. Anywhere else
// a hidden window could not be brought back, and quitting stops card
// payments from the POS page, so it asks. UI goroutine only.
func (u *UI) onClose() {
	if u.trayShown(context.Background()) {
		u.win.Hide()
		return
	}
	msg := widget.NewLabel("There is no system tray on this desktop to keep posagent in.\n\n" +
		"If you quit, the POS page cannot take card payments until posagent is started again.")
	msg.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm("Quit posagent?", "Quit", "Keep running", msg, func(quit bool) {
		if quit {
			u.app.Quit()
		}
	}, u.win)
	d.SetConfirmImportance(widget.DangerImportance)
	d.Resize(fyne.NewSize(480, 240))
	d.Show()
}

// start runs the goroutines that feed the window: agent events and status
// polling. Every widget change they cause goes through fyne.Do.
func (u *UI) start(ctx context.Context) {
	ctx, u.stop = context.WithCancel(ctx)
	events, unsubscribe := u.b.Updates()
	u.wg.Add(2)
	go func() {
		defer u.wg.Done()
		defer unsubscribe()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				fyne.Do(func() {
					u.handle(ev)
					u.handled.Add(1)
				})
			}
		}
	}()
	go func() {
		defer u.wg.Done()
		t := time.NewTicker(u.opts.StatusEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// Status may take a moment (gateway reachability): ask
				// off the UI goroutine, paint on it.
				st := u.b.Status()
				fyne.Do(func() { u.applyStatus(st) })
			}
		}
	}()
}

// shutdown stops the goroutines started by start and waits for them.
func (u *UI) shutdown() {
	if u.stop != nil {
		u.stop()
	}
	u.wg.Wait()
}

// handle applies one agent event. UI goroutine only.
func (u *UI) handle(ev Event) {
	switch ev.Kind {
	case EventPrompt:
		u.reg.onPrompt(ev.SaleID, ev.Prompt)
	case EventCard:
		if ev.Card != nil {
			u.reg.onCard(ev.SaleID, *ev.Card)
		}
	case EventResult:
		if ev.Result != nil {
			u.reg.onResult(ev.SaleID, *ev.Result)
			u.hist.changed()
		}
	case EventReader:
		u.applyStatus(u.b.Status())
	case EventWarning:
		u.reg.warn(ev.Message)
	}
}

// applyStatus paints a status snapshot. UI goroutine only.
func (u *UI) applyStatus(st Status) {
	u.status = st
	u.reg.showStatus(st)
	if u.tray != nil {
		u.tray.update(st)
	}
}

// ctx returns a context for one backend command started by the cashier.
func commandContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}
