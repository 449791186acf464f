package browser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/bridge"
	"github.com/posagent/posagent/internal/bridge/bridgetest"
)

// Servers are the agent under test and the foreign POS page.
type Servers struct {
	// AgentURL is the agent's own page, e.g. http://127.0.0.1:41234/.
	AgentURL string
	// ForeignURL is a POS page on another origin that loads posagent.js
	// from the agent and pairs (auto-approved).
	ForeignURL string
	// Engine is the fake engine behind the agent.
	Engine *bridgetest.Engine

	wg sync.WaitGroup
}

// Wait waits for the servers to stop after their context ended.
func (s *Servers) Wait() { s.wg.Wait() }

// Start serves the bridge over the fake engine on 127.0.0.1 and the
// foreign page on localhost (another origin), until ctx ends.
func Start(ctx context.Context, log *slog.Logger) (*Servers, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	eng := bridgetest.New()
	eng.ProcessDelay = 150 * time.Millisecond // long enough to see "Processing…"
	agentLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	foreignLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		agentLn.Close()
		return nil, err
	}
	agentPort := agentLn.Addr().(*net.TCPAddr).Port
	foreignPort := foreignLn.Addr().(*net.TCPAddr).Port
	foreignOrigin := fmt.Sprintf("http://localhost:%d", foreignPort)
	b, err := bridge.New(bridge.Options{
		Engine: eng, Simulator: eng, SandboxGateway: true, Version: "browser-test", Log: log,
		Pairer: bridge.AutoApprove(bridge.PairOnce, foreignOrigin), TrustOwnPage: true, // as posagent demo
	})
	if err != nil {
		agentLn.Close()
		foreignLn.Close()
		return nil, err
	}
	s := &Servers{
		AgentURL:   fmt.Sprintf("http://127.0.0.1:%d/", agentPort),
		ForeignURL: foreignOrigin + "/",
		Engine:     eng,
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := b.Serve(ctx, agentLn); err != nil {
			log.Error("bridge", "error", err)
		}
	}()
	agentHost := fmt.Sprintf("127.0.0.1:%d", agentPort)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: ForeignPage(func() string { return agentHost })}
	go func() {
		defer s.wg.Done()
		go func() {
			<-ctx.Done()
			_ = srv.Close()
		}()
		if err := srv.Serve(foreignLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("foreign page", "error", err)
		}
	}()
	return s, nil
}

// ForeignPage serves foreignPage with posagent.js and the websocket at
// agentHost (host:port), read at each request.
func ForeignPage(agentHost func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(strings.ReplaceAll(foreignPage, "AGENT", agentHost())))
	})
}

// foreignPage is a minimal third-party POS page: it loads posagent.js from
// the agent, pairs, and records what happens for the test to read.
const foreignPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Foreign POS</title></head>
<body><h1>Foreign POS</h1><p id="state">starting</p>
<script type="module">
import { PosAgent } from 'http://AGENT/posagent.js';
window.__events = [];
const agent = new PosAgent({ url: 'ws://AGENT/v1/ws' });
window.__agent = agent;
for (const ev of ['state', 'paired', 'welcome', 'error', 'result']) {
  agent.on(ev, (m) => window.__events.push({ ev, type: m && m.type, code: m && m.code, state: typeof m === 'string' ? m : undefined }));
}
agent.on('state', (s) => { document.getElementById('state').textContent = s; });
agent.on('welcome', (w) => { window.__welcome = w; }); // also after a later approval
agent.connect().then((w) => { window.__welcome = w; }, (e) => { window.__refused = e.code; window.__refusedMessage = e.message; });
</script></body></html>
`
