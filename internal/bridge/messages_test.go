package bridge

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/posagent/posagent/internal/bridge/bridgetest"
	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

const visa = "4111111111111111"

// TestSaleFlow walks a sale, a decline and every follow-up through the
// protocol, and checks that no clear card number ever reaches the client.
func TestSaleFlow(t *testing.T) {
	h := start(t)
	c := h.open()
	var seen []string

	c.send(`{"type":"sale","id":"s1","amount":"12.34","action":"sale","order_num":"A-1","tip_amount":"1.00","description":"coffee"}`)
	pa := c.expectAll("prompt", "accepted")
	p, a := pa["prompt"], pa["accepted"]
	if p.str("id") != "s1" || p.str("prompt") != "present_card" || p.str("transaction_api_id") == "" {
		t.Fatalf("prompt %s", p["_raw"])
	}
	if a.str("id") != "s1" || a.str("transaction_api_id") != p.str("transaction_api_id") || a.str("amount") != "12.34" {
		t.Fatalf("accepted %s", a["_raw"])
	}
	c.send(map[string]string{"type": "simulate", "id": "x1", "card": visa, "entry_mode": "C"})
	got := c.expectAll("card", "prompt", "simulated", "result")
	for _, want := range []string{"card", "prompt", "simulated", "result"} {
		m := got[want]
		seen = append(seen, m.str("_raw"))
		switch want {
		case "card":
			if m.str("masked_pan") != "411111******1111" || m.str("last_four") != "1111" || m.str("brand") != "visa" || m.str("entry_mode") != "C" || m.str("id") != "s1" {
				t.Fatalf("card %s", m["_raw"])
			}
		case "prompt":
			if m.str("prompt") != "processing" {
				t.Fatalf("prompt %s", m["_raw"])
			}
		case "simulated":
			if m.str("id") != "x1" || m.str("reader") != bridgetest.ReaderID {
				t.Fatalf("simulated %s", m["_raw"])
			}
		case "result":
			tx, rc := m.obj("transaction"), m.obj("receipt")
			if m.str("id") != "s1" || m.str("outcome") != "approved" || tx.str("id") == "" || tx["status_id"] != 101.0 ||
				tx["reason_code_id"] != 1000.0 || tx.str("auth_code") == "" || tx.str("amount") != "12.34" ||
				tx.str("entry_mode_id") != "C" || tx.str("last_four") != "1111" || tx.str("verbiage") == "" {
				t.Fatalf("result %s", m["_raw"])
			}
			for _, k := range []string{"TC", "TVR", "AID", "TSI", "ATC", "APPLAB", "APPN", "CVM"} {
				if _, ok := rc[k]; !ok {
					t.Fatalf("receipt lacks %s: %s", k, m["_raw"])
				}
			}
			if rc.str("AID") == "" {
				t.Fatalf("chip result without receipt: %s", m["_raw"])
			}
			if m.obj("card").str("masked_pan") != "411111******1111" {
				t.Fatalf("result card %s", m["_raw"])
			}
		}
	}
	txID := got["result"].obj("transaction").str("id")

	// A decline (sandbox: 6.16 insufficient funds).
	c.sale("s2", "6.16")
	d := c.card("5454545454545454", "S")["result"]
	seen = append(seen, d.str("_raw"))
	if d.str("outcome") != "declined" || d.obj("transaction")["status_id"] != 301.0 || d.obj("transaction")["reason_code_id"] != 1616.0 {
		t.Fatalf("decline %s", d["_raw"])
	}

	// Follow-ups.
	for _, typ := range []string{"refund", "void", "complete"} {
		c.send(map[string]string{"type": typ, "id": "f-" + typ, "transaction_id": txID, "amount": "1.00"})
		ar := c.expectAll("accepted", "result")
		acc, res := ar["accepted"], ar["result"]
		if acc.str("id") != "f-"+typ || res.str("id") != "f-"+typ || res.str("outcome") != "approved" || res.str("action") != typ {
			t.Fatalf("%s: %s %s", typ, acc["_raw"], res["_raw"])
		}
	}
	c.send(`{"type":"refund","id":"f-bad","transaction_id":"x"}`)
	c.expectError(engine.CodeInvalid)

	// Cancel: its reply is the sale's result, outcome cancelled.
	c.sale("s3", "2.00")
	c.send(`{"type":"cancel","id":"s3"}`)
	if r := c.expect("result"); r.str("id") != "s3" || r.str("outcome") != "cancelled" || r.str("message") == "" {
		t.Fatalf("cancel %s", r["_raw"])
	}
	c.send(`{"type":"cancel","id":"s3"}`)
	c.expectError(engine.CodeNotFound)

	// Acks: by request id, then by transaction_api_id.
	c.send(`{"type":"ack","id":"s1"}`)
	if m := c.expect("acked"); len(m["transaction_api_ids"].([]any)) != 1 {
		t.Fatalf("acked %s", m["_raw"])
	}
	c.send(`{"type":"ack","id":"s1"}`)
	c.expectError(CodeNotFound)
	c.send(map[string]string{"type": "ack", "id": "a2", "transaction_api_id": d.str("transaction_api_id")})
	c.expect("acked")
	c.send(`{"type":"ack","id":"a3","transaction_api_id":"nope"}`)
	c.expectError(CodeNotFound)

	// Status lists what is left unacknowledged and replays it.
	c.send(`{"type":"status","id":"q1"}`)
	st := c.expect("status")
	n := int(st["unacked"].(float64))
	if n != 4 || len(st["readers"].([]any)) != 1 || !st.obj("agent")["simulate"].(bool) { // 3 follow-ups + the cancel
		t.Fatalf("status %s", st["_raw"])
	}
	for i := 0; i < n; i++ {
		if r := c.expect("result"); r["replay"] != true {
			t.Fatalf("replay %s", r["_raw"])
		}
	}
	for _, s := range seen {
		if strings.Contains(s, visa) || strings.Contains(s, "5454545454545454") {
			t.Fatalf("a clear card number reached the page: %s", s)
		}
	}
}

func TestSaleRefusals(t *testing.T) {
	h := start(t)
	c := h.open()
	tests := []struct{ req, code string }{
		{`{"type":"sale","id":"a","amount":"abc"}`, engine.CodeInvalid},
		{`{"type":"sale","id":"a","amount":12.34}`, engine.CodeInvalid}, // a number, not a string
		{`{"type":"sale","id":"a","amount":"1.00","action":"steal"}`, engine.CodeInvalid},
		{`{"type":"sale","id":"a","amount":"1.00","reader":"hid:nope"}`, engine.CodeNoReader},
		{`{"type":"cancel","id":"nothing"}`, engine.CodeNotFound},
		{`{"type":"status","id":"q","transaction_api_id":"unknown"}`, CodeNotFound},
		{`{"type":"simulate","id":"x","card":"4111"}`, CodeInvalid},
		{`{"type":"simulate","id":"x","card":"4111111111111111","entry_mode":"Q"}`, CodeInvalid},
		{`{"type":"simulate","id":"x","card":"4111-1111-1111-1111"}`, CodeInvalid},
	}
	for _, tt := range tests {
		c.send(tt.req)
		e := c.expectError(tt.code)
		if e.str("id") == "" {
			t.Errorf("%s: error without the request id: %s", tt.req, e["_raw"])
		}
		if strings.Contains(e.str("_raw"), "4111111111111111") {
			t.Errorf("%s: the card number was echoed", tt.req)
		}
	}
	// Busy reader, and a request id reused while its sale runs.
	c.sale("s1", "1.00")
	c.send(`{"type":"sale","id":"s1","amount":"1.00"}`)
	c.expectError(engine.CodeDuplicateID)
	c.send(`{"type":"sale","id":"s2","amount":"1.00"}`)
	c.expectError(engine.CodeBusy)
	c.card(visa, "S")
	c.send(`{"type":"cancel","id":"s1"}`)
	c.expectError(engine.CodeNotFound)
}

func TestSimulateRefused(t *testing.T) {
	failing := SimulatorFunc(func(context.Context, string, string, card.EntryMode, string) error {
		return errors.New("cannot read card 4111111111111111 now")
	})
	tests := []struct {
		name string
		opt  harnessOpt
		code string
	}{
		{"no simulator", func(o *Options, _ *timing) { o.Simulator = nil }, CodeNotSimulated},
		{"not the sandbox", func(o *Options, _ *timing) { o.SandboxGateway = false }, CodeNotSimulated},
		{"no simulated reader", func(o *Options, _ *timing) {
			o.Engine.(*bridgetest.Engine).SetReaders([]sale.Reader{{ID: "hid:1", Status: sale.ReaderOK}})
		}, CodeNotSimulated},
		{"simulator error", func(o *Options, _ *timing) { o.Simulator = failing }, CodeSimulateFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.opt)
			c := h.open()
			if tt.code == CodeSimulateFailed {
				c.sale("s1", "1.00") // the simulator is asked only for a sale of this page
			}
			c.send(map[string]string{"type": "simulate", "id": "x", "card": visa, "entry_mode": "S"})
			e := c.expectError(tt.code)
			if strings.Contains(e.str("_raw"), visa) {
				t.Fatalf("card number echoed: %s", e["_raw"])
			}
		})
	}
}

func TestGarbage(t *testing.T) {
	h := start(t)
	c := h.open()
	tests := []struct{ raw, code, id string }{
		{``, CodeBadJSON, ""},
		{`not json`, CodeBadJSON, ""},
		{`{"type":"sale"`, CodeBadJSON, ""},
		{`[]`, CodeBadJSON, ""},
		{`"hello"`, CodeBadJSON, ""},
		{`42`, CodeBadJSON, ""},
		{`null`, CodeBadJSON, ""},
		{`{}`, CodeMissingID, ""},
		{`{"type":"status"}`, CodeMissingID, ""},
		{`{"type":"status","id":""}`, CodeMissingID, ""},
		{`{"type":"status","id":7}`, CodeMissingID, ""},
		{`{"type":"status","id":{"a":1}}`, CodeMissingID, ""},
		{`{"id":"q"}`, CodeUnknownType, "q"},
		{`{"type":"steal","id":"q"}`, CodeUnknownType, "q"},
		{`{"type":7,"id":"q"}`, CodeInvalid, "q"},
		{`{"type":"status","id":"` + strings.Repeat("x", 65) + `"}`, CodeInvalid, ""},
		{`{"type":"status","id":"line\nbreak"}`, CodeInvalid, ""},
		{`{"type":"status","id":"4111111111111111"}`, CodeCardData, ""},
		{`{"type":"hello","id":"h","token":"` + strings.Repeat("t", 200) + `"}`, CodeNotPaired, "h"},
	}
	for _, tt := range tests {
		c.send(tt.raw)
		e := c.expectError(tt.code)
		if e.str("id") != tt.id || e.str("message") == "" {
			t.Errorf("%q: %s, want id %q and a message", tt.raw, e["_raw"], tt.id)
		}
		if strings.Contains(e.str("_raw"), "4111111111111111") {
			t.Errorf("%q: card number echoed", tt.raw)
		}
	}
	// Binary frames.
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"status","id":"b"}`)); err != nil {
		t.Fatal(err)
	}
	c.expectError(CodeBadJSON)
	// Still usable.
	c.send(`{"type":"status","id":"ok"}`)
	c.expect("status")
}

func TestOversized(t *testing.T) {
	h := start(t)
	c := h.open()
	big := `{"type":"status","id":"big","pad":"` + strings.Repeat("x", MaxMessageSize) + `"}`
	c.send(big)
	c.expectError(CodeTooLarge)
	c.send(`{"type":"status","id":"after"}`)
	if m := c.expect("status"); m.str("id") != "after" {
		t.Fatal(m["_raw"])
	}
	// Past the hard limit the connection is closed with 1009.
	huge := make([]byte, hardReadLimit+1)
	for i := range huge {
		huge[i] = 'x'
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, huge); err != nil {
		t.Fatal(err)
	}
	if code, _ := c.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}

func TestSlowClientDropped(t *testing.T) {
	h := start(t, func(o *Options, _ *timing) { o.SendQueue = 4 })
	slow := h.open()
	fast := h.open()
	detail := strings.Repeat("d", 32<<10)
	ev := sale.Update{Kind: sale.UpdateReader, Reader: &sale.ReaderEvent{Kind: string(reader.EventAttached),
		Reader: sale.Reader{ID: "hid:1", Status: sale.ReaderOK, Detail: detail}}}
	// fast reads every event; slow reads nothing, so once the socket's
	// buffers are full its queue overflows.
	deadline := time.Now().Add(waitFor)
	for !slowClosed(h.b) {
		if time.Now().After(deadline) {
			t.Fatal("the slow client was never dropped")
		}
		h.eng.Publish(ev)
		fast.expect("reader")
	}
	code, why := slow.closeCode()
	if code != websocket.CloseTryAgainLater || !strings.Contains(why, CodeSlowClient) {
		t.Fatalf("slow client closed with %d %q, want 1013 slow_client", code, why)
	}
	waitClients(t, h.b, 1)
	fast.send(`{"type":"status","id":"still"}`)
	fast.expect("status")
}

func slowClosed(b *Bridge) bool {
	b.metrics.mu.Lock()
	defer b.metrics.mu.Unlock()
	return b.metrics.slowClosed > 0
}

func TestTwoTabs(t *testing.T) {
	h := start(t)
	a, b := h.open(), h.open()
	a.sale("a1", "3.00")
	// The other tab cannot start a sale on the busy reader…
	b.send(`{"type":"sale","id":"b1","amount":"4.00"}`)
	b.expectError(engine.CodeBusy)
	// …and a reader event reaches both tabs, the sale's updates only one.
	h.eng.Publish(sale.Update{Kind: sale.UpdateReader, Reader: &sale.ReaderEvent{Kind: string(reader.EventBroken),
		Reader: sale.Reader{ID: "hid:2", Status: sale.ReaderBroken, Detail: "unplug and plug it in"}}})
	for _, c := range []*client{a, b} {
		if m := c.expect("reader"); m.str("event") != "broken" || m.obj("reader").str("detail") == "" || m.obj("reader").str("id") != "hid:2" {
			t.Fatalf("reader %s", m["_raw"])
		}
	}
	// A warning about a's sale goes to a only.
	h.eng.Publish(sale.Update{Kind: sale.UpdateWarning, Code: "clear_track_data", Warning: "the reader is not encrypting",
		ClientID: "a1", Origin: h.self(), TransactionAPIID: "t"})
	if e := a.expectError("clear_track_data"); e.str("id") != "a1" {
		t.Fatal(e["_raw"])
	}
	// b's next message is its own reply, not a's updates.
	b.send(map[string]string{"type": "simulate", "id": "x", "card": visa, "entry_mode": "P"})
	b.expect("simulated")
	a.expectAll("card", "prompt")
	a.expect("result")
	b.quiet(100 * time.Millisecond)
}

// TestReloadDuringSale: the page that started a sale goes away; the
// reloaded page (same origin) asks status, gets the sale adopted, and the
// result replayed until it acknowledges it.
func TestReloadDuringSale(t *testing.T) {
	h := start(t)
	a := h.open()
	apiID := a.sale("s1", "9.99").str("transaction_api_id")
	a.ws.Close()
	waitClients(t, h.b, 0)

	// Reloaded while waiting for the card: status adopts the sale.
	b := h.open()
	b.send(`{"type":"status","id":"q1"}`)
	st := b.expect("status")
	act := st["active"].([]any)
	if len(act) != 1 || act[0].(map[string]any)["transaction_api_id"] != apiID || act[0].(map[string]any)["id"] != "s1" {
		t.Fatalf("status %s", st["_raw"])
	}
	if r := b.card(visa, "C")["result"]; r.str("id") != "s1" || r.str("outcome") != "approved" {
		t.Fatal(r["_raw"])
	}
	// Reloaded again before acknowledging: the result comes back.
	b.ws.Close()
	waitClients(t, h.b, 0)
	c := h.open()
	c.send(`{"type":"status","id":"q2"}`)
	if st := c.expect("status"); st["unacked"] != 1.0 {
		t.Fatal(st["_raw"])
	}
	r := c.expect("result")
	if r.str("id") != "s1" || r["replay"] != true || r.str("transaction_api_id") != apiID {
		t.Fatal(r["_raw"])
	}
	c.send(map[string]string{"type": "ack", "id": "k", "transaction_api_id": apiID})
	c.expect("acked")
	c.send(`{"type":"status","id":"q3"}`)
	if st := c.expect("status"); st["unacked"] != 0.0 {
		t.Fatal(st["_raw"])
	}
	// A lookup by transaction_api_id still finds an acknowledged result.
	c.send(map[string]string{"type": "status", "id": "q4", "transaction_api_id": apiID})
	c.expect("status")
	if r := c.expect("result"); r.str("transaction_api_id") != apiID {
		t.Fatal(r["_raw"])
	}
}

// TestResultWhileAway: the result arrives while no page is open.
func TestResultWhileAway(t *testing.T) {
	h := start(t)
	a := h.open()
	apiID := a.sale("s1", "1.50").str("transaction_api_id")
	a.ws.Close()
	waitClients(t, h.b, 0)
	if err := h.eng.Simulate(context.Background(), bridgetest.ReaderID, visa, card.EntrySwiped, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for {
		r, _, _ := h.eng.Get(apiID)
		if r.Outcome != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no result")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b := h.open()
	b.send(`{"type":"status","id":"q"}`)
	b.expect("status")
	if r := b.expect("result"); r.str("transaction_api_id") != apiID || r["replay"] != true {
		t.Fatal(r["_raw"])
	}
	b.send(`{"type":"ack","id":"s1"}`)
	b.expect("acked")
}

func TestResultsScopedToOrigin(t *testing.T) {
	h := start(t, func(o *Options, _ *timing) { o.AllowedOrigins = []string{"https://a.example", "https://b.example"} })
	a := h.mustDial("https://a.example")
	a.send(`{"type":"hello","id":"h"}`)
	a.expect("welcome")
	apiID := a.sale("s1", "1.00").str("transaction_api_id")
	a.card(visa, "S")
	b := h.mustDial("https://b.example")
	b.send(`{"type":"hello","id":"h"}`)
	b.expect("welcome")
	b.send(`{"type":"status","id":"q"}`)
	if st := b.expect("status"); st["unacked"] != 0.0 {
		t.Fatalf("origin b sees a's results: %s", st["_raw"])
	}
	for _, req := range []map[string]string{
		{"type": "ack", "id": "k", "transaction_api_id": apiID},
		{"type": "status", "id": "k2", "transaction_api_id": apiID},
		{"type": "ack", "id": "s1"},
	} {
		b.send(req)
		b.expectError(CodeNotFound)
	}
}

func waitClients(t *testing.T, b *Bridge, n int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for b.clientCount() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients, want %d", b.clientCount(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestShutdownClosesClients(t *testing.T) {
	h := start(t)
	c := h.open()
	h.cancel()
	code, _ := c.closeCode()
	if code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
		h.done <- nil
	case <-time.After(waitFor):
		t.Fatal("Serve did not return")
	}
}

func TestPingPong(t *testing.T) {
	h := start(t, func(_ *Options, tm *timing) {
		tm.pingPeriod, tm.pongWait = 20*time.Millisecond, 100*time.Millisecond
	})
	// A client that reads answers pings (gorilla does it in ReadMessage)
	// and stays connected well past pongWait.
	live := h.open()
	go func() {
		for {
			if _, _, err := live.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	// A client that never reads never answers: it is dropped.
	dead, _, err := h.dial(h.self(), "")
	if err != nil {
		t.Fatal(err)
	}
	_ = dead
	waitClients(t, h.b, 1)
	time.Sleep(300 * time.Millisecond)
	if h.b.clientCount() != 1 {
		t.Fatalf("%d clients, want the live one", h.b.clientCount())
	}
}

func TestServeRefusesNonLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip("cannot listen on 0.0.0.0:", err)
	}
	defer ln.Close()
	b, _ := New(Options{Engine: bridgetest.New()})
	if err := b.Serve(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("Serve on %s: %v, want a loopback refusal", ln.Addr(), err)
	}
	b2, _ := New(Options{Engine: bridgetest.New(), InsecureListenAny: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b2.Serve(ctx, ln) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("InsecureListenAny: %v", err)
	}
}

func TestNewRefusesBadAllowedOrigin(t *testing.T) {
	for _, o := range []string{"null", "native", "ftp://x", "https://x/path"} {
		if _, err := New(Options{Engine: bridgetest.New(), AllowedOrigins: []string{o}}); err == nil {
			t.Errorf("allowed origin %q accepted", o)
		}
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without an engine")
	}
}

func TestServeListenerFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // Serve's Accept fails at once
	b, _ := New(Options{Engine: bridgetest.New()})
	done := make(chan error, 1)
	go func() { done <- b.Serve(context.Background(), ln) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Serve on a closed listener returned nil")
		}
	case <-time.After(waitFor):
		t.Fatal("Serve hung after its listener failed")
	}
}

func TestNoCardDataInLogs(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	h := start(t, func(o *Options, _ *timing) {
		o.Log = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := h.open()
	c.sale("s1", "1.00")
	c.card(visa, "C")
	c.send(`{"type":"simulate","id":"4111111111111111","card":"4111111111111111"}`)
	c.expectError(CodeCardData)
	h.stop()
	mu.Lock()
	defer mu.Unlock()
	if logs.Len() == 0 {
		t.Fatal("no logs captured")
	}
	if strings.Contains(logs.String(), visa) {
		t.Fatalf("a clear card number reached the log:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
