package svc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/kardianos/service"
)

// Managed reports whether the process was started by the Windows Service
// Control Manager, which must then be answered through RunManaged. systemd
// and launchd need nothing of the kind: they send SIGTERM, which the agent
// handles like Ctrl-C.
func Managed() bool { return runtime.GOOS == "windows" && !service.Interactive() }

// RunManaged runs the agent under the Windows SCM: run gets a context that
// ends when the SCM says stop, and a log writer into the Windows event log.
// It returns the agent's exit code.
func RunManaged(run func(ctx context.Context, log *EventLogWriter) int) int {
	p := &program{run: run, done: make(chan int, 1)}
	cfg := &service.Config{Name: Name}
	s, err := service.New(p, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "posagent: service manager:", err)
		return 1
	}
	logger, err := s.SystemLogger(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "posagent: event log:", err)
		return 1
	}
	p.log = &EventLogWriter{l: logger}
	if err := s.Run(); err != nil {
		_ = logger.Error("posagent service: " + err.Error())
		return 1
	}
	select {
	case code := <-p.done:
		return code
	default:
		return 0
	}
}

type program struct {
	run    func(context.Context, *EventLogWriter) int
	log    *EventLogWriter
	cancel context.CancelFunc
	done   chan int
	exited chan struct{}
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.exited = make(chan struct{})
	go func() {
		code := p.run(ctx, p.log)
		p.done <- code
		close(p.exited)
		if ctx.Err() == nil {
			// The agent stopped by itself: exit with its code, so that
			// the SCM sees a failure and applies the restart action.
			os.Exit(code)
		}
	}()
	return nil
}

// Stop lets a sale in flight finish or be journaled (the agent's own grace
// is 10 s); the SCM's default stop timeout is 20 s.
func (p *program) Stop(service.Service) error {
	p.cancel()
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
	}
	return nil
}

// EventLogWriter turns the agent's log lines into event log entries: error
// and warning lines keep their level, the rest are information.
type EventLogWriter struct {
	l service.Logger
}

func (w *EventLogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var err error
		switch {
		case bytes.Contains(line, []byte("level=ERROR")) || bytes.Contains(line, []byte(`"level":"ERROR"`)):
			err = w.l.Error(string(line))
		case bytes.Contains(line, []byte("level=WARN")) || bytes.Contains(line, []byte(`"level":"WARN"`)):
			err = w.l.Warning(string(line))
		default:
			err = w.l.Info(string(line))
		}
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
