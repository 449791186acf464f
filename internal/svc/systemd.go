package svc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/posagent/posagent/packaging"
)

// Files `service install` writes on Linux, relative to the root. The .deb
// puts the unit, rules and sysusers entry under /usr/lib instead (vendor
// locations); /etc is where an administrator's own files go.
const (
	unitName     = "posagent.service"
	etcUnit      = "etc/systemd/system/" + unitName
	udevFile     = "etc/udev/rules.d/60-posagent.rules"
	sysusersFile = "etc/sysusers.d/posagent.conf"
)

// packagedUnits are where the .deb installs the unit (Debian 12 merges /lib
// into /usr/lib; older systems do not).
var packagedUnits = []string{"usr/lib/systemd/system/" + unitName, "lib/systemd/system/" + unitName}

// runner runs a system command and returns its combined output.
type runner func(ctx context.Context, name string, args ...string) (string, error)

func runCommand(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// systemdRunning is nil when systemd is this machine's init.
func systemdRunning() error {
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		return nil
	}
	init, _ := os.ReadFile("/proc/1/comm")
	name := strings.TrimSpace(string(init))
	if name == "" {
		name = "unknown"
	}
	return fmt.Errorf("this machine does not run systemd (its init is %q), and the posagent service needs it: "+
		"start `posagent run --headless --config /etc/posagent/posagent.toml` from your init system instead, "+
		"or install on a systemd distribution (Debian, Ubuntu, Fedora, …)", name)
}

// systemd is the Linux backend. It writes the packaged unit, udev rules and
// sysusers entry itself and drives systemctl, rather than going through
// kardianos' systemd support, which writes only a unit: a service that
// cannot open the readers would be installed but useless.
type systemd struct {
	o       Options
	root    string // "/" except in tests
	run     runner
	running func() error
}

func newSystemd(o Options, root string, run runner, running func() error) *systemd {
	return &systemd{o: o, root: root, run: run, running: running}
}

func (s *systemd) path(rel string) string { return filepath.Join(s.root, rel) }

func (s *systemd) available() error { return s.running() }

func (s *systemd) manager() string {
	if s.running() != nil {
		return "none (systemd is not running)"
	}
	return "systemd"
}

func (s *systemd) definition() string {
	if p := s.packagedUnit(); p != "" {
		return "/" + p
	}
	return "/" + etcUnit
}

func (s *systemd) logs() string {
	return "the systemd journal: `journalctl -u posagent` (add -f to follow, -n 100 for the last lines)"
}

func (s *systemd) packagedUnit() string {
	for _, p := range packagedUnits {
		if _, err := os.Stat(s.path(p)); err == nil {
			return p
		}
	}
	return ""
}

func (s *systemd) printf(format string, a ...any) { fmt.Fprintf(s.o.Out, format, a...) }

func (s *systemd) install(ctx context.Context) error {
	if p := s.packagedUnit(); p != "" {
		// The package installed unit, rules and user; only enable it.
		s.printf("posagent.service is installed by the posagent package (/%s): enabling it\n", p)
		return s.enable(ctx)
	}
	unit, err := UnitText(s.o.Exe)
	if err != nil {
		return err
	}
	if _, err := os.Stat(s.path(etcUnit)); err == nil {
		return fmt.Errorf("already installed (/%s): run `posagent service uninstall` first to reinstall, or `posagent service start`", etcUnit)
	}
	for _, f := range []struct {
		rel, text string
	}{{sysusersFile, packaging.Sysusers}, {udevFile, packaging.UdevRules}, {etcUnit, unit}} {
		if err := writeFile(s.path(f.rel), f.text, 0o644); err != nil {
			return err
		}
		s.printf("wrote /%s\n", f.rel)
	}
	// The dedicated user must exist before the config is given its group
	// and before udev rules name it.
	if _, err := s.run(ctx, "systemd-sysusers", s.path(sysusersFile)); err != nil {
		return fmt.Errorf("creating the posagent user: %w", err)
	}
	if err := s.writeConfigTemplate(ctx); err != nil {
		return err
	}
	s.reloadUdev(ctx)
	if err := s.enable(ctx); err != nil {
		return err
	}
	s.printf("installed. Next: edit %s (gateway credentials, readers), then `sudo posagent service start`.\n", s.o.Paths.ConfigFile)
	return nil
}

// writeConfigTemplate writes the commented config template when there is no
// config yet, readable by root and the service's group only (it may hold the
// API key).
func (s *systemd) writeConfigTemplate(ctx context.Context) error {
	cfg := filepath.Join(s.root, s.o.Paths.ConfigFile)
	if _, err := os.Stat(cfg); err == nil {
		s.printf("kept the existing %s\n", s.o.Paths.ConfigFile)
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg), 0o750); err != nil {
		return fmt.Errorf("creating the config directory: %w", err)
	}
	if err := writeFile(cfg, packaging.ConfigTemplate, 0o640); err != nil {
		return err
	}
	if _, err := s.run(ctx, "chgrp", "posagent", cfg, filepath.Dir(cfg)); err != nil {
		return fmt.Errorf("giving the config to the posagent group: %w", err)
	}
	s.printf("wrote the config template %s (root:posagent 0640)\n", s.o.Paths.ConfigFile)
	return nil
}

// reloadUdev applies the new rules to readers already plugged in. udev may
// not run (a container): the rules then apply at the next boot, which is
// worth a note but not a failed install.
func (s *systemd) reloadUdev(ctx context.Context) {
	if _, err := s.run(ctx, "udevadm", "control", "--reload-rules"); err != nil {
		s.printf("note: udev did not reload its rules (%v); they apply after a reboot or replugging the reader\n", err)
		return
	}
	_, _ = s.run(ctx, "udevadm", "trigger", "--action=add", "--subsystem-match=usb", "--subsystem-match=hidraw", "--subsystem-match=tty")
}

func (s *systemd) enable(ctx context.Context) error {
	if _, err := s.run(ctx, "systemctl", "daemon-reload"); err != nil {
		return err
	}
	if _, err := s.run(ctx, "systemctl", "enable", unitName); err != nil {
		return err
	}
	s.printf("enabled %s: it starts at boot\n", unitName)
	return nil
}

func (s *systemd) uninstall(ctx context.Context) error {
	if _, err := os.Stat(s.path(etcUnit)); errors.Is(err, fs.ErrNotExist) {
		if p := s.packagedUnit(); p != "" {
			return fmt.Errorf("posagent.service was installed by the package (/%s): remove it with `sudo apt remove posagent`", p)
		}
		return ErrNotInstalled
	}
	if _, err := s.run(ctx, "systemctl", "disable", "--now", unitName); err != nil {
		return err
	}
	for _, rel := range []string{etcUnit, udevFile, sysusersFile} {
		if err := os.Remove(s.path(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing /%s: %w", rel, err)
		}
		s.printf("removed /%s\n", rel)
	}
	if _, err := s.run(ctx, "systemctl", "daemon-reload"); err != nil {
		return err
	}
	s.reloadUdev(ctx)
	s.printf("uninstalled. Kept %s and %s (the journal of past sales); delete them by hand to erase them. The posagent user stays (userdel posagent).\n",
		s.o.Paths.ConfigFile, "/var/lib/posagent")
	return nil
}

func (s *systemd) start(ctx context.Context) error {
	if _, err := s.run(ctx, "systemctl", "start", unitName); err != nil {
		return fmt.Errorf("%w\nsee why: journalctl -u posagent -n 50", err)
	}
	return nil
}

func (s *systemd) stop(ctx context.Context) error {
	_, err := s.run(ctx, "systemctl", "stop", unitName)
	return err
}

func (s *systemd) state(ctx context.Context) (State, string, error) {
	out, err := s.run(ctx, "systemctl", "show", unitName, "--property=LoadState,ActiveState,SubState,Result,ExecMainStatus")
	if err != nil {
		return StateUnknown, "", err
	}
	return parseSystemdShow(out)
}

// parseSystemdShow turns `systemctl show` properties into a State.
func parseSystemdShow(out string) (State, string, error) {
	p := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			p[k] = v
		}
	}
	if p["LoadState"] == "" {
		return StateUnknown, "", fmt.Errorf("systemctl show said nothing about %s", unitName)
	}
	if p["LoadState"] == "not-found" {
		return StateNotInstalled, "", nil
	}
	detail := p["ActiveState"] + " (" + p["SubState"] + ")"
	switch p["ActiveState"] {
	case "active", "reloading":
		return StateRunning, detail, nil
	case "activating":
		return StateStarting, detail, nil
	case "deactivating":
		return StateStopping, detail, nil
	case "failed":
		code := p["ExecMainStatus"]
		detail = "failed: " + p["Result"]
		if code != "" && code != "0" {
			detail += ", exit status " + code + exitMeaning(code)
		}
		return StateFailed, detail, nil
	case "inactive":
		return StateStopped, detail, nil
	}
	return StateUnknown, detail, nil
}

func exitMeaning(code string) string {
	switch code {
	case "78":
		return " (configuration error)"
	case "1":
		return " (runtime failure)"
	}
	return ""
}

func writeFile(path, text string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// WriteFile keeps an existing file's mode and the umask trims new ones.
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
