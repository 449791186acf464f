package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// sample is one measured interval set, sorted on demand.
type sample []time.Duration

func (s sample) sorted() sample {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// pct is the nearest-rank percentile (p in (0,1]) of a sorted sample: the
// smallest value at or below which at least p of the values lie. With 20
// values p99 is the maximum; with 500 it is the 495th.
func (s sample) pct(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func (s sample) mean() time.Duration {
	if len(s) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum / time.Duration(len(s))
}

// idleResult is the idle phase of one repetition.
type idleResult struct {
	mem    procMem
	window time.Duration
	ticks  int64 // CPU clock ticks used over window
	cpuPct float64
}

// repetition is what one run of every phase measured.
type repetition struct {
	load            []string // "phase: load average", in order
	banner, start   sample
	idle            idleResult
	afterSales      procMem
	sales           sample
	saleOutcomes    map[string]int
	latency         sample
	latencyOutcomes map[string]int
	floor           sample // the floor program on the same path (floor.go)
	attach, detach  sample
	fsync           sample     // the disk's, for context
	window          idleResult // the cashier window's idle, if measured
	renderer        string     // the window's GL renderer
	history         *historyResult
}

func newRepetition() *repetition {
	return &repetition{saleOutcomes: map[string]int{}, latencyOutcomes: map[string]int{}}
}

func (r *repetition) noteLoad(phase string) {
	r.load = append(r.load, phase+": "+loadAvg())
}

// pooled joins the repetitions' samples for the summary.
type pooled struct {
	banner, start, sales, latency, attach, detach sample
	fsync, floor                                  sample
	idleRSS, idleAnon, idleFile                   int64 // worst repetition
	cpuPct                                        float64
	afterSales                                    int64
	window                                        procMem // worst repetition
	windowCPU                                     float64
	renderer                                      string
	saleOutcomes, latencyOutcomes                 map[string]int
	history                                       []*historyResult
}

func pool(reps []*repetition) pooled {
	p := pooled{saleOutcomes: map[string]int{}, latencyOutcomes: map[string]int{}}
	for _, r := range reps {
		p.banner = append(p.banner, r.banner...)
		p.start = append(p.start, r.start...)
		p.sales = append(p.sales, r.sales...)
		p.latency = append(p.latency, r.latency...)
		p.attach = append(p.attach, r.attach...)
		p.detach = append(p.detach, r.detach...)
		p.fsync = append(p.fsync, r.fsync...)
		p.floor = append(p.floor, r.floor...)
		if r.idle.mem.rss > p.idleRSS {
			p.idleRSS, p.idleAnon, p.idleFile = r.idle.mem.rss, r.idle.mem.anon, r.idle.mem.file
		}
		p.cpuPct = max(p.cpuPct, r.idle.cpuPct)
		if r.window.mem.rss > p.window.rss {
			p.window, p.renderer = r.window.mem, r.renderer
		}
		p.windowCPU = max(p.windowCPU, r.window.cpuPct)
		p.afterSales = max(p.afterSales, r.afterSales.rss)
		if r.history != nil {
			p.history = append(p.history, r.history)
		}
		for k, v := range r.saleOutcomes {
			p.saleOutcomes[k] += v
		}
		for k, v := range r.latencyOutcomes {
			p.latencyOutcomes[k] += v
		}
	}
	for _, s := range []*sample{&p.banner, &p.start, &p.sales, &p.latency, &p.attach, &p.detach, &p.fsync, &p.floor} {
		*s = s.sorted()
	}
	return p
}

// Goals of docs/performance.md (issue 9).
const (
	goalLatencyP99 = 500 * time.Microsecond
	goalSaleP99    = 10 * time.Millisecond
	goalIdleRSS    = 20_000_000 // bytes: 20 MB, decimal (the stricter reading)
	goalStartP99   = 100 * time.Millisecond
)

// verdict is one goal's outcome.
type verdict struct {
	what, goal, got string
	met             bool
}

func (p pooled) verdicts() []verdict {
	v := []verdict{
		{"agent-added latency p99", "≤ " + fmtDur(goalLatencyP99), fmtDur(p.latency.pct(0.99)), p.latency.pct(0.99) <= goalLatencyP99},
		p.floorVerdict("agent-added vs floor p50", 0.5),
		p.floorVerdict("agent-added vs floor p99", 0.99),
		{"sale round trip p99", "≤ " + fmtDur(goalSaleP99), fmtDur(p.sales.pct(0.99)), p.sales.pct(0.99) <= goalSaleP99},
		{"idle RSS (headless demo)", "≤ " + fmtMB(goalIdleRSS), fmtMB(p.idleRSS), p.idleRSS <= goalIdleRSS},
		{"start to listening p99", "≤ " + fmtDur(goalStartP99), fmtDur(p.start.pct(0.99)), p.start.pct(0.99) <= goalStartP99},
	}
	for _, h := range p.history {
		v = append(v, h.verdicts()...)
	}
	if p.window.rss > 0 {
		v = append(v, verdict{"idle RSS (cashier window)", "≤ " + fmtMB(goalWindowRSS), fmtMB(p.window.rss) + " (" + p.renderer + ")", p.window.rss <= goalWindowRSS})
	}
	return v
}

// floorVerdict compares the agent-added latency's percentile q with the
// floor program's in the same run.
func (p pooled) floorVerdict(what string, q float64) verdict {
	a, f := p.latency.pct(q), p.floor.pct(q)
	if f <= 0 {
		return verdict{what, fmt.Sprintf("≤ %.1fx", goalFloorRatio), "no floor measured", false}
	}
	ratio := float64(a) / float64(f)
	return verdict{what, fmt.Sprintf("≤ %.1fx", goalFloorRatio), fmt.Sprintf("%.2fx (agent %s, floor %s)", ratio, fmtDur(a), fmtDur(f)), ratio <= goalFloorRatio}
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func fmtMB(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// writeSummary prints the human table: pooled samples, goals, load.
func writeSummary(w io.Writer, env environment, reps []*repetition) {
	p := pool(reps)
	fmt.Fprintf(w, "\nposagent whole-process benchmarks: %s\n", env.version)
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s; state dirs on %s\n", env.cpus, env.cpuModel, env.goVersion, env.stateFS)
	for i, r := range reps {
		fmt.Fprintf(w, "load average (1, 5, 15 min), repetition %d: %s\n", i+1, strings.Join(r.load, "; "))
	}
	fmt.Fprintf(w, "\n%-44s %6s %10s %10s %10s\n", "interval", "n", "p50", "p99", "max")
	row := func(name string, s sample) {
		fmt.Fprintf(w, "%-44s %6d %10s %10s %10s\n", name, len(s), fmtDur(s.pct(0.5)), fmtDur(s.pct(0.99)), fmtDur(s.pct(1)))
	}
	row("start: exec → banner on stdout", p.banner)
	row("start: exec → first /healthz 200", p.start)
	row("sale round trip (websocket, demo)", p.sales)
	row("agent-added latency (last byte → gateway)", p.latency)
	row("floor: pty read + same request, nothing else", p.floor)
	row("hot-plug: path back → reader attached event", p.attach)
	row("hot-plug: pty closed → reader detached event", p.detach)
	row("disk: 4 KiB write + fdatasync (state dir)", p.fsync)
	fmt.Fprintf(w, "\nidle (worst repetition): VmRSS %s (anon %s, file %s), CPU %.2f %% of one core; VmRSS after the sales %s\n",
		fmtMB(p.idleRSS), fmtMB(p.idleAnon), fmtMB(p.idleFile), p.cpuPct, fmtMB(p.afterSales))
	if env.windowSkip != "" {
		fmt.Fprintf(w, "cashier window: not measured: %s\n", env.windowSkip)
	} else {
		fmt.Fprintf(w, "cashier window idle (worst repetition, no tray): VmRSS %s (anon %s, file %s), CPU %.2f %% of one core; GL: %s\n",
			fmtMB(p.window.rss), fmtMB(p.window.anon), fmtMB(p.window.file), p.windowCPU, p.renderer)
	}
	fmt.Fprintf(w, "sale outcomes %v; latency-run outcomes %v\n", p.saleOutcomes, p.latencyOutcomes)
	for _, h := range p.history {
		h.summary(w)
	}
	fmt.Fprintln(w)
	for _, v := range p.verdicts() {
		mark := "PASS"
		if !v.met {
			mark = "MISS"
		}
		fmt.Fprintf(w, "%-4s  %-26s goal %-10s measured %s\n", mark, v.what, v.goal, v.got)
	}
}

// writeBench writes Go benchmark-format lines, one set per repetition, so
// that benchstat can summarise -count repetitions and compare runs. Units
// ending in -ns and -bytes are scaled by benchstat (sec, MiB).
func writeBench(w io.Writer, env environment, reps []*repetition) {
	fmt.Fprintf(w, "goos: linux\ngoarch: %s\npkg: github.com/posagent/posagent/test/bench\ncpu: %s\n", env.goarch, env.cpuModel)
	// Lines that are neither "key: value" nor results are ignored by
	// benchstat: the load is recorded without splitting its tables.
	fmt.Fprintf(w, "# %s; state dirs on %s\n", env.version, env.stateFS)
	name := func(n string) string { return fmt.Sprintf("BenchmarkProcess/%s-%d", n, env.cpus) }
	intervals := func(n string, s sample) {
		if len(s) == 0 {
			return
		}
		s = s.sorted()
		fmt.Fprintf(w, "%s\t%d\t%d ns/op\t%d p50-ns\t%d p99-ns\t%d max-ns\n", name(n), len(s),
			s.mean().Nanoseconds(), s.pct(0.5).Nanoseconds(), s.pct(0.99).Nanoseconds(), s.pct(1).Nanoseconds())
	}
	for _, r := range reps {
		fmt.Fprintf(w, "# load average: %s\n", strings.Join(r.load, "; "))
		intervals("start_to_banner", r.banner)
		intervals("start_to_listening", r.start)
		fmt.Fprintf(w, "%s\t1\t%d rss-bytes\t%d rss-anon-bytes\t%d rss-file-bytes\t%.3f cpu-pct\n", name("idle"),
			r.idle.mem.rss, r.idle.mem.anon, r.idle.mem.file, r.idle.cpuPct)
		intervals("sale_round_trip", r.sales)
		fmt.Fprintf(w, "%s\t1\t%d rss-bytes\t%d rss-anon-bytes\t%d rss-file-bytes\n", name("after_sales"),
			r.afterSales.rss, r.afterSales.anon, r.afterSales.file)
		intervals("agent_added_latency", r.latency)
		intervals("floor_latency", r.floor)
		intervals("hotplug_attach", r.attach)
		intervals("hotplug_detach", r.detach)
		intervals("fdatasync_4k", r.fsync)
		if r.history != nil {
			r.history.bench(w, name)
		}
		if r.window.mem.rss > 0 {
			fmt.Fprintf(w, "# cashier window GL: %s\n", r.renderer)
			fmt.Fprintf(w, "%s\t1\t%d rss-bytes\t%d rss-anon-bytes\t%d rss-file-bytes\t%.3f cpu-pct\n", name("window_idle"),
				r.window.mem.rss, r.window.mem.anon, r.window.mem.file, r.window.cpuPct)
		}
	}
}
