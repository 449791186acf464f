//go:build !headless && linux

package main

/*
#cgo LDFLAGS: -lX11
#include <X11/Xlib.h>
#include <stdlib.h>
#include <string.h>

// The agent's windows come and go while this looks at them: an X error
// (BadWindow) must not end this process, as Xlib's default handler would.
static int ignore_errors(Display *d, XErrorEvent *e) { return 0; }

static Display *open_display(const char *name) {
	XSetErrorHandler(ignore_errors);
	return XOpenDisplay(name);
}

static Window find_named(Display *d, Window w, const char *name) {
	char *n = NULL;
	if (XFetchName(d, w, &n) && n) {
		int eq = strcmp(n, name) == 0;
		XFree(n);
		if (eq) return w;
	}
	Window root, parent, *kids = NULL;
	unsigned int nk = 0;
	if (!XQueryTree(d, w, &root, &parent, &kids, &nk)) return 0;
	Window found = 0;
	for (unsigned int i = 0; i < nk && !found; i++) found = find_named(d, kids[i], name);
	if (kids) XFree(kids);
	return found;
}

static int map_state(Display *d, Window w) {
	XWindowAttributes a;
	if (!XGetWindowAttributes(d, w, &a)) return -1;
	return a.map_state;
}

// send_delete is what a window manager sends for the title bar's close
// button (ICCCM WM_DELETE_WINDOW).
static void send_delete(Display *d, Window w) {
	XEvent e;
	memset(&e, 0, sizeof e);
	e.xclient.type = ClientMessage;
	e.xclient.window = w;
	e.xclient.message_type = XInternAtom(d, "WM_PROTOCOLS", False);
	e.xclient.format = 32;
	e.xclient.data.l[0] = XInternAtom(d, "WM_DELETE_WINDOW", False);
	e.xclient.data.l[1] = CurrentTime;
	XSendEvent(d, w, False, NoEventMask, &e);
	XFlush(d);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// xconn is a client of the X server the agent's window is on. One
// goroutine only (Xlib is not thread-safe without XInitThreads).
type xconn struct{ d *C.Display }

func openX(display string) (*xconn, error) {
	name := C.CString(display)
	defer C.free(unsafe.Pointer(name))
	d := C.open_display(name)
	if d == nil {
		return nil, fmt.Errorf("cannot open X display %s", display)
	}
	return &xconn{d: d}, nil
}

func (x *xconn) close() { C.XCloseDisplay(x.d) }

// find returns the window named name, or 0.
func (x *xconn) find(name string) uint64 {
	n := C.CString(name)
	defer C.free(unsafe.Pointer(n))
	return uint64(C.find_named(x.d, C.XDefaultRootWindow(x.d), n))
}

// mapState is the window's map state: unmapped (hidden), unviewable or
// viewable; errGone when the window no longer exists.
func (x *xconn) mapState(w uint64) (string, error) {
	switch C.map_state(x.d, C.Window(w)) {
	case C.IsUnmapped:
		return "unmapped", nil
	case C.IsUnviewable:
		return "unviewable", nil
	case C.IsViewable:
		return "viewable", nil
	}
	return "", errGone
}

var errGone = errors.New("window gone")

// closeButton asks the window to close, as the title bar's button does.
func (x *xconn) closeButton(w uint64) { C.send_delete(x.d, C.Window(w)) }
