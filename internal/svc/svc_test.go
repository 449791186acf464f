package svc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kardianos/service"

	"github.com/posagent/posagent/internal/config"
)

func TestUnitText(t *testing.T) {
	unit, err := UnitText("/opt/posagent/bin/posagent")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(unit, "ExecStart=/opt/posagent/bin/posagent run --headless") {
		t.Errorf("ExecStart does not run the given executable:\n%s", unit)
	}
	if strings.Contains(unit, packagedLinuxExe) {
		t.Errorf("packaged path %s left in the unit", packagedLinuxExe)
	}
	if strings.Contains(unit, "{{") {
		t.Error("unit contains template braces")
	}
	for _, bad := range []string{"posagent", "/opt/my apps/posagent", "/opt/$x/posagent", `/opt/a"b/posagent`} {
		if _, err := UnitText(bad); err == nil {
			t.Errorf("UnitText(%q) accepted", bad)
		}
	}
}

func TestPlistText(t *testing.T) {
	plist, err := PlistText("/opt/bin/posagent")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plist, "<string>/opt/bin/posagent</string>") || !strings.Contains(plist, "<string>"+Label+"</string>") {
		t.Errorf("plist does not name the executable and the label:\n%s", plist)
	}
}

// TestUnitVerifies runs systemd's own checker over the unit install writes
// for an executable outside /usr/bin.
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (make test-package installs it)")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "posagent")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit, err := UnitText(exe)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, unitName)
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// verify exits 0 on some warnings; an unknown directive is one of them.
	if strings.Contains(string(out), "Unknown key") || strings.Contains(string(out), "Unknown section") {
		t.Fatalf("systemd-analyze verify warnings:\n%s", out)
	}
}

type call struct{ name, args string }

type fakeRunner struct {
	calls []call
	fail  map[string]error // by command name
	out   string
}

func (f *fakeRunner) run(_ context.Context, name string, args ...string) (string, error) {
	f.calls = append(f.calls, call{name, strings.Join(args, " ")})
	return f.out, f.fail[name]
}

func (f *fakeRunner) names() string {
	var s []string
	for _, c := range f.calls {
		s = append(s, c.name+" "+c.args)
	}
	return strings.Join(s, "\n")
}

func testOptions(out *strings.Builder) Options {
	return Options{Exe: "/usr/local/bin/posagent", Paths: config.Paths{ConfigFile: "/etc/posagent/posagent.toml", StateDir: "/var/lib/posagent"}, Out: out}
}

func TestSystemdInstallUninstall(t *testing.T) {
	root := t.TempDir()
	var out strings.Builder
	r := &fakeRunner{fail: map[string]error{"udevadm": errors.New("udev not running")}}
	s := newSystemd(testOptions(&out), root, r.run, func() error { return nil })
	ctx := context.Background()
	if err := s.install(ctx); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join(root, etcUnit))
	if err != nil || !strings.Contains(string(unit), "ExecStart=/usr/local/bin/posagent run") {
		t.Fatalf("unit not written for the executable (%v):\n%s", err, unit)
	}
	for _, rel := range []string{udevFile, sysusersFile} {
		if fi, err := os.Stat(filepath.Join(root, rel)); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v", rel, fi, err)
		}
	}
	cfg := filepath.Join(root, "etc/posagent/posagent.toml")
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("config template: %v %v", fi, err)
	}
	want := []string{
		"systemd-sysusers " + filepath.Join(root, sysusersFile),
		"chgrp posagent " + cfg,
		"udevadm control --reload-rules",
		"systemctl daemon-reload",
		"systemctl enable posagent.service",
	}
	got := r.names()
	last := -1
	for _, w := range want {
		i := strings.Index(got, w)
		if i < 0 || i < last {
			t.Fatalf("commands out of order or missing %q:\n%s", w, got)
		}
		last = i
	}
	if !strings.Contains(out.String(), "udev did not reload") {
		t.Errorf("a udev failure is not reported:\n%s", out.String())
	}
	// A second install refuses instead of overwriting.
	if err := s.install(ctx); err == nil || !strings.Contains(err.Error(), "already installed") {
		t.Fatalf("second install: %v", err)
	}
	// Uninstall removes what install wrote and keeps the config.
	if err := s.uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{etcUnit, udevFile, sysusersFile} {
		if _, err := os.Stat(filepath.Join(root, rel)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after uninstall", rel)
		}
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Errorf("uninstall removed the config: %v", err)
	}
	if !strings.Contains(r.names(), "systemctl disable --now posagent.service") {
		t.Errorf("uninstall did not stop and disable:\n%s", r.names())
	}
	if err := s.uninstall(ctx); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("uninstall twice: %v", err)
	}
}

func TestSystemdInstallOverPackage(t *testing.T) {
	root := t.TempDir()
	pkg := filepath.Join(root, packagedUnits[0])
	if err := writeFile(pkg, "[Unit]\n", 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	r := &fakeRunner{}
	s := newSystemd(testOptions(&out), root, r.run, func() error { return nil })
	if err := s.install(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, etcUnit)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("install wrote a second unit over the package's")
	}
	if got := r.names(); got != "systemctl daemon-reload\nsystemctl enable posagent.service" {
		t.Errorf("commands:\n%s", got)
	}
	if err := s.uninstall(context.Background()); err == nil || !strings.Contains(err.Error(), "apt remove") {
		t.Errorf("uninstall of a packaged unit: %v", err)
	}
	if s.definition() != "/"+packagedUnits[0] {
		t.Errorf("definition %q", s.definition())
	}
}

func TestParseSystemdShow(t *testing.T) {
	for _, tc := range []struct {
		out    string
		state  State
		detail string
	}{
		{"LoadState=not-found\nActiveState=inactive\n", StateNotInstalled, ""},
		{"LoadState=loaded\nActiveState=active\nSubState=running\n", StateRunning, "active (running)"},
		{"LoadState=loaded\nActiveState=inactive\nSubState=dead\n", StateStopped, "inactive (dead)"},
		{"LoadState=loaded\nActiveState=activating\nSubState=start\n", StateStarting, "activating (start)"},
		{"LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\nExecMainStatus=78\n", StateFailed, "failed: exit-code, exit status 78 (configuration error)"},
	} {
		st, detail, err := parseSystemdShow(tc.out)
		if err != nil || st != tc.state || detail != tc.detail {
			t.Errorf("%q → %q %q %v, want %q %q", tc.out, st, detail, err, tc.state, tc.detail)
		}
	}
	if _, _, err := parseSystemdShow(""); err == nil {
		t.Error("empty output accepted")
	}
}

// fakeBackend is a service manager in a given state.
type fakeBackend struct {
	st      State
	detail  string
	unavail error
	did     []string
}

func (f *fakeBackend) install(context.Context) error { f.did = append(f.did, "install"); return nil }
func (f *fakeBackend) uninstall(context.Context) error {
	f.did = append(f.did, "uninstall")
	return nil
}
func (f *fakeBackend) start(context.Context) error { f.did = append(f.did, "start"); return nil }
func (f *fakeBackend) stop(context.Context) error  { f.did = append(f.did, "stop"); return nil }
func (f *fakeBackend) state(context.Context) (State, string, error) {
	return f.st, f.detail, nil
}
func (f *fakeBackend) definition() string { return "/etc/systemd/system/posagent.service" }
func (f *fakeBackend) logs() string       { return "journalctl -u posagent" }
func (f *fakeBackend) available() error   { return f.unavail }
func (f *fakeBackend) manager() string    { return "fake" }

func TestChangeNeedsPrivilege(t *testing.T) {
	be := &fakeBackend{}
	c := &Controller{opts: testOptions(&strings.Builder{}), be: be, privileged: func() bool { return false }}
	ctx := context.Background()
	for name, do := range map[string]func(context.Context) error{"install": c.Install, "uninstall": c.Uninstall, "start": c.Start, "stop": c.Stop} {
		err := do(ctx)
		var pe *PrivilegeError
		if !errors.As(err, &pe) || pe.Action != name || !strings.Contains(err.Error(), "posagent service "+name) {
			t.Errorf("%s unprivileged: %v", name, err)
		}
	}
	if len(be.did) != 0 {
		t.Errorf("unprivileged calls reached the service manager: %v", be.did)
	}
	// No service manager: that, not privileges, is the message.
	be.unavail = errors.New("this machine does not run systemd")
	if err := c.Install(ctx); err == nil || !strings.Contains(err.Error(), "systemd") {
		t.Errorf("install without systemd: %v", err)
	}
}

func TestStartChecksConfig(t *testing.T) {
	be := &fakeBackend{}
	o := testOptions(&strings.Builder{})
	o.CheckConfig = func(string) error { return errors.New("gateway.user_id: missing") }
	c := &Controller{opts: o, be: be, privileged: func() bool { return true }}
	if err := c.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "gateway.user_id") {
		t.Fatalf("start with a bad config: %v", err)
	}
	if len(be.did) != 0 {
		t.Fatalf("started anyway: %v", be.did)
	}
	o.CheckConfig = func(string) error { return nil }
	c.opts = o
	if err := c.Start(context.Background()); err != nil || len(be.did) != 1 {
		t.Fatalf("start with a good config: %v %v", err, be.did)
	}
}

func TestStatus(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"status":"ok","version":"1.2.3","readers":2,"readers_ok":1,"clients":0}`)
	}))
	defer healthy.Close()
	live := strings.TrimPrefix(healthy.URL, "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name     string
		be       *fakeBackend
		listen   string
		cfgErr   error
		code     int
		contains []string
	}{
		{"running", &fakeBackend{st: StateRunning, detail: "active (running)"}, live, nil, StatusRunning,
			[]string{"posagent service: running: active (running)", "version 1.2.3, readers 1/2 ok", "config:     /etc/posagent/posagent.toml — ok"}},
		{"running but silent", &fakeBackend{st: StateRunning}, dead, nil, StatusUnhealthy,
			[]string{"not answering", "next: the service runs but the bridge does not answer"}},
		{"failed on config", &fakeBackend{st: StateFailed, detail: "failed: exit-code, exit status 78 (configuration error)"}, dead,
			fmt.Errorf("open: %w", fs.ErrPermission), StatusNotRunning,
			[]string{"exit status 78", "may not read it", "run the status as root", "next: fix the config"}},
		{"not installed", &fakeBackend{st: StateNotInstalled}, dead, fs.ErrNotExist, StatusNotInstalled,
			[]string{"not installed", "missing", "posagent service install"}},
		{"no systemd", &fakeBackend{unavail: errors.New("this machine does not run systemd")}, dead, nil, StatusNotInstalled,
			[]string{"unavailable: this machine does not run systemd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Controller{opts: testOptions(&strings.Builder{}), be: tc.be, privileged: func() bool { return false },
				listenFor: func(string) (string, error) {
					if tc.cfgErr != nil {
						return "", tc.cfgErr
					}
					return tc.listen, nil
				}}
			r := c.Status(context.Background())
			if r.ExitCode() != tc.code {
				t.Errorf("exit code %d, want %d", r.ExitCode(), tc.code)
			}
			var b strings.Builder
			r.Write(&b)
			for _, want := range tc.contains {
				if !strings.Contains(b.String(), want) {
					t.Errorf("status lacks %q:\n%s", want, b.String())
				}
			}
		})
	}
}

func TestServiceConfig(t *testing.T) {
	o := Options{Exe: "/usr/local/bin/posagent", Paths: config.Paths{ConfigFile: `C:\ProgramData\posagent\posagent.toml`, StateDir: `C:\ProgramData\posagent\state`}}
	win, err := serviceConfig("windows", o)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(win.Arguments, " "); got != `run --headless --config C:\ProgramData\posagent\posagent.toml --state-dir C:\ProgramData\posagent\state` {
		t.Errorf("windows arguments %q", got)
	}
	if win.Option["OnFailure"] != "restart" || win.Option["StartType"] != "automatic" {
		t.Errorf("windows options %v", win.Option)
	}
	mac, err := serviceConfig("darwin", o)
	if err != nil {
		t.Fatal(err)
	}
	if mac.Name != Label || !strings.Contains(mac.Option["LaunchdConfig"].(string), "/usr/local/bin/posagent") {
		t.Errorf("darwin config %+v", mac)
	}
	if _, err := serviceConfig("plan9", o); err == nil {
		t.Error("plan9 accepted")
	}
}

type levelLogger struct{ got []string }

func (l *levelLogger) Error(v ...any) error { l.got = append(l.got, "E "+fmt.Sprint(v...)); return nil }
func (l *levelLogger) Warning(v ...any) error {
	l.got = append(l.got, "W "+fmt.Sprint(v...))
	return nil
}
func (l *levelLogger) Info(v ...any) error { l.got = append(l.got, "I "+fmt.Sprint(v...)); return nil }
func (l *levelLogger) Errorf(f string, v ...any) error {
	return l.Error(fmt.Sprintf(f, v...))
}
func (l *levelLogger) Warningf(f string, v ...any) error { return l.Warning(fmt.Sprintf(f, v...)) }
func (l *levelLogger) Infof(f string, v ...any) error    { return l.Info(fmt.Sprintf(f, v...)) }

var _ service.Logger = (*levelLogger)(nil)

func TestEventLogWriter(t *testing.T) {
	l := &levelLogger{}
	w := &EventLogWriter{l: l}
	in := "time=x level=INFO msg=started\ntime=x level=WARN msg=slow\n{\"level\":\"ERROR\",\"msg\":\"boom\"}\n"
	n, err := w.Write([]byte(in))
	if err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	want := []string{"I time=x level=INFO msg=started", "W time=x level=WARN msg=slow", `E {"level":"ERROR","msg":"boom"}`}
	if strings.Join(l.got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s", strings.Join(l.got, "\n"))
	}
}
