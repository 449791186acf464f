package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/posagent/posagent/internal/reader/serial/serialtest"
)

// Per-step limits: generous, because the machine is shared; they bound a
// hang, they do not judge speed.
const (
	resultTimeout = 30 * time.Second
	eventTimeout  = 10 * time.Second
	// pollPhase is the reader manager's scan interval
	// (reader.DefaultPollInterval): each hot-plug waits a random part of it
	// so that the samples cover every phase of the scan, not one.
	pollPhase = 500 * time.Millisecond
)

type opts struct {
	bin                             string
	count                           int
	starts, sales, latency, hotplug int
	idle, settle                    time.Duration
	// window: measure the cashier window too, on display ("" = a private
	// Xvfb), windowSettle after its start.
	window       bool
	display      string
	windowSettle time.Duration
	dir          string // parent of the temporary state dirs ("" = os.TempDir)
	// history: the history phase (history.go) with histRecords seeded,
	// histStarts starts and histStatus status round trips per journal, an
	// idle window of histIdle.
	history                             bool
	histRecords, histStarts, histStatus int
	histIdle                            time.Duration
	out                                 string // benchmark-format file ("" = none)
	strict                              bool
	// log receives progress lines (nil: none).
	log io.Writer
}

// quick is -quick: a check that everything works, in about ten seconds.
func (o *opts) quick() {
	o.starts, o.sales, o.latency, o.hotplug = 5, 50, 50, 3
	o.idle, o.settle, o.windowSettle = 2*time.Second, time.Second, 3*time.Second
	o.histRecords, o.histStarts, o.histStatus, o.histIdle = 20_000, 3, 50, 3*time.Second
}

func main() {
	o := opts{log: os.Stderr}
	var quick bool
	flag.StringVar(&o.bin, "bin", "bin/posagent", "the posagent binary (make build)")
	flag.IntVar(&o.count, "count", 1, "repetitions of the whole set (one benchmark line per metric each, for benchstat)")
	flag.IntVar(&o.starts, "starts", 20, "starts of `posagent demo --headless` timed")
	flag.IntVar(&o.sales, "sales", 500, "sales timed over the websocket")
	flag.IntVar(&o.latency, "latency", 300, "agent-added latency samples (serial reader on a pty)")
	flag.IntVar(&o.hotplug, "hotplugs", 20, "reader unplug/replug cycles")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "idle window for the CPU measurement")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "wait after the warm-up sale before the idle window")
	flag.BoolVar(&o.window, "window", true, "measure the cashier window's idle memory and CPU too (needs a build with the window, and Xvfb or -display)")
	flag.StringVar(&o.display, "display", "", "X display for the window (default: a private Xvfb 1024x600); a desktop's display measures its GL driver")
	flag.DurationVar(&o.windowSettle, "window-settle", 10*time.Second, "wait after the window's start before its idle window")
	flag.StringVar(&o.dir, "dir", "", "directory for the temporary state dirs (default: $TMPDIR); its filesystem sets the journal's fsync cost")
	flag.BoolVar(&o.history, "history", true, "the history phase: the agent on a one-page baseline journal and on a seeded one, side by side")
	flag.IntVar(&o.histRecords, "history-records", 500_000, "records seeded into the large journal of the history phase")
	flag.IntVar(&o.histStarts, "history-starts", 10, "starts timed on each journal of the history phase")
	flag.IntVar(&o.histStatus, "history-status", 300, "status round trips and history pages timed on each journal")
	flag.DurationVar(&o.histIdle, "history-idle", 40*time.Second, "idle window on each journal of the history phase")
	flag.StringVar(&o.out, "o", "", "write Go benchmark-format lines to this file (for benchstat)")
	flag.BoolVar(&o.strict, "strict", false, "exit 1 when a goal is missed")
	flag.BoolVar(&quick, "quick", false, "small sample sizes: check that it works, not how fast")
	flag.Parse()
	if quick {
		o.quick()
	}
	env, reps, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	writeSummary(os.Stdout, env, reps)
	if o.out != "" {
		var buf bytes.Buffer
		writeBench(&buf, env, reps)
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		if err := os.WriteFile(o.out, buf.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		fmt.Printf("\nbenchmark lines: %s\n", o.out)
	}
	if o.strict {
		for _, v := range pool(reps).verdicts() {
			if !v.met {
				os.Exit(1)
			}
		}
	}
}

// environment describes what the numbers were measured on.
type environment struct {
	version, cpuModel, goVersion, goarch, stateFS string
	windowSkip                                    string // why the window was not measured ("" = it was)
	cpus                                          int
}

func (o opts) logf(format string, args ...any) {
	if o.log != nil {
		fmt.Fprintf(o.log, "bench: "+format+"\n", args...)
	}
}

// run measures o.count repetitions of every phase.
func run(o opts) (environment, []*repetition, error) {
	env := environment{cpus: runtime.NumCPU(), cpuModel: cpuModel(), goVersion: runtime.Version(), goarch: runtime.GOARCH}
	if o.count < 1 || o.starts < 1 || o.sales < 1 || o.latency < 1 || o.hotplug < 1 {
		return env, nil, errors.New("-count, -starts, -sales, -latency and -hotplugs must be at least 1")
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return env, nil, err
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return env, nil, fmt.Errorf("%s version: %w (build it with make build)", bin, err)
	}
	env.version = describeVersion(string(out))
	dir, err := os.MkdirTemp(o.dir, "posagent-bench-")
	if err != nil {
		return env, nil, err
	}
	env.stateFS = fsType(dir)
	o.logf("working in %s (%s)", dir, env.stateFS)
	display, skip, stopX := setupWindow(o, env.version)
	defer stopX()
	o.display, o.window, env.windowSkip = display, skip == "", skip
	if skip != "" {
		o.logf("cashier window not measured: %s", skip)
	}
	var reps []*repetition
	for i := range o.count {
		r := newRepetition()
		rdir := filepath.Join(dir, fmt.Sprintf("rep%d", i+1))
		if err := os.MkdirAll(rdir, 0o700); err != nil {
			return env, nil, err
		}
		if err := runOnce(o, bin, rdir, r); err != nil {
			return env, nil, fmt.Errorf("repetition %d: %w (logs kept in %s)", i+1, err, rdir)
		}
		reps = append(reps, r)
	}
	_ = os.RemoveAll(dir)
	return env, reps, nil
}

func runOnce(o opts, bin, dir string, r *repetition) error {
	r.noteLoad("start")
	if err := measureStarts(o, bin, dir, r); err != nil {
		return fmt.Errorf("start to listening: %w", err)
	}
	r.noteLoad("demo")
	if err := measureDemo(o, bin, dir, r); err != nil {
		return fmt.Errorf("demo (idle, sales): %w", err)
	}
	if err := measureFsync(o, dir, r); err != nil {
		return fmt.Errorf("fdatasync: %w", err)
	}
	if o.window {
		r.noteLoad("window")
		if err := measureWindow(o, bin, dir, r); err != nil {
			return fmt.Errorf("cashier window: %w", err)
		}
	}
	if o.history {
		r.noteLoad("history")
		if err := measureHistory(o, bin, dir, r); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	r.noteLoad("serial")
	if err := measureSerial(o, bin, dir, r); err != nil {
		return fmt.Errorf("serial reader (latency, hot-plug): %w", err)
	}
	r.noteLoad("end")
	return nil
}

// measureStarts starts the headless demo o.starts times, each with a fresh
// state dir (so each start creates its journal, the slower case), and
// stops it again.
func measureStarts(o opts, bin, dir string, r *repetition) error {
	for i := range o.starts {
		state := filepath.Join(dir, fmt.Sprintf("start%d", i))
		a, err := startOnFreePort(bin, demoArgs(state), nil, filepath.Join(dir, "starts.log"))
		if err != nil {
			return err
		}
		r.banner = append(r.banner, a.bannerAt.Sub(a.exec))
		r.start = append(r.start, a.healthyAt.Sub(a.exec))
		if err := a.stop(); err != nil {
			return err
		}
	}
	o.logf("%d starts: p50 %s", o.starts, fmtDur(r.start.sorted().pct(0.5)))
	return nil
}

// measureDemo runs the headless demo: a warm-up sale, the idle window, then
// the timed sales.
func measureDemo(o opts, bin, dir string, r *repetition) error {
	a, err := startOnFreePort(bin, demoArgs(filepath.Join(dir, "demo")), nil, filepath.Join(dir, "demo.log"))
	if err != nil {
		return err
	}
	defer a.kill() // after stop below, a no-op; on an error, no orphan
	c, err := dial(a.port)
	if err != nil {
		return err
	}
	defer c.close()
	if _, _, err := demoSale(c, "warmup"); err != nil {
		return fmt.Errorf("warm-up sale: %w", err)
	}
	// Idle: the POS page stays connected, nobody sells.
	time.Sleep(o.settle)
	t0, err := readCPUTicks(a.pid())
	if err != nil {
		return err
	}
	w0 := time.Now()
	time.Sleep(o.idle)
	t1, err := readCPUTicks(a.pid())
	if err != nil {
		return err
	}
	window := time.Since(w0)
	mem, err := readMem(a.pid())
	if err != nil {
		return err
	}
	ticks := t1 - t0
	r.idle = idleResult{mem: mem, window: window, ticks: ticks,
		cpuPct: float64(ticks) / float64(clockTicks()) / window.Seconds() * 100}
	o.logf("idle: VmRSS %s, CPU %.2f %% over %s", fmtMB(mem.rss), r.idle.cpuPct, window.Round(time.Millisecond))

	for i := range o.sales {
		d, outcome, err := demoSale(c, fmt.Sprintf("s%d", i))
		if err != nil {
			return fmt.Errorf("sale %d: %w", i, err)
		}
		r.sales = append(r.sales, d)
		r.saleOutcomes[outcome]++
	}
	if r.afterSales, err = readMem(a.pid()); err != nil {
		return err
	}
	o.logf("%d sales: p50 %s, p99 %s", o.sales, fmtDur(r.sales.sorted().pct(0.5)), fmtDur(r.sales.sorted().pct(0.99)))
	c.close()
	return a.stop()
}

// demoArgs is `posagent demo --headless` on a port, with its own state.
func demoArgs(state string) func(port int) []string {
	return func(port int) []string {
		return []string{"demo", "--headless", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--state-dir", state}
	}
}

// demoSale is one sale as a POS page makes it with the demo: the sale
// request, the prompt, a simulated swipe of a made-up Visa test card (the
// agent's simulated VP3300 encrypts it with the test key), the result. The
// interval runs from just before the sale request is written to the moment
// the result is read; the ack after it is not timed.
func demoSale(c *client, id string) (time.Duration, string, error) {
	start := time.Now()
	if err := c.send(msg{"type": "sale", "id": id, "amount": "1.00"}); err != nil {
		return 0, "", err
	}
	if _, _, err := c.waitFor(func(m msg) bool { return m.is("prompt", id) }, id, resultTimeout); err != nil {
		return 0, "", err
	}
	if err := c.send(msg{"type": "simulate", "id": "x" + id, "card": "visa", "entry_mode": "S"}); err != nil {
		return 0, "", err
	}
	res, at, err := c.waitFor(func(m msg) bool { return m.is("result", id) }, id, resultTimeout)
	if err != nil {
		return 0, "", err
	}
	return at.Sub(start), str(res["outcome"]), c.ack(res)
}

// measureFsync times a 4 KiB write plus fdatasync in the state dirs'
// filesystem, -latency times. It measures the disk, not the agent: the
// journal commits (bbolt: two fdatasyncs per commit) of the sales above run
// on it, and one of them lies inside the agent-added latency.
func measureFsync(o opts, dir string, r *repetition) error {
	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 4096)
	for i := range o.latency {
		page[0] = byte(i)
		start := time.Now()
		if _, err := f.WriteAt(page, int64(i%16)*4096); err != nil {
			return err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return fmt.Errorf("fdatasync %s: %w", f.Name(), err)
		}
		r.fsync = append(r.fsync, time.Since(start))
	}
	return nil
}

// measureSerial runs `posagent run` with an ID TECH reader on a pty and the
// harness's gateway: agent-added latency, then hot-plug.
func measureSerial(o opts, bin, dir string, r *repetition) error {
	gw, err := startGateway()
	if err != nil {
		return err
	}
	defer gw.close()
	link := filepath.Join(dir, "ttyREADER")
	port, err := serialtest.Plug(link)
	if err != nil {
		return err
	}
	defer func() { port.Close() }()
	// Gateway kind "sandbox" with a url: the same Paya Connect client as
	// kind "paya", pointed at the harness (kind "paya" on this loopback
	// host would take these test-key reads too: only a live gateway host
	// refuses them). The
	// listen address comes from --listen, so a retry on another port needs
	// no new file.
	// allowed_origins names the agent's own page on the port tried: in
	// run the own page needs a token unless it is listed.
	cfgPath := filepath.Join(dir, "posagent.toml")
	var cfgErr error
	a, err := startOnFreePort(bin, func(p int) []string {
		cfg := fmt.Sprintf("allowed_origins = [\"http://127.0.0.1:%d\"]\n[gateway]\nkind = \"sandbox\"\nurl = %q\n\n[[readers]]\nkind = \"serial\"\npath = %q\nprotocol = \"idtech\"\nbaud = 9600\n",
			p, gw.url(), link)
		cfgErr = os.WriteFile(cfgPath, []byte(cfg), 0o600)
		return []string{"run", "--headless", "--config", cfgPath, "--listen", fmt.Sprintf("127.0.0.1:%d", p), "--state-dir", filepath.Join(dir, "run")}
	}, nil, filepath.Join(dir, "run.log"))
	if err != nil {
		return err
	}
	defer a.kill()
	if cfgErr != nil {
		return cfgErr
	}
	c, err := dial(a.port)
	if err != nil {
		return err
	}
	defer c.close()
	readerID := "serial:" + link
	if err := c.waitReaderOK(readerID); err != nil {
		return err
	}
	cards, err := serialtest.NewIDTechCard(serialtest.DemoKSN, "BENCH001")
	if err != nil {
		return err
	}
	// One untimed sale first, as in the demo: the first request opens the
	// gateway connection, which a counter does once.
	for i := -1; i < o.latency; i++ {
		d, outcome, err := serialSale(c, gw, port, cards, fmt.Sprintf("l%d", i+1))
		if err != nil {
			return fmt.Errorf("latency sample %d: %w", i+1, err)
		}
		if i >= 0 {
			r.latency = append(r.latency, d)
			r.latencyOutcomes[outcome]++
		}
	}
	o.logf("%d latency samples: p50 %s, p99 %s", o.latency, fmtDur(r.latency.sorted().pct(0.5)), fmtDur(r.latency.sorted().pct(0.99)))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for i := range o.hotplug {
		if err := port.Unplug(); err != nil {
			return err
		}
		gone := time.Now()
		_, at, err := c.waitFor(func(m msg) bool { return isReaderEvent(m, readerID, "detached") }, "", eventTimeout)
		if err != nil {
			return fmt.Errorf("hot-plug %d: no detached event: %w", i, err)
		}
		r.detach = append(r.detach, at.Sub(gone))
		time.Sleep(time.Duration(rng.Int64N(int64(pollPhase))))
		if port, err = serialtest.Plug(link); err != nil {
			return err
		}
		back := time.Now()
		m, at, err := c.waitFor(func(m msg) bool {
			return isReaderEvent(m, readerID, "attached") || isReaderEvent(m, readerID, "broken")
		}, "", eventTimeout)
		if err != nil {
			return fmt.Errorf("hot-plug %d: no attached event: %w", i, err)
		}
		if m["event"] != "attached" {
			return fmt.Errorf("hot-plug %d: the reader came back broken: %v", i, readerDetail(m))
		}
		r.attach = append(r.attach, at.Sub(back))
	}
	o.logf("%d hot-plugs: attach p50 %s, max %s", o.hotplug, fmtDur(r.attach.sorted().pct(0.5)), fmtDur(r.attach.sorted().pct(1)))
	c.close()
	if err := a.stop(); err != nil {
		return err
	}
	// The floor, on the same gateway with the agent's last sale request,
	// once the agent has let go of the reader.
	port.Close()
	if err := measureFloor(o, dir, link, gw, cards, r); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	o.logf("%d floor samples: p50 %s, p99 %s", o.latency, fmtDur(r.floor.sorted().pct(0.5)), fmtDur(r.floor.sorted().pct(0.99)))
	return nil
}

// serialSale sells with the serial reader: sale request, prompt, one frame
// written to the pty, result. It returns the time from just before the write
// to the sale request's first byte at the gateway.
func serialSale(c *client, gw *gateway, port *serialtest.Port, cards *serialtest.IDTechCard, id string) (time.Duration, string, error) {
	// Unique per run and per sale: the gateway is looked up by it.
	apiID := fmt.Sprintf("bench-%d-%s", time.Now().UnixNano()%1e12, id)
	if err := c.send(msg{"type": "sale", "id": id, "amount": "1.00", "transaction_api_id": apiID}); err != nil {
		return 0, "", err
	}
	if _, _, err := c.waitFor(func(m msg) bool { return m.is("prompt", id) && m["prompt"] == "present_card" }, id, resultTimeout); err != nil {
		return 0, "", err
	}
	frame, err := cards.Next()
	if err != nil {
		return 0, "", err
	}
	wrote, err := port.Write(frame)
	clear(frame)
	if err != nil {
		return 0, "", err
	}
	res, _, err := c.waitFor(func(m msg) bool { return m.is("result", id) }, id, resultTimeout)
	if err != nil {
		return 0, "", err
	}
	if err := c.ack(res); err != nil {
		return 0, "", err
	}
	arr := gw.arrivals(apiID)
	if len(arr) != 1 || arr[0].IsZero() {
		return 0, "", fmt.Errorf("sale %s: %d requests reached the gateway, want 1 (outcome %s)", id, len(arr), str(res["outcome"]))
	}
	return arr[0].Sub(wrote), str(res["outcome"]), nil
}

func isReaderEvent(m msg, id, event string) bool {
	rd, _ := m["reader"].(map[string]any)
	return m["type"] == "reader" && m["event"] == event && rd != nil && rd["id"] == id
}

func readerDetail(m msg) string {
	rd, _ := m["reader"].(map[string]any)
	return str(rd["detail"])
}

// describeVersion keeps the first line of `posagent version` (name and
// version) and its build tags, which decide whether the window is linked.
func describeVersion(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	v := strings.TrimSpace(lines[0])
	for _, l := range lines[1:] {
		if k, tags, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "build tags" {
			v += " (build tags: " + strings.TrimSpace(tags) + ")"
		}
	}
	return v
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// fsType names the filesystem of dir: fsync (the journal's) costs almost
// nothing on tmpfs and milliseconds on some disks.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown filesystem"
	}
	names := map[int64]string{0xEF53: "ext4", 0x01021994: "tmpfs", 0x794C7630: "overlayfs", 0x9123683E: "btrfs",
		0x58465342: "xfs", 0x2FC12FC1: "zfs"}
	if n, ok := names[int64(st.Type)]; ok {
		return n
	}
	return fmt.Sprintf("filesystem 0x%x", st.Type)
}
