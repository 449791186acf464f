package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/posagent/posagent/internal/app"
	"github.com/posagent/posagent/internal/bridge"
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
	o := app.RunOptions{Demo: true, Version: agentVersion(), Stdout: stdout, Stderr: stderr}
	fs := newFlags("demo", stderr)
	agentFlags(fs, &o)
	gw := fs.String("gateway", config.GatewaySandbox, "the embedded sandbox's API: sandbox (Paya Connect v2) or paidyet (PaidYET v3, stored cards only)")
	var allow originList
	fs.Var(&allow, "allow-origin", "admit this web origin without pairing, e.g. http://localhost:5173 (repeatable; adds to allowed_origins and POSAGENT_ALLOWED_ORIGINS)")
	paths := config.UserPaths()
	if os.Geteuid() == 0 {
		paths = config.SystemPaths()
	}
	cfgPath := fs.String("config", paths.ConfigFile, "the config file whose allowed_origins the demo admits too (if it exists; nothing else of it is used)")
	if err := fs.Parse(args); err != nil {
		return app.ExitUsage
	}
	base, err := app.DemoConfig(*gw)
	if err != nil {
		fmt.Fprintf(stderr, "posagent demo: %v\n", err)
		return app.ExitUsage
	}
	o.PairCommand = "posagent pair --demo"
	if o.StateDir == "" {
		o.StateDir = filepath.Join(config.UserPaths().StateDir, "demo")
	} else {
		o.PairCommand = "posagent pair --state-dir " + o.StateDir
	}
	fileOrigins, err := configOrigins(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "posagent demo: %v: its allowed_origins are not used\n", err)
	}
	cfg, err := demoConfig(base, os.LookupEnv, append(fileOrigins, allow...))
	if err != nil {
		fmt.Fprintf(stderr, "posagent demo: %v\n", err)
		return app.ExitConfig
	}
	return app.Run(ctx, cfg, o)
}

// configOrigins reads allowed_origins from the config file at path; a
// missing file has none.
func configOrigins(path string) ([]string, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	c, err := config.Load(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c.AllowedOrigins, nil
}

// demoConfig is the demo's configuration: cfg (app.DemoConfig: simulated
// reader, embedded sandbox) with the web origins allowed as in `posagent run`:
// POSAGENT_ALLOWED_ORIGINS, plus allow (the config file's allowed_origins
// and the --allow-origin flags). Nothing else of the config file is used:
// the demo's reader and gateway are always the simulated ones.
func demoConfig(cfg *config.Config, lookup func(string) (string, bool), allow []string) (*config.Config, error) {
	if v, ok := lookup("POSAGENT_ALLOWED_ORIGINS"); ok {
		env := func(k string) (string, bool) {
			if k == "POSAGENT_ALLOWED_ORIGINS" {
				return v, true
			}
			return "", false
		}
		if err := cfg.ApplyEnv(env); err != nil {
			return nil, err
		}
	}
	cfg.AllowedOrigins = append(cfg.AllowedOrigins, allow...)
	return cfg, nil
}

// originList is a repeatable origin flag.
type originList []string

func (l *originList) String() string { return strings.Join(*l, ",") }

func (l *originList) Set(v string) error {
	norm, err := bridge.NormalizeOrigin(v)
	if err != nil {
		return err
	}
	*l = append(*l, norm)
	return nil
}

func runRun(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o := app.RunOptions{Version: agentVersion(), Stdout: stdout, Stderr: stderr}
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
	} else {
		o.PairCommand = "posagent pair --state-dir " + o.StateDir
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
