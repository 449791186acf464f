package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/posagent/posagent/internal/app"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/svc"
)

func init() {
	register(command{name: "service", summary: "install|uninstall|start|stop|status the OS service (systemd, Windows SCM, launchd)", run: runService})
}

// Exit codes of the changing actions (status has its own, see svc.Report).
const (
	exitNoPermission = 77 // EX_NOPERM: run it as root / Administrator
	exitNotInstalled = 4
)

func runService(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("service", stderr)
	asJSON := fs.Bool("json", false, "status: print JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: posagent service install|uninstall|start|stop|status [--json]")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return app.ExitUsage
	}
	action := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return app.ExitUsage
	}
	o, err := svc.DefaultOptions(checkServiceConfig, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "posagent service: %v\n", err)
		return app.ExitFailure
	}
	c, err := svc.New(o)
	if err != nil {
		fmt.Fprintf(stderr, "posagent service: %v\n", err)
		return app.ExitFailure
	}
	switch action {
	case "status":
		r := c.Status(ctx)
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(r)
		} else {
			r.Write(stdout)
		}
		return r.ExitCode()
	case "install":
		err = c.Install(ctx)
	case "uninstall":
		err = c.Uninstall(ctx)
	case "start":
		err = c.Start(ctx)
	case "stop":
		err = c.Stop(ctx)
	default:
		fmt.Fprintf(stderr, "posagent service: unknown action %q\n", action)
		fs.Usage()
		return app.ExitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "posagent service %s: %v\n", action, err)
		return serviceExitCode(err)
	}
	if action == "start" || action == "stop" {
		fmt.Fprintf(stdout, "posagent service: %sed\n", map[string]string{"start": "start", "stop": "stopp"}[action])
	}
	return app.ExitOK
}

// checkServiceConfig checks the service's config as the unit runs it
// (headless, the service's state directory and secret store). A refusal is
// a configError: `service start` exits 78 like `run`, so a script tells a
// config to fix from a failure to retry.
func checkServiceConfig(path string) error {
	if err := app.CheckConfig(path, app.RunOptions{Headless: true, StateDir: config.SystemPaths().StateDir}); err != nil {
		return &configError{err}
	}
	return nil
}

// serviceExitCode is the exit code of a failed service action.
func serviceExitCode(err error) int {
	var pe *svc.PrivilegeError
	var ce *configError
	switch {
	case errors.As(err, &pe):
		return exitNoPermission
	case errors.As(err, &ce):
		return app.ExitConfig
	case errors.Is(err, svc.ErrNotInstalled):
		return exitNotInstalled
	}
	return app.ExitFailure
}

// configError marks the service's config check's refusal.
type configError struct{ error }

func (e *configError) Unwrap() error { return e.error }
