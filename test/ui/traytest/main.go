//go:build !headless && linux

// Command traytest checks the cashier window's tray icon and close button
// on a real X server (Xvfb) and a real D-Bus session bus (dbus-daemon),
// with this program as the desktop panel's tray host
// (org.kde.StatusNotifierWatcher):
//
//  1. With a tray host: the agent's icon registers, its menu shows the
//     status and the entries; "Pause sales" turns into "Resume sales"; the
//     window's close button hides the window while the agent keeps running;
//     "Show window" brings it back; "Quit" ends the agent with exit status 0.
//  2. On the bus without a tray host: the close button leaves the window up
//     (it asks before quitting, there being no tray to come back from) and
//     SIGTERM ends the agent with exit status 0.
//
// Without any session bus (test/ui/smoke.sh) the agent installs no tray;
// fyne's tray code would otherwise crash it at quit.
//
//	go run ./test/ui/traytest -bin bin/posagent
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/posagent/posagent/internal/syncbuf"
	"github.com/posagent/posagent/test/internal/xvfb"
)

func main() {
	bin := flag.String("bin", "bin/posagent", "the posagent binary (a build with the window)")
	flag.Parse()
	if err := run(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "traytest:", err)
		os.Exit(1)
	}
	fmt.Println("traytest: ok")
}

func run(bin string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "traytest")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	display, stopX, err := xvfb.Start()
	if err != nil {
		return err
	}
	defer stopX()
	bus, stopBus, err := startBus(dir)
	if err != nil {
		return err
	}
	defer stopBus()
	x, err := openX(display)
	if err != nil {
		return err
	}
	defer x.close()
	w, err := newWatcher(bus)
	if err != nil {
		return err
	}
	defer w.conn.Close()

	env := []string{"DISPLAY=" + display, "DBUS_SESSION_BUS_ADDRESS=" + bus}
	if err := withTrayHost(x, w, bin, dir, env); err != nil {
		return fmt.Errorf("with a tray host: %w", err)
	}
	fmt.Println("traytest: tray host: icon, menu, pause, close hides, show, quit: ok")
	if err := w.leave(); err != nil {
		return err
	}
	if err := withoutTrayHost(x, bin, dir, env); err != nil {
		return fmt.Errorf("without a tray host: %w", err)
	}
	fmt.Println("traytest: no tray host: close asks, SIGTERM: ok")
	return nil
}

func withTrayHost(x *xconn, w *watcher, bin, dir string, env []string) error {
	a, err := startAgent(bin, filepath.Join(dir, "a"), env)
	if err != nil {
		return err
	}
	defer a.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	it, err := w.next(ctx)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, a.out.String())
	}
	if t, err := w.property(it, "Title"); err != nil || t.Value() == "" {
		return fmt.Errorf("icon title %v, %v", t, err)
	}
	if err := waitMenu(ctx, w, it, "readers ready"); err != nil {
		return err
	}
	for _, want := range []string{"Show window", "Pause sales", "Quit"} {
		if err := waitMenu(ctx, w, it, want); err != nil {
			return err
		}
	}
	if err := w.click(it, "Pause sales"); err != nil {
		return err
	}
	if err := waitMenu(ctx, w, it, "Resume sales"); err != nil {
		return fmt.Errorf("after Pause sales: %w", err)
	}
	if err := w.click(it, "Resume sales"); err != nil {
		return err
	}

	win, err := waitWindow(ctx, x, "viewable")
	if err != nil {
		return err
	}
	x.closeButton(win)
	if err := waitState(ctx, x, win, "unmapped"); err != nil {
		return fmt.Errorf("close button with a tray host: %w", err)
	}
	if !a.running() {
		return fmt.Errorf("the close button ended the agent:\n%s", a.out.String())
	}
	if err := w.click(it, "Show window"); err != nil {
		return err
	}
	if err := waitState(ctx, x, win, "viewable"); err != nil {
		return fmt.Errorf("after the tray menu's Show window: %w", err)
	}
	if err := w.click(it, "Quit"); err != nil {
		return err
	}
	return a.wait(30 * time.Second)
}

func withoutTrayHost(x *xconn, bin, dir string, env []string) error {
	a, err := startAgent(bin, filepath.Join(dir, "b"), env)
	if err != nil {
		return err
	}
	defer a.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	win, err := waitWindow(ctx, x, "viewable")
	if err != nil {
		return fmt.Errorf("%w\n%s", err, a.out.String())
	}
	x.closeButton(win)
	// The window answers with a question inside it; give it the time a
	// hide would take and check it is still up.
	time.Sleep(2 * time.Second)
	if st, err := x.mapState(win); err != nil || st != "viewable" {
		return fmt.Errorf("close button without a tray host left the window %s (%v): nothing would bring it back", st, err)
	}
	if !a.running() {
		return fmt.Errorf("the close button ended the agent without asking:\n%s", a.out.String())
	}
	if !strings.Contains(a.out.String(), "no tray host shows posagent's icon") {
		return fmt.Errorf("the agent did not log that no tray host shows its icon:\n%s", a.out.String())
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return a.wait(30 * time.Second)
}

// waitMenu waits until the icon's menu has an entry starting with label
// (the status entry is filled in once the agent reports).
func waitMenu(ctx context.Context, w *watcher, it item, label string) error {
	var last []menuEntry
	for {
		entries, err := w.menu(it)
		if err == nil {
			last = entries
			for _, e := range entries {
				if strings.Contains(e.label, label) {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the tray menu never showed %q (last: %v, %v)", label, labels(last), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func waitWindow(ctx context.Context, x *xconn, state string) (uint64, error) {
	for {
		if win := x.find("posagent"); win != 0 {
			if st, err := x.mapState(win); err == nil && st == state {
				return win, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no %s window named posagent", state)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func waitState(ctx context.Context, x *xconn, win uint64, state string) error {
	var st string
	var err error
	for {
		if st, err = x.mapState(win); err == nil && st == state {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the window stayed %s (%v), want %s", st, err, state)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// agent is a running `posagent demo` with the window.
type agent struct {
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan error
}

func startAgent(bin, state string, env []string) (*agent, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "demo", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--state-dir", state)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "HOME="+state, "XDG_CONFIG_HOME="+filepath.Join(state, "config"))
	a := &agent{cmd: cmd, out: &syncbuf.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = a.out, a.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { a.done <- cmd.Wait() }()
	return a, nil
}

func (a *agent) running() bool {
	select {
	case err := <-a.done:
		a.done <- err
		return false
	default:
		return true
	}
}

// wait requires the agent to end by itself, cleanly, within d.
func (a *agent) wait(d time.Duration) error {
	select {
	case err := <-a.done:
		a.done <- err
		if err != nil {
			return fmt.Errorf("the agent ended with %v:\n%s", err, a.out.String())
		}
		if strings.Contains(a.out.String(), "panic:") {
			return fmt.Errorf("the agent panicked:\n%s", a.out.String())
		}
		return nil
	case <-time.After(d):
		return fmt.Errorf("the agent did not end within %v:\n%s", d, a.out.String())
	}
}

func (a *agent) kill() {
	if a.running() {
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// busConfig is a session bus that lets every client own and call every
// name, as a desktop session's bus does for its user.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startBus starts a private session bus and returns its address.
func startBus(dir string) (string, func(), error) {
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, busConfig, dir), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting dbus-daemon (apt-get install dbus-daemon): %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("dbus-daemon printed no address: %w %s", err, stderr.String())
	}
	return strings.TrimSpace(line), stop, nil
}
