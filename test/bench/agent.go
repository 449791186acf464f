package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process timing.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 20 * time.Second
	// healthzRetry is the pause between /healthz attempts after the banner:
	// short, because the listener is bound before the banner is printed and
	// a retry means the first answer was refused.
	healthzRetry = time.Millisecond
)

// banner is what `posagent run` and `demo` print on stdout once they listen.
const banner = " is running."

// agent is one posagent process.
type agent struct {
	cmd  *exec.Cmd
	port int
	log  string // stdout and stderr of the process
	// exec is taken just before the process is started; bannerAt when its
	// banner line was read; healthyAt when /healthz first answered 200.
	exec, bannerAt, healthyAt time.Time
	exited                    chan struct{}
	waitErr                   error
}

// startAgent runs bin with args, waits for its banner, then for /healthz on
// port. The process's output goes to logPath. env is the process's
// environment; nil is the harness's own.
func startAgent(bin string, args, env []string, port int, logPath string) (*agent, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("agent log: %w", err)
	}
	// A plain pipe rather than StdoutPipe: Wait may then run while the
	// banner reader is still reading.
	pr, pw, err := os.Pipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	a := &agent{port: port, log: logPath, exited: make(chan struct{})}
	a.cmd = exec.Command(bin, args...)
	a.cmd.Env = env
	a.cmd.Stdout, a.cmd.Stderr = pw, logf
	bannerSeen := make(chan time.Time, 1)
	a.exec = time.Now()
	err = a.cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		seen := false
		for sc.Scan() {
			if !seen && strings.Contains(sc.Text(), banner) {
				bannerSeen <- time.Now()
				seen = true
			}
			fmt.Fprintln(logf, sc.Text())
		}
	}()
	go func() {
		a.waitErr = a.cmd.Wait()
		<-scanned // the last lines are in the log before it closes
		logf.Close()
		close(a.exited)
	}()
	select {
	case a.bannerAt = <-bannerSeen:
	case <-a.exited:
		return nil, exitedEarly(bin, a.waitErr, logPath)
	case <-time.After(startTimeout):
		a.kill()
		return nil, fmt.Errorf("%s printed no banner within %v: see %s", bin, startTimeout, logPath)
	}
	if err := a.waitHealthy(); err != nil {
		a.kill()
		return nil, err
	}
	return a, nil
}

// errPortTaken: the agent could not bind its port. freePort's port is free
// when it answers, but another process (tests run in parallel on this
// machine) can take it before the agent binds it.
var errPortTaken = errors.New("port taken")

// startOnFreePort starts an agent on a free port, with args(port), and
// tries another port when the one it got was taken meanwhile.
func startOnFreePort(bin string, args func(port int) []string, env []string, logPath string) (*agent, error) {
	for try := 0; ; try++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		a, err := startAgent(bin, args(port), env, port, logPath)
		if errors.Is(err, errPortTaken) && try < 3 {
			continue
		}
		return a, err
	}
}

// exitedEarly explains an agent that exited before listening.
func exitedEarly(bin string, waitErr error, logPath string) error {
	if b, err := os.ReadFile(logPath); err == nil && bytes.Contains(b, []byte("address already in use")) {
		return fmt.Errorf("%s exited before listening: %w: see %s", bin, errPortTaken, logPath)
	}
	return fmt.Errorf("%s exited before listening (%v): see %s", bin, waitErr, logPath)
}

// healthClient opens a new connection per request, as a monitor would, so
// that each answer is a fresh accept on the agent's listener.
var healthClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func (a *agent) waitHealthy() error {
	deadline := a.bannerAt.Add(startTimeout)
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", a.port)
	var last error
	for time.Now().Before(deadline) {
		resp, err := healthClient.Get(url)
		if err == nil {
			var h struct {
				Status string `json:"status"`
			}
			derr := json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && derr == nil && h.Status == "ok" {
				a.healthyAt = time.Now()
				return nil
			}
			last = fmt.Errorf("status %d, %q", resp.StatusCode, h.Status)
		} else {
			last = err
		}
		time.Sleep(healthzRetry)
	}
	return fmt.Errorf("/healthz did not answer ok within %v of the banner (%w): see %s", startTimeout, last, a.log)
}

func (a *agent) pid() int { return a.cmd.Process.Pid }

// stop ends the agent as a service manager would (SIGTERM) and reports an
// unclean exit: the harness runs the real binary, so a crash on the way out
// is a finding, not noise.
func (a *agent) stop() error {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(stopTimeout):
		a.kill()
		return fmt.Errorf("the agent did not stop within %v of SIGTERM: see %s", stopTimeout, a.log)
	}
	if a.waitErr != nil {
		return fmt.Errorf("the agent exited with %w: see %s", a.waitErr, a.log)
	}
	return nil
}

func (a *agent) kill() {
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.exited
}

// freePort asks the kernel for a loopback port nobody holds right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// procMem is the memory of a process from /proc/PID/status, in bytes.
type procMem struct {
	rss, anon, file int64
}

func readMem(pid int) (procMem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, fmt.Errorf("memory of pid %d: %w", pid, err)
	}
	var m procMem
	fields := map[string]*int64{"VmRSS:": &m.rss, "RssAnon:": &m.anon, "RssFile:": &m.file}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		if p, ok := fields[f[0]]; ok {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return procMem{}, fmt.Errorf("%s %q: %w", f[0], f[1], err)
			}
			*p = kb * 1024
		}
	}
	if m.rss == 0 {
		return procMem{}, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
	}
	return m, nil
}

// readCPUTicks is utime+stime of the process (all its threads, dead ones
// included) in clock ticks.
func readCPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time of pid %d: %w", pid, err)
	}
	// The command name may hold spaces and parentheses: fields count from
	// after its closing parenthesis, where field 3 (state) starts.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, errors.New("short /proc/PID/stat")
	}
	u, err1 := strconv.ParseInt(f[utime], 10, 64)
	s, err2 := strconv.ParseInt(f[stime], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return u + s, nil
}

var (
	clkTckOnce sync.Once
	clkTck     int64
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times. Go has no
// sysconf without cgo, so getconf answers; Linux has used 100 on every
// architecture for this interface, hence the fallback.
func clockTicks() int64 {
	clkTckOnce.Do(func() {
		clkTck = 100
		if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
			if v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && v > 0 {
				clkTck = v
			}
		}
	})
	return clkTck
}

// loadAvg is the first three fields of /proc/loadavg ("" if unreadable):
// the other engineers' jobs on the same two cores show up here.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
