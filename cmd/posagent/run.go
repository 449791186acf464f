package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/posagent/posagent/internal/app"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/svc"
)

func init() {
	register(command{name: "run", summary: "run the agent with the configured readers and gateway (the service runs this)", run: runRun})
	register(command{name: "demo", summary: "run the agent with a simulated reader and the embedded sandbox gateway", run: runDemo})
}

// agentFlags registers the flags run and demo share.
func agentFlags(fs *flag.FlagSet, o *app.RunOptions) {
	fs.BoolVar(&o.Headless, "headless", false, "no cashier window (kiosks, services)")
	fs.BoolVar(&o.InsecureListenAny, "insecure-listen-any", false, "allow a non-loopback listen address")
	fs.StringVar(&o.Listen, "listen", "", "address of the browser bridge (default "+config.DefaultListen+")")
	fs.StringVar(&o.StateDir, "state-dir", "", "where the journal and pairings live (default: per-OS state directory)")
	fs.StringVar(&o.LogLevel, "log-level", "", "debug, info, warn or error (overrides the config)")
}

func runDemo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o := app.RunOptions{Demo: true, Version: version, Stdout: stdout, Stderr: stderr}
	fs := newFlags("demo", stderr)
	agentFlags(fs, &o)
	gw := fs.String("gateway", config.GatewaySandbox, "the embedded sandbox's API: sandbox (Paya Connect v2) or paidyet (PaidYET v3, stored cards only)")
	if err := fs.Parse(args); err != nil {
		return app.ExitUsage
	}
	cfg, err := app.DemoConfig(*gw)
	if err != nil {
		fmt.Fprintf(stderr, "posagent demo: %v\n", err)
		return app.ExitUsage
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(config.UserPaths().StateDir, "demo")
	}
	return app.Run(ctx, cfg, o)
}

func runRun(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o := app.RunOptions{Version: version, Stdout: stdout, Stderr: stderr}
	fs := newFlags("run", stderr)
	agentFlags(fs, &o)
	paths := config.UserPaths()
	if os.Geteuid() == 0 {
		paths = config.SystemPaths() // the service
	}
	fs.StringVar(&o.ConfigPath, "config", paths.ConfigFile, "config file")
	check := fs.Bool("check-config", false, "only load and validate the config (with the other flags given, as run would): exit 0 when run would start with it, 78 with the problems when not (settings: "+config.DocsRef+")")
	if err := fs.Parse(args); err != nil {
		return app.ExitUsage
	}
	if o.StateDir == "" {
		o.StateDir = paths.StateDir
	}
	if *check {
		if err := app.CheckConfig(o.ConfigPath, o); err != nil {
			fmt.Fprintf(stderr, "posagent run: %v\n", err)
			return app.ExitConfig
		}
		fmt.Fprintf(stdout, "config OK: %s\n", o.ConfigPath)
		return app.ExitOK
	}
	cfg, err := app.LoadConfig(o.ConfigPath)
	if err != nil {
		fmt.Fprintf(stderr, "posagent run: %v\n", err)
		return app.ExitConfig
	}
	if svc.Managed() {
		// Started by the Windows SCM: answer it, and log to the event log
		// (a service has no console).
		return svc.RunManaged(func(ctx context.Context, log *svc.EventLogWriter) int {
			o.LogWriter, o.Stdout, o.Headless = log, io.Discard, true
			return app.Run(ctx, cfg, o)
		})
	}
	return app.Run(ctx, cfg, o)
}
