package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsPage is a POS page on the agent's websocket, for tests that drive the
// agent as a page would: one origin, messages as maps.
type wsPage struct {
	t      *testing.T
	origin string
	ws     *websocket.Conn
}

// openPage connects to the agent at base (http://127.0.0.1:PORT) with the
// Origin origin and says hello.
func openPage(t *testing.T, base, origin string) *wsPage {
	t.Helper()
	url := "ws" + strings.TrimPrefix(strings.TrimSuffix(base, "/"), "http") + "/v1/ws"
	var ws *websocket.Conn
	var err error
	for try := 0; try < 100; try++ {
		if ws, _, err = websocket.DefaultDialer.Dial(url, http.Header{"Origin": {origin}}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dial %s as %s: %v", url, origin, err)
	}
	p := &wsPage{t: t, origin: origin, ws: ws}
	t.Cleanup(func() { ws.Close() })
	p.send(map[string]any{"type": "hello", "id": "hello"})
	p.wait(func(m map[string]any) bool {
		return m["id"] == "hello" && (m["type"] == "welcome" || m["type"] == "error")
	}, "welcome")
	return p
}

func (p *wsPage) send(m map[string]any) {
	p.t.Helper()
	if err := p.ws.WriteJSON(m); err != nil {
		p.t.Fatalf("%s: send: %v", p.origin, err)
	}
}

// wait returns the first message that pred accepts; what names the
// message in the failure.
func (p *wsPage) wait(pred func(map[string]any) bool, what string) map[string]any {
	p.t.Helper()
	_ = p.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, data, err := p.ws.ReadMessage()
		if err != nil {
			p.t.Fatalf("%s: waiting for %s: %v", p.origin, what, err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			p.t.Fatalf("%s: %s is not JSON: %v", p.origin, data, err)
		}
		m["_raw"] = string(data)
		if pred(m) {
			if what == "welcome" && m["type"] != "welcome" {
				p.t.Fatalf("%s: hello refused: %s", p.origin, data)
			}
			return m
		}
	}
}

// reply waits for the message of type typ, or an error, about request id.
func (p *wsPage) reply(typ, id string) map[string]any {
	p.t.Helper()
	return p.wait(func(m map[string]any) bool { return m["id"] == id && (m["type"] == typ || m["type"] == "error") }, typ+" "+id)
}

// result waits for the final result of request id (not "unknown").
func (p *wsPage) result(id string) map[string]any {
	p.t.Helper()
	return p.wait(func(m map[string]any) bool {
		return m["id"] == id && m["type"] == "result" && m["outcome"] != "unknown"
	}, "result "+id)
}

// sale asks for a sale, waits for its prompt and swipes a card of brand
// on the simulated reader; it returns the final result.
func (p *wsPage) sale(id string, fields map[string]any, brand string) map[string]any {
	p.t.Helper()
	m := map[string]any{"type": "sale", "id": id}
	for k, v := range fields {
		m[k] = v
	}
	p.send(m)
	if r := p.wait(func(m map[string]any) bool { return m["id"] == id && (m["type"] == "prompt" || m["type"] == "error") }, "prompt "+id); r["type"] == "error" {
		p.t.Fatalf("%s: sale %s refused: %s", p.origin, id, r["_raw"])
	}
	p.send(map[string]any{"type": "simulate", "id": "x" + id, "card": brand, "entry_mode": "S"})
	if r := p.reply("simulated", "x"+id); r["type"] != "simulated" {
		p.t.Fatalf("%s: simulate for %s: %s", p.origin, id, r["_raw"])
	}
	return p.result(id)
}

func obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
