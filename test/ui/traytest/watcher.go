//go:build !headless && linux

package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

const (
	watcherName  = "org.kde.StatusNotifierWatcher"
	watcherPath  = "/StatusNotifierWatcher"
	itemIface    = "org.kde.StatusNotifierItem"
	dbusmenuFace = "com.canonical.dbusmenu"
)

// watcher is the tray host: the StatusNotifierWatcher a desktop panel runs,
// which tray icons register with.
type watcher struct {
	conn  *dbus.Conn
	items chan item
}

// item is a registered tray icon: the bus name and path of its object.
type item struct {
	sender string
	path   dbus.ObjectPath
}

func newWatcher(address string) (*watcher, error) {
	conn, err := dbus.Connect(address)
	if err != nil {
		return nil, fmt.Errorf("connecting to the test bus: %w", err)
	}
	w := &watcher{conn: conn, items: make(chan item, 8)}
	if err := conn.Export(w, watcherPath, watcherName); err != nil {
		conn.Close()
		return nil, fmt.Errorf("exporting the watcher: %w", err)
	}
	if err := w.own(); err != nil {
		conn.Close()
		return nil, err
	}
	return w, nil
}

// RegisterStatusNotifierItem is the watcher's method icons call. service is
// the item's object path (fyne's tray) or its bus name.
func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	p := dbus.ObjectPath("/StatusNotifierItem")
	if strings.HasPrefix(service, "/") {
		p = dbus.ObjectPath(service)
	}
	select {
	case w.items <- item{sender: string(sender), path: p}:
	default:
	}
	return nil
}

func (w *watcher) own() error {
	r, err := w.conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("owning %s: reply %v, %v", watcherName, r, err)
	}
	return nil
}

// leave stops being the tray host, as when the panel exits.
func (w *watcher) leave() error {
	_, err := w.conn.ReleaseName(watcherName)
	return err
}

// next waits for an icon to register.
func (w *watcher) next(ctx context.Context) (item, error) {
	select {
	case it := <-w.items:
		return it, nil
	case <-ctx.Done():
		return item{}, fmt.Errorf("no tray icon registered with the watcher: %w", ctx.Err())
	}
}

// property reads one of the icon's properties.
func (w *watcher) property(it item, name string) (dbus.Variant, error) {
	return w.conn.Object(it.sender, it.path).GetProperty(itemIface + "." + name)
}

// menuEntry is one entry of the icon's menu (dbusmenu layout).
type menuEntry struct {
	id    int32
	label string
}

// menu reads the icon's menu as a tray host draws it.
func (w *watcher) menu(it item) ([]menuEntry, error) {
	entries, _, err := w.menuAt(it)
	return entries, err
}

// menuAt is menu plus the menu's object path, which clicks are sent to.
func (w *watcher) menuAt(it item) ([]menuEntry, dbus.BusObject, error) {
	mp, err := w.property(it, "Menu")
	if err != nil {
		return nil, nil, fmt.Errorf("reading the icon's Menu property: %w", err)
	}
	path, ok := mp.Value().(dbus.ObjectPath)
	if !ok {
		return nil, nil, fmt.Errorf("the icon's Menu property is %v, not an object path", mp)
	}
	obj := w.conn.Object(it.sender, path)
	var rev uint32
	var layout []any
	if err := obj.Call(dbusmenuFace+".GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &layout); err != nil {
		return nil, nil, fmt.Errorf("GetLayout: %w", err)
	}
	var out []menuEntry
	walkLayout(layout, &out)
	return out, obj, nil
}

// walkLayout flattens a (ia{sv}av) layout node.
func walkLayout(node []any, out *[]menuEntry) {
	if len(node) != 3 {
		return
	}
	id, _ := node[0].(int32)
	if props, ok := node[1].(map[string]dbus.Variant); ok {
		if l, ok := props["label"]; ok {
			if s, ok := l.Value().(string); ok {
				*out = append(*out, menuEntry{id: id, label: s})
			}
		}
	}
	kids, _ := node[2].([]dbus.Variant)
	for _, k := range kids {
		if n, ok := k.Value().([]any); ok {
			walkLayout(n, out)
		}
	}
}

// click clicks the menu entry whose label starts with label, as a tray
// host does when the cashier picks it.
func (w *watcher) click(it item, label string) error {
	entries, obj, err := w.menuAt(it)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(entries, func(e menuEntry) bool { return strings.HasPrefix(e.label, label) })
	if i < 0 {
		return fmt.Errorf("the tray menu has no %q entry: %v", label, labels(entries))
	}
	return obj.Call(dbusmenuFace+".Event", 0,
		entries[i].id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err
}

func labels(entries []menuEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.label
	}
	return out
}
