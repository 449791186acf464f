package svc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/posagent/posagent/internal/config"
)

// Name is the service's name: the systemd unit posagent.service and the
// Windows service. launchd uses Label.
const (
	Name        = "posagent"
	Label       = "com.posagent.agent"
	displayName = "posagent card-reader agent"
	description = "Reads encrypted card data from the counter's card readers and sends it to the payment gateway; serves POS pages on 127.0.0.1."
)

// ErrNotInstalled is returned by actions on a service that is not installed.
var ErrNotInstalled = errors.New("the posagent service is not installed: run `posagent service install` (as root / Administrator) or install the package")

// PrivilegeError says an action needs root or Administrator rights.
type PrivilegeError struct {
	Action string
	Hint   string // the command that would work
}

func (e *PrivilegeError) Error() string {
	return fmt.Sprintf("`posagent service %s` changes the system service and needs administrator rights: %s", e.Action, e.Hint)
}

// Options configure a Controller.
type Options struct {
	// Exe is the absolute path of the posagent executable the service runs.
	Exe string
	// Paths are the service's config file and state directory.
	Paths config.Paths
	// CheckConfig loads and validates the config file (start refuses to
	// start a service that would exit with a configuration error).
	CheckConfig func(path string) error
	// Out receives what install/uninstall did and what to do next.
	Out io.Writer
}

// Controller manages the posagent service on this machine.
type Controller struct {
	opts Options
	be   backend
	// privileged reports whether this process may change services.
	privileged func() bool
	// listen is the bridge address the health check asks (from the config).
	listenFor func(configPath string) (string, error)
}

// backend is one service manager.
type backend interface {
	install(ctx context.Context) error
	uninstall(ctx context.Context) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
	// state is what the service manager says, with a detail line.
	state(ctx context.Context) (State, string, error)
	// definition is where the service definition lives.
	definition() string
	// logs says where the service's log goes.
	logs() string
	// available is nil when this machine's service manager is usable.
	available() error
	// manager names the service manager.
	manager() string
}

// New returns the controller for this machine's service manager.
func New(o Options) (*Controller, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	c := &Controller{opts: o, privileged: isPrivileged, listenFor: listenFromConfig}
	switch runtime.GOOS {
	case "linux":
		c.be = newSystemd(o, "/", runCommand, systemdRunning)
	default:
		be, err := newKardianos(o)
		if err != nil {
			return nil, err
		}
		c.be = be
	}
	return c, nil
}

// Install installs the service (it starts on boot; `start` starts it now).
func (c *Controller) Install(ctx context.Context) error {
	return c.change(ctx, "install", c.be.install)
}

// Uninstall removes the service; the config and the journal stay.
func (c *Controller) Uninstall(ctx context.Context) error {
	return c.change(ctx, "uninstall", c.be.uninstall)
}

// Start starts the service after checking its configuration.
func (c *Controller) Start(ctx context.Context) error {
	return c.change(ctx, "start", func(ctx context.Context) error {
		if c.opts.CheckConfig != nil {
			if err := c.opts.CheckConfig(c.opts.Paths.ConfigFile); err != nil {
				return fmt.Errorf("not starting: the service would stop at once: %w", err)
			}
		}
		return c.be.start(ctx)
	})
}

// Stop stops the service; a sale in flight finishes or is journaled first.
func (c *Controller) Stop(ctx context.Context) error {
	return c.change(ctx, "stop", c.be.stop)
}

func (c *Controller) change(ctx context.Context, action string, do func(context.Context) error) error {
	if err := c.be.available(); err != nil {
		return err
	}
	if !c.privileged() {
		return &PrivilegeError{Action: action, Hint: privilegeHint(action)}
	}
	return do(ctx)
}

func privilegeHint(action string) string {
	if runtime.GOOS == "windows" {
		return "open a command prompt with \"Run as administrator\" and run `posagent service " + action + "` again"
	}
	return "run `sudo posagent service " + action + "`"
}

// exePath is the running executable with symlinks resolved, which is what
// a service definition must name.
func exePath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot tell where posagent is: %w", err)
	}
	return resolve(exe), nil
}

// DefaultOptions are the options for the system service run by this
// executable.
func DefaultOptions(check func(string) error, out io.Writer) (Options, error) {
	exe, err := exePath()
	if err != nil {
		return Options{}, err
	}
	return Options{Exe: exe, Paths: config.SystemPaths(), CheckConfig: check, Out: out}, nil
}
