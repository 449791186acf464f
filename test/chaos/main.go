package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway/gatewaytest"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/reader/sim"
	"github.com/posagent/posagent/internal/sale"
)

// Run parameters.
const (
	resultTimeout = 60 * time.Second // a sale's final result, faults and restarts included
	startTimeout  = 10 * time.Second
	// gatewayTimeout is the agent's per-request gateway timeout (config
	// gateway.timeout; 1 s is the least it accepts). Short, so that a
	// delayed answer costs a sale about a second, not the default 30.
	gatewayTimeout = time.Second
)

// Slow answers are delayed uniformly between slowMin and slowMax: about
// half finish under gatewayTimeout (a slow success), half over it (the agent
// times out on a committed sale and must find it by lookup). The proxy drops
// an answer as soon as the agent gives up, so no slow sale costs more than
// the timeout plus one lookup.
const (
	slowMin = gatewayTimeout / 4
	slowMax = gatewayTimeout * 7 / 4
)

// Files in the run's directory.
const (
	agentLogFile   = "agent.log"
	wsCaptureFile  = "ws.capture"
	gwCaptureFile  = "gateway-responses.capture"
	configFile     = "posagent.toml"
	stateDirectory = "state"
)

type opts struct {
	n                             int
	bin                           string
	seed                          int64
	faultRate, dropRate, killRate float64
	// chipRate is the share of sales read as contact chip cards, which
	// wait for the gateway's answer (the completion); completionRate the
	// share of those whose completion fails: the card declines the
	// approval, or the reader is unplugged before the card is told.
	chipRate, completionRate float64
	// dir holds the config, the state (journal), the agent's log and the
	// captures; "" makes a fresh temporary directory.
	dir string
	// logLevel is passed to the agent as --log-level ("": its default).
	logLevel string
	// capture writes every websocket frame and every gateway answer into
	// dir, for make leakscan.
	capture bool
	// oldBatch old, finished, acknowledged sales are seeded before every
	// start, for retention and compaction to move at that start;
	// retentionKillRate is the share of sales before which the agent is
	// restarted and killed while it retains (retention.go).
	oldBatch          int
	retentionKillRate float64
	// live recent, finished, acknowledged sales are seeded once: the
	// history every compaction copies.
	live int
}

func main() {
	var o opts
	flag.IntVar(&o.n, "n", 2000, "sales to attempt")
	flag.StringVar(&o.bin, "bin", "bin/posagent", "the posagent binary")
	flag.Int64Var(&o.seed, "seed", time.Now().UnixNano(), "random seed (printed, to replay a run)")
	flag.Float64Var(&o.faultRate, "faults", 0.3, "share of sales whose gateway request suffers a fault")
	flag.Float64Var(&o.dropRate, "drops", 0.05, "share of sales whose websocket client disconnects mid-sale")
	flag.Float64Var(&o.killRate, "kills", 0.03, "share of sales during which the agent is killed (SIGKILL) and restarted")
	flag.Float64Var(&o.chipRate, "chip", 0.4, "share of sales read as contact chip cards (the card completes after the gateway's answer)")
	flag.Float64Var(&o.completionRate, "completion-faults", 0.4, "share of chip sales whose completion fails: the card declines the approval, or the reader is unplugged before it is told (half each)")
	flag.IntVar(&o.oldBatch, "old", 3000, "old finished, acknowledged sales seeded into the journal before every start, which retention ([journal] keep_days = 1) archives and compaction drops at that start (0: no retention)")
	flag.IntVar(&o.live, "live", 10000, "recent finished, acknowledged sales seeded once before the first start, which retention keeps and every compaction copies (with -old 0: none)")
	flag.Float64Var(&o.retentionKillRate, "retention-kills", 0.03, "share of sales before which the agent is restarted and killed (SIGKILL) a random 0-1000 ms later, while it retains and compacts")
	flag.StringVar(&o.dir, "dir", "", "directory for the config, state, agent log and captures (must be empty or absent; default: a new temporary directory)")
	flag.StringVar(&o.logLevel, "log-level", "", "the agent's --log-level (debug, info, warn, error; default: the agent's own)")
	flag.BoolVar(&o.capture, "capture", false, "capture every websocket frame ("+wsCaptureFile+") and every gateway answer ("+gwCaptureFile+") in the directory, as plain text lines for make leakscan")
	flag.Parse()
	rep, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	fmt.Print(rep)
	if !rep.ok() {
		os.Exit(1)
	}
}

type report struct {
	seed                                 int64
	attempted, charges, duplicates, lost int
	unresolved, phantom, faults, drops   int
	kills                                int
	// old is the retention under fire: seeded old sales, where the kills
	// aimed at retention landed, and the reconciliation of the seeded
	// records against journal ∪ archive.
	old oldSales
	// Chip sales: how many, how many with a completion fault, and the
	// charges the gateway still holds (status 101) for a card that did not
	// accept the approval (must be 0).
	chips, cardDeclines, unplugs, standing int
	// voids is the void requests the gateway processed; doubleVoids the
	// transactions it was asked to void successfully more than once.
	voids, voided, doubleVoids int
	// byFault counts the gateway faults by kind; slowUnder and slowOver
	// split the slow answers by their delay against gatewayTimeout.
	byFault             map[gatewaytest.Fault]int
	slowUnder, slowOver int
	// lookups counts the agent's lookups by transaction_api_id.
	lookups  int
	outcomes map[string]int
}

func (r report) ok() bool {
	return r.duplicates == 0 && r.lost == 0 && r.unresolved == 0 && r.phantom == 0 && r.standing == 0 && r.doubleVoids == 0 &&
		r.old.lost == 0 && r.old.dup == 0
}

func (r report) String() string {
	verdict := "PASS"
	if !r.ok() {
		verdict = "FAIL"
	}
	return fmt.Sprintf(`chaos (seed %d): %s
  sales attempted        %d
  charges at the gateway %d
  duplicates             %d   (must be 0: a sale charged more than once)
  outcomes lost          %d   (must be 0: charged, but neither the client nor the journal knows)
  outcomes unresolved    %d   (must be 0 after reconciliation)
  phantom approvals      %d   (must be 0: told approved, not charged)
  chip sales             %d: %d cards declined at completion, %d readers unplugged before completion
  charges standing       %d   (must be 0: a chip card did not accept the approval, the charge was not voided)
  voids                  %d processed by the gateway, %d transactions voided, %d voided twice (must be 0)
  faults injected        %d gateway, %d client drops, %d agent kills
  gateway faults         %s
  slow answers           %d under the %v timeout, %d over it (the agent timed out; the sale exists)
  lookups by api id      %d
  client results         %v
  retention              %d old sales seeded (before every start, keep_days %d); kills aimed at it landed %d before it moved anything, %d during retention, %d during compaction, %d after
  old sales lost         %d   (must be 0: a seeded sale in neither the journal nor the archive)
  old sales duplicated   %d   (must be 0: a seeded sale in both, or twice in the archive)
`, r.seed, verdict, r.attempted, r.charges, r.duplicates, r.lost, r.unresolved, r.phantom,
		r.chips, r.cardDeclines, r.unplugs, r.standing, r.voids, r.voided, r.doubleVoids, r.faults, r.drops, r.kills,
		r.faultCounts(), r.slowUnder, gatewayTimeout, r.slowOver, r.lookups, r.outcomes,
		len(r.old.seeded), chaosKeepDays, r.old.killedBefore, r.old.killedRetain, r.old.killedCompact, r.old.killedAfter, r.old.lost, r.old.dup)
}

// faultCounts lists the gateway faults by kind in a fixed order.
func (r report) faultCounts() string {
	var b strings.Builder
	for _, f := range chaosFaults {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", f, r.byFault[f])
	}
	return b.String()
}

// chaosFaults are the gateway faults drawn, with equal shares.
var chaosFaults = []gatewaytest.Fault{gatewaytest.FaultDelayAfterCommit, gatewaytest.Fault500AfterCommit,
	gatewaytest.FaultResetAfterCommit, gatewaytest.FaultResetBeforeCommit, gatewaytest.Fault429, gatewaytest.FaultSlow}

// agent is the posagent process under test.
type agent struct {
	bin, cfg, state, log, logLevel string
	port                           int
	cmd                            *exec.Cmd
	spawned                        time.Time // when cmd started
}

func (a *agent) start() error {
	if err := a.spawn(); err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", a.port)); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the agent did not start listening; see " + a.log)
}

// spawn starts the agent and returns at once.
func (a *agent) spawn() error {
	logf, err := os.OpenFile(a.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("agent log: %w", err)
	}
	// The child has its own copy of the descriptor.
	defer logf.Close()
	args := []string{"run", "--headless", "--config", a.cfg, "--state-dir", a.state}
	if a.logLevel != "" {
		args = append(args, "--log-level", a.logLevel)
	}
	a.cmd = exec.Command(a.bin, args...)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	a.spawned = time.Now()
	if err := a.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", a.bin, err)
	}
	return nil
}

func (a *agent) kill() {
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	_ = a.cmd.Wait()
}

func (a *agent) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	_ = a.cmd.Wait()
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// workDir returns the run's directory: dir, created if absent and refused
// if it holds anything (an old journal would be reconciled as this run's),
// or a fresh temporary one.
func workDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "posagent-chaos-")
		if err != nil {
			return "", fmt.Errorf("work directory: %w", err)
		}
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	if len(entries) > 0 {
		return "", fmt.Errorf("work directory %s is not empty", dir)
	}
	return dir, nil
}

// createCapture opens a capture file of the run's directory.
func createCapture(dir, name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	return f, nil
}

func run(o opts) (rep report, err error) {
	rep = report{seed: o.seed, outcomes: map[string]int{}, byFault: map[gatewaytest.Fault]int{}, old: oldSales{batch: o.oldBatch}}
	rng := rand.New(rand.NewSource(o.seed))
	sb := sandbox.New(sandbox.Options{})
	proxy := gatewaytest.NewProxy(sb)
	gw := httptest.NewServer(proxy)
	defer gw.Close()

	dir, err := workDir(o.dir)
	if err != nil {
		return rep, err
	}
	c := &client{}
	if o.capture {
		// Plain text lines, payloads as sent: a capture that escaped or
		// encoded them could hide card data from the scan.
		gwCap, err := createCapture(dir, gwCaptureFile)
		if err != nil {
			return rep, err
		}
		defer gwCap.Close()
		proxy.CaptureResponses(gwCap)
		wsCap, err := createCapture(dir, wsCaptureFile)
		if err != nil {
			return rep, err
		}
		defer wsCap.Close()
		c.capture = wsCap
		// A capture with holes would make a clean scan prove nothing.
		defer func() {
			err = errors.Join(err, proxy.CaptureErr(), c.capErr)
		}()
	}
	a := &agent{bin: o.bin, state: filepath.Join(dir, stateDirectory), log: filepath.Join(dir, agentLogFile), port: freePort(), logLevel: o.logLevel}
	a.cfg = filepath.Join(dir, configFile)
	// allowed_origins lists the own page: in run it needs a token otherwise.
	cfg := fmt.Sprintf("listen = \"127.0.0.1:%d\"\nallowed_origins = [\"http://127.0.0.1:%d\"]\n[gateway]\nkind = \"sandbox\"\nurl = %q\ntimeout = %q\n[[readers]]\nkind = \"sim\"\n[journal]\nkeep_days = %d\n",
		a.port, a.port, gw.URL, gatewayTimeout.String(), chaosKeepDays)
	if err := os.WriteFile(a.cfg, []byte(cfg), 0o600); err != nil {
		return rep, fmt.Errorf("config: %w", err)
	}
	fmt.Printf("chaos: %d sales, seed %d, agent log %s\n", o.n, o.seed, a.log)
	if err := rep.old.seedLive(rng, a.state, o.live); err != nil {
		return rep, err
	}
	if err := rep.old.seed(rng, a.state); err != nil {
		return rep, err
	}
	if err := a.start(); err != nil {
		return rep, err
	}
	c.port = a.port
	if err := c.connect(); err != nil {
		return rep, err
	}
	final := map[string]string{} // order_num -> last outcome the client got
	isSale := func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Path == "/v2/transactions" }
	isVoid := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/transactions/")
	}
	cardDeclined := map[string]bool{} // order_num -> the chip card did not accept an approval

	for i := 0; i < o.n; i++ {
		order := fmt.Sprintf("chaos%d", i)
		if o.oldBatch > 0 && rng.Float64() < o.retentionKillRate {
			if err := rep.old.killDuringRetention(rng, a); err != nil {
				return rep, err
			}
			rep.kills++
			if err := rep.old.seed(rng, a.state); err != nil {
				return rep, err
			}
			logSize := fileSize(a.log)
			if err := a.start(); err != nil {
				return rep, err
			}
			// How long this start's retention took: where the next kill
			// aimed at it is drawn.
			rep.old.observe(a, logSize)
			if err := c.connect(); err != nil {
				return rep, err
			}
			_ = c.send(map[string]any{"type": "status", "id": "r" + order})
		}
		amount := fmt.Sprintf("%d.%02d", 1+rng.Intn(40), rng.Intn(100))
		if rng.Intn(20) == 0 {
			amount = "6.16" // a decline now and then
		}
		entry, unplug := "S", false
		if rng.Float64() < o.chipRate {
			entry = "C"
			rep.chips++
			if rng.Float64() < o.completionRate {
				// The simulated VP3300 picks the fault by the amount's
				// cents (sim.CentsDeclinesAtCompletion, ...); the sandbox
				// approves these amounts, except 8.9x, which it holds back.
				cents := sim.CentsDeclinesAtCompletion
				if unplug = rng.Intn(2) == 0; unplug {
					cents = sim.CentsUnplugsAtCompletion
					rep.unplugs++
				} else {
					rep.cardDeclines++
				}
				dollars := 1 + rng.Intn(40)
				if dollars == 8 {
					dollars = 9
				}
				amount = fmt.Sprintf("%d.%02d", dollars, cents)
				cardDeclined[order] = true
				if rng.Float64() < o.faultRate {
					// The void the agent then makes suffers a fault too.
					f := chaosFaults[rng.Intn(len(chaosFaults))]
					proxy.Arm(f, isVoid)
					rep.byFault[f]++
					rep.faults++
				}
			}
		}
		if rng.Float64() < o.faultRate {
			f := chaosFaults[rng.Intn(len(chaosFaults))]
			if f == gatewaytest.FaultSlow {
				d := slowMin + time.Duration(rng.Int63n(int64(slowMax-slowMin)))
				proxy.ArmSlow(d, isSale)
				if d < gatewayTimeout {
					rep.slowUnder++
				} else {
					rep.slowOver++
				}
			} else {
				proxy.Arm(f, isSale)
			}
			rep.byFault[f]++
			rep.faults++
		}
		rep.attempted++
		id := "s" + order
		if err := c.send(map[string]any{"type": "sale", "id": id, "amount": amount, "order_num": order}); err != nil {
			return rep, err
		}
		m, err := c.waitFor(func(m msg) bool { return m.is("prompt", id) || m.is("error", id) }, resultTimeout)
		// A reader unplugged at completion comes back within a second or
		// two; until then the sale is refused with no_reader. (Waiting for
		// its attached event instead would need a read deadline, and a
		// websocket read that times out is broken for good.)
		for try := 0; err == nil && m.is("error", id) && m["code"] == "no_reader" && try < 50; try++ {
			time.Sleep(100 * time.Millisecond)
			if err = c.send(map[string]any{"type": "sale", "id": id, "amount": amount, "order_num": order}); err != nil {
				return rep, err
			}
			m, err = c.waitFor(func(m msg) bool { return m.is("prompt", id) || m.is("error", id) }, resultTimeout)
		}
		if err != nil {
			return rep, fmt.Errorf("sale %d: %w", i, err)
		}
		if m["type"] == "error" {
			// Refused (e.g. no_reader while a reader comes back): nothing
			// was started, nothing can be charged.
			final[order] = "refused:" + str(m["code"])
			continue
		}
		if err := c.send(map[string]any{"type": "simulate", "id": "x" + order, "card": []string{"visa", "mc", "amex", "disc"}[rng.Intn(4)], "entry_mode": entry}); err != nil {
			return rep, err
		}
		switch r := rng.Float64(); {
		case r < o.killRate:
			time.Sleep(time.Duration(rng.Intn(40)) * time.Millisecond)
			a.kill()
			rep.kills++
			if err := rep.old.seed(rng, a.state); err != nil {
				return rep, err
			}
			if err := a.start(); err != nil {
				return rep, err
			}
			if err := c.connect(); err != nil {
				return rep, err
			}
			_ = c.send(map[string]any{"type": "status", "id": "q" + order})
		case r < o.killRate+o.dropRate:
			time.Sleep(time.Duration(rng.Intn(20)) * time.Millisecond)
			c.close()
			rep.drops++
			if err := c.connect(); err != nil {
				return rep, err
			}
			_ = c.send(map[string]any{"type": "status", "id": "q" + order})
		}
		// Wait for this sale's final result (replays and late results of
		// earlier sales are recorded on the way).
		_, err = c.waitFor(func(m msg) bool {
			if m["type"] == "result" {
				on := orderOf(m)
				final[on] = str(m["outcome"])
				c.ack(m)
				return m["id"] == id && m["outcome"] != "unknown"
			}
			return m.is("error", id)
		}, resultTimeout)
		if err != nil {
			// Still unknown: reconciliation at the end decides.
			continue
		}
	}
	// Reconciliation: restart the agent once more so that it resolves what
	// is still open, collect every unacknowledged result, stop it.
	a.stop()
	finalLog := fileSize(a.log)
	if err := a.start(); err != nil {
		return rep, err
	}
	if err := c.connect(); err != nil {
		return rep, err
	}
	time.Sleep(3 * time.Second)
	// And lets its retention finish: a kill mid-pass leaves records both
	// archived and live, which the next whole pass heals (the archive's
	// readers take the live one meanwhile); reconciled after a stop that
	// cut a pass short, they would count as duplicates.
	if o.oldBatch > 0 {
		waitRetention(a, finalLog)
	}
	_ = c.send(map[string]any{"type": "status", "id": "final"})
	for {
		m, err := c.waitFor(func(m msg) bool { return m["type"] == "result" }, 2*time.Second)
		if err != nil {
			break
		}
		final[orderOf(m)] = str(m["outcome"])
		c.ack(m)
	}
	c.close()
	a.stop()

	// The gateway's view.
	rep.lookups = proxy.Count(func(r gatewaytest.Record) bool {
		return r.Method == http.MethodGet && r.Path == "/v2/transactions" && strings.Contains(r.Query, "transaction_api_id")
	})
	voidsOf := map[string]int{}
	for _, r := range proxy.Records() {
		if r.Method == http.MethodPut && r.Forwarded && r.BackendStatus/100 == 2 {
			rep.voids++
			voidsOf[r.Path]++
		}
	}
	for _, n := range voidsOf {
		if n > 1 {
			rep.doubleVoids++
		}
	}
	charged := map[string]int{}
	approvedAt := map[string]bool{}
	for _, s := range sb.Summaries() {
		if !strings.HasPrefix(s.OrderNum, "chaos") {
			continue
		}
		charged[s.OrderNum]++
		rep.charges++
		if s.StatusID == 101 {
			approvedAt[s.OrderNum] = true
		}
		if s.StatusID == 201 {
			rep.voided++
		}
	}
	// The old sales: each exactly once in journal ∪ archive.
	if err := rep.old.reconcile(a.state); err != nil {
		return rep, err
	}
	// The journal's view.
	j, err := journal.Open(filepath.Join(a.state, "journal.db"), nil)
	if err != nil {
		return rep, err
	}
	defer j.Close()
	var recs []journal.Record
	for q := (sale.Query{Limit: 1000}); ; {
		p, err := j.History(q)
		if err != nil {
			return rep, err
		}
		recs = append(recs, p.Records...)
		if !p.More {
			break
		}
		q.Before = p.Next
	}
	done := map[string]journal.Record{}
	for _, r := range recs {
		if r.State.Unfinished() {
			rep.unresolved++
		}
		done[r.OrderNum] = r
	}
	for i := 0; i < o.n; i++ {
		order := fmt.Sprintf("chaos%d", i)
		if charged[order] > 1 {
			rep.duplicates++
		}
		out := final[order]
		rep.outcomes[out]++
		rec, inJournal := done[order]
		if approvedAt[order] && out != "approved" && !(inJournal && rec.Outcome == "approved") {
			rep.lost++
		}
		if out == "approved" && !approvedAt[order] {
			rep.phantom++
		}
		if cardDeclined[order] && approvedAt[order] {
			rep.standing++
		}
	}
	return rep, nil
}

// msg is one websocket message.
type msg map[string]any

func (m msg) is(typ, id string) bool { return m["type"] == typ && m["id"] == id }

func str(v any) string {
	s, _ := v.(string)
	return s
}

// orderOf recovers the sale's order number from its request id.
func orderOf(m msg) string { return strings.TrimPrefix(str(m["id"]), "s") }

type client struct {
	port int
	ws   *websocket.Conn
	// capture, when set, gets every frame sent and received (captureFrame).
	capture io.Writer
	capErr  error
}

// captureFrame writes one frame as a plain text line: time, direction
// (send, recv) and the payload as it went over the wire, with line breaks
// turned into spaces and nothing else changed, so that the leak scan sees
// exactly what the agent and the page exchanged.
func (c *client) captureFrame(dir string, payload []byte) {
	if c.capture == nil || c.capErr != nil {
		return
	}
	line := fmt.Appendf(nil, "%s %s ", time.Now().UTC().Format(time.RFC3339Nano), dir)
	line = append(line, bytes.TrimRight(bytes.ReplaceAll(bytes.ReplaceAll(payload, []byte{'\r'}, []byte{' '}), []byte{'\n'}, []byte{' '}), " ")...)
	line = append(line, '\n')
	if _, err := c.capture.Write(line); err != nil {
		c.capErr = fmt.Errorf("websocket capture: %w", err)
	}
}

func (c *client) connect() error {
	origin := fmt.Sprintf("http://127.0.0.1:%d", c.port)
	var err error
	for try := 0; try < 50; try++ {
		c.ws, _, err = websocket.DefaultDialer.Dial(fmt.Sprintf("ws://127.0.0.1:%d/v1/ws", c.port), http.Header{"Origin": {origin}})
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	if err := c.send(map[string]any{"type": "hello", "id": "h"}); err != nil {
		return err
	}
	_, err = c.waitFor(func(m msg) bool { return m.is("welcome", "h") }, startTimeout)
	return err
}

func (c *client) close() {
	if c.ws != nil {
		_ = c.ws.Close()
		c.ws = nil
	}
}

func (c *client) send(v map[string]any) error {
	if c.ws == nil {
		return errors.New("not connected")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %v message: %w", v["type"], err)
	}
	c.captureFrame("send", b)
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("send %v: %w", v["type"], err)
	}
	return nil
}

func (c *client) ack(m msg) {
	_ = c.send(map[string]any{"type": "ack", "id": "a" + str(m["id"]), "transaction_api_id": m["transaction_api_id"]})
}

// waitFor reads messages until match says yes or the time is up.
func (c *client) waitFor(match func(msg) bool, d time.Duration) (msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		if c.ws == nil {
			return nil, errors.New("not connected")
		}
		dl, _ := ctx.Deadline()
		_ = c.ws.SetReadDeadline(dl)
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		c.captureFrame("recv", b)
		var m msg
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("decode message: %w", err)
		}
		if match(m) {
			return m, nil
		}
	}
}
