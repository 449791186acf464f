package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// msg is one websocket message from the agent.
type msg map[string]any

func (m msg) is(typ, id string) bool { return m["type"] == typ && m["id"] == id }

func str(v any) string {
	s, _ := v.(string)
	return s
}

// errorOf describes an agent's error reply (codes and messages never carry
// card data: the agent masks them).
func errorOf(m msg) error {
	return fmt.Errorf("agent error %s: %s", str(m["code"]), str(m["message"]))
}

// client is the POS page: one websocket connection to the agent, from the
// agent's own origin, so that hello admits it without pairing.
type client struct {
	ws *websocket.Conn
}

func dial(port int) (*client, error) {
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	ws, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://127.0.0.1:%d/v1/ws", port), http.Header{"Origin": {origin}})
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	c := &client{ws: ws}
	if err := c.send(msg{"type": "hello", "id": "h"}); err != nil {
		c.close()
		return nil, err
	}
	if _, _, err := c.waitFor(func(m msg) bool { return m.is("welcome", "h") }, "h", startTimeout); err != nil {
		c.close()
		return nil, fmt.Errorf("hello: %w", err)
	}
	return c, nil
}

func (c *client) close() { _ = c.ws.Close() }

func (c *client) send(m msg) error {
	if err := c.ws.WriteJSON(m); err != nil {
		return fmt.Errorf("websocket send %s: %w", str(m["type"]), err)
	}
	return nil
}

// waitFor reads messages until match says yes, and returns the message and
// the time it was read. An error reply to request id ends the wait.
func (c *client) waitFor(match func(msg) bool, id string, d time.Duration) (msg, time.Time, error) {
	if err := c.ws.SetReadDeadline(time.Now().Add(d)); err != nil {
		return nil, time.Time{}, err
	}
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("websocket read: %w", err)
		}
		at := time.Now()
		var m msg
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, time.Time{}, fmt.Errorf("websocket message: %w", err)
		}
		if id != "" && m.is("error", id) {
			return nil, time.Time{}, errorOf(m)
		}
		if match(m) {
			return m, at, nil
		}
	}
}

// ack acknowledges a result, as a POS page does once it has shown it, so
// that the agent does not keep it for replay.
func (c *client) ack(res msg) error {
	return c.send(msg{"type": "ack", "id": "a" + str(res["id"]), "transaction_api_id": res["transaction_api_id"]})
}

// readerStatus asks for status and returns the status of reader id ("" if
// it is not listed).
func (c *client) readerStatus(id string) (string, error) {
	if err := c.send(msg{"type": "status", "id": "q"}); err != nil {
		return "", err
	}
	m, _, err := c.waitFor(func(m msg) bool { return m.is("status", "q") }, "q", startTimeout)
	if err != nil {
		return "", fmt.Errorf("status: %w", err)
	}
	readers, _ := m["readers"].([]any)
	for _, r := range readers {
		if r, ok := r.(map[string]any); ok && r["id"] == id {
			return str(r["status"]), nil
		}
	}
	return "", nil
}

// waitReaderOK polls status until reader id is ok: the manager's first scan
// may run before or after this client is admitted, so its attached event
// alone could be missed.
func (c *client) waitReaderOK(id string) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		st, err := c.readerStatus(id)
		if err != nil {
			return err
		}
		if st == "ok" {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("reader " + id + " is not ok after " + startTimeout.String())
}
