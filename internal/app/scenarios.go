package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/posagent/posagent/internal/bridge"
	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/reader/sim"
)

// unplugFor is how long the simulated reader stays unplugged in the
// unplug scenario before it comes back by itself.
const unplugFor = 4 * time.Second

// simulator stages the simulate request's scenarios on the demo's
// simulated reader and sandbox gateway (bridge.Scenario*).
type simulator struct {
	d       *sim.Driver
	gateway *timeoutAfterCommit
}

func (s *simulator) Simulate(ctx context.Context, _, pan string, m card.EntryMode, scenario string) error {
	c := sim.SimCard{PAN: pan, EntryMode: m}
	switch scenario {
	case "":
		return s.d.Simulate(ctx, c)
	case bridge.ScenarioUnplug:
		s.d.Unplug()
		time.AfterFunc(unplugFor, s.d.Replug)
		return nil
	case bridge.ScenarioBadRead, bridge.ScenarioClearTrackData:
		f := sim.FaultBadRead
		if scenario == bridge.ScenarioClearTrackData {
			f = sim.FaultNotEncrypting
		}
		s.d.SetFault(f)
		defer s.d.SetFault(sim.FaultNone)
		return s.d.Simulate(ctx, c)
	case bridge.ScenarioGatewayTimeout:
		if s.gateway == nil {
			return errors.New("the gateway timeout scenario needs the embedded sandbox gateway")
		}
		s.gateway.arm()
		if err := s.d.Simulate(ctx, c); err != nil {
			s.gateway.disarm()
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

// timeoutAfterCommit is the sandbox client's transport in the demo. Armed,
// it lets the next transaction request reach the sandbox — which commits
// it — and then answers the client with a timeout instead of the
// sandbox's reply: the gateway failure that leaves a sale unknown until the
// engine looks it up. Lookups (GET) always pass.
type timeoutAfterCommit struct {
	next  http.RoundTripper
	armed atomic.Bool
}

func (t *timeoutAfterCommit) arm()    { t.armed.Store(true) }
func (t *timeoutAfterCommit) disarm() { t.armed.Store(false) }

func (t *timeoutAfterCommit) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || !strings.Contains(r.URL.Path, "/transactions") || !t.armed.CompareAndSwap(true, false) {
		return t.next.RoundTrip(r)
	}
	res, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return nil, fmt.Errorf("simulated gateway timeout (the sandbox committed the transaction, its answer was dropped): %w", os.ErrDeadlineExceeded)
}
