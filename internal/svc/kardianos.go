package svc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kardianos/service"

	"github.com/posagent/posagent/packaging"
)

// kardianosBackend drives the Windows SCM and launchd.
type kardianosBackend struct {
	o Options
	s service.Service
}

// serviceConfig is the service definition for kardianos on goos.
func serviceConfig(goos string, o Options) (*service.Config, error) {
	cfg := &service.Config{
		Name:        Name,
		DisplayName: displayName,
		Description: description,
		Executable:  o.Exe,
		Arguments:   []string{"run", "--headless", "--config", o.Paths.ConfigFile, "--state-dir", o.Paths.StateDir},
		Option:      service.KeyValue{},
	}
	switch goos {
	case "windows":
		// Start at boot; the SCM restarts a crashed agent after 5 s (the
		// agent exits with a non-zero code on a runtime failure).
		cfg.Option["StartType"] = "automatic"
		cfg.Option["OnFailure"] = "restart"
		cfg.Option["OnFailureDelayDuration"] = "5s"
		cfg.Option["OnFailureResetPeriod"] = 600
	case "darwin":
		plist, err := PlistText(o.Exe)
		if err != nil {
			return nil, err
		}
		cfg.Name = Label // launchd's label names the plist file
		cfg.Option["LaunchdConfig"] = plist
	default:
		return nil, fmt.Errorf("posagent has no service support on %s", goos)
	}
	return cfg, nil
}

type controlOnly struct{}

func (controlOnly) Start(service.Service) error { return nil }
func (controlOnly) Stop(service.Service) error  { return nil }

func newKardianos(o Options) (*kardianosBackend, error) {
	cfg, err := serviceConfig(runtime.GOOS, o)
	if err != nil {
		return nil, err
	}
	s, err := service.New(controlOnly{}, cfg)
	if err != nil {
		return nil, fmt.Errorf("service manager: %w", err)
	}
	return &kardianosBackend{o: o, s: s}, nil
}

func (k *kardianosBackend) available() error { return nil }

func (k *kardianosBackend) manager() string { return k.s.Platform() }

func (k *kardianosBackend) definition() string {
	if runtime.GOOS == "darwin" {
		return "/Library/LaunchDaemons/" + Label + ".plist"
	}
	return "Windows service \"" + Name + "\" (services.msc)"
}

func (k *kardianosBackend) logs() string {
	if runtime.GOOS == "darwin" {
		return "/Library/Logs/posagent/posagent.log"
	}
	return "Event Viewer → Windows Logs → Application, source \"posagent\""
}

func (k *kardianosBackend) install(context.Context) error {
	if runtime.GOOS == "darwin" {
		if err := os.MkdirAll("/Library/Logs/posagent", 0o750); err != nil {
			return fmt.Errorf("creating the log directory: %w", err)
		}
	}
	if err := k.writeConfigTemplate(); err != nil {
		return err
	}
	if err := k.s.Install(); err != nil {
		if strings.Contains(err.Error(), "exists") {
			return fmt.Errorf("already installed: run `posagent service uninstall` first to reinstall, or `posagent service start` (%w)", err)
		}
		return fmt.Errorf("install: %w", err)
	}
	fmt.Fprintf(k.o.Out, "installed (%s). Next: edit %s (gateway credentials, readers), then `posagent service start` as administrator.\n",
		k.definition(), k.o.Paths.ConfigFile)
	return nil
}

// writeConfigTemplate writes the commented template when no config exists.
// ProgramData and /Library/Application Support are readable by every user,
// so the directory is restricted first: the config may hold the API key.
func (k *kardianosBackend) writeConfigTemplate() error {
	path := k.o.Paths.ConfigFile
	if _, err := os.Stat(path); err == nil {
		fmt.Fprintf(k.o.Out, "kept the existing %s\n", path)
		return nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the config directory: %w", err)
	}
	if err := restrictDir(dir); err != nil {
		return err
	}
	if err := writeFile(path, packaging.ConfigTemplate, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(k.o.Out, "wrote the config template %s\n", path)
	return nil
}

func (k *kardianosBackend) uninstall(context.Context) error {
	_ = k.s.Stop() // stopping a stopped service is not a failure here
	if err := k.s.Uninstall(); err != nil {
		return fmt.Errorf("uninstall: %w", notInstalled(err))
	}
	fmt.Fprintf(k.o.Out, "uninstalled. Kept %s and %s (the journal of past sales); delete them by hand to erase them.\n",
		k.o.Paths.ConfigFile, k.o.Paths.StateDir)
	return nil
}

func (k *kardianosBackend) start(context.Context) error { return notInstalled(k.s.Start()) }
func (k *kardianosBackend) stop(context.Context) error  { return notInstalled(k.s.Stop()) }

func (k *kardianosBackend) state(context.Context) (State, string, error) {
	st, err := k.s.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return StateNotInstalled, "", nil
	case err != nil:
		return StateUnknown, "", err
	case st == service.StatusRunning:
		return StateRunning, "", nil
	case st == service.StatusStopped:
		return StateStopped, "", nil
	}
	return StateUnknown, "", nil
}

func notInstalled(err error) error {
	if errors.Is(err, service.ErrNotInstalled) {
		return ErrNotInstalled
	}
	return err
}
