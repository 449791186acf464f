package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// conn is one websocket client. Its reader goroutine (the handler's) reads
// and handles requests; its writer goroutine owns every write. Replies to
// the client's own requests go on replies, which holds the reader while it
// is full (backpressure: the client is reading, just not yet this burst);
// events the agent pushes go on send, and a full send means the client is
// not reading at all: it is disconnected.
type conn struct {
	b       *Bridge
	ws      *websocket.Conn
	send    chan []byte
	replies chan []byte
	ctx     context.Context
	cancel  context.CancelFunc
	origin  string // canonical origin or NativeOrigin
	kind    originKind
	port    int // the agent's port the connection came in on
	ua      string
	slot    slot // the pool it counts against; guarded by Bridge.mu

	admitted atomic.Bool
	pairing  atomic.Bool // a pairing request is waiting for the cashier

	mu    sync.Mutex
	token string // the token this connection was admitted with, checked again per request

	// closing, closeCode and closeWhy are guarded by mu: the first kill
	// names the reason the writer puts in the close frame.
	closing   bool
	closeCode int
	closeWhy  string
}

func (b *Bridge) serveWS(w http.ResponseWriter, r *http.Request) {
	origin, kind, err := b.classify(r)
	if err != nil {
		b.refuse(w, r, http.StatusForbidden, CodeForbiddenOrigin, err)
		return
	}
	// The slot is taken before the upgrade, under the lock, so that
	// concurrent handshakes cannot all see room for one more.
	sl, code, err := b.reserve(origin, kind)
	if err != nil {
		if code == "shutting_down" {
			writeJSONError(w, http.StatusServiceUnavailable, code, err.Error())
			return
		}
		b.refuse(w, r, http.StatusServiceUnavailable, code, err)
		return
	}
	reserved := true
	defer func() {
		if reserved {
			b.mu.Lock()
			b.releaseLocked(sl)
			b.mu.Unlock()
		}
	}()
	ws, err := b.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	b.mu.Lock()
	ctx := b.ctx
	b.mu.Unlock()
	cctx, cancel := context.WithCancel(ctx)
	c := &conn{b: b, ws: ws, send: make(chan []byte, b.opts.SendQueue), replies: make(chan []byte, replyQueueLen),
		ctx: cctx, cancel: cancel, origin: origin, kind: kind, port: localPort(r), ua: clip(r.UserAgent(), 200), slot: sl}
	b.mu.Lock()
	if b.stopping || b.ctx.Err() != nil {
		b.mu.Unlock()
		cancel()
		_ = ws.Close()
		return
	}
	reserved = false // the connection holds it now; forget gives it back
	b.conns[c] = struct{}{}
	b.wg.Add(2) // reader (this goroutine) and writer
	b.mu.Unlock()
	b.metrics.inc(&b.metrics.connections)
	b.log.Debug("websocket connected", "origin", origin, "kind", kind, "remote", r.RemoteAddr)

	// A stuck write must not hold up shutdown: when the connection's
	// context ends, deadlines in the near past wake the reader and writer.
	stop := context.AfterFunc(cctx, func() {
		_ = ws.NetConn().SetDeadline(time.Now().Add(closeGrace))
	})
	go func() {
		defer b.wg.Done()
		c.writeLoop()
	}()
	stopHello := c.armHelloDeadline()
	c.readLoop()
	stopHello()
	stop()
	c.kill(websocket.CloseNormalClosure, "")
	b.forget(c)
	b.wg.Done()
	_, why := c.closeReason()
	b.log.Debug("websocket closed", "origin", origin, "reason", why)
}

// kill ends the connection with a close code and reason (first call wins).
func (c *conn) kill(code int, why string) {
	c.mu.Lock()
	if !c.closing {
		c.closing, c.closeCode, c.closeWhy = true, code, why
	}
	c.mu.Unlock()
	c.cancel()
}

// closeReason is the close frame to send; a connection whose context
// ended without a kill was stopped by the server's shutdown.
func (c *conn) closeReason() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.closing, c.closeCode, c.closeWhy = true, websocket.CloseGoingAway, "the agent is stopping"
	}
	return c.closeCode, c.closeWhy
}

// enqueue queues an event without blocking; a full queue means the client
// stopped reading, and it is dropped rather than slowing everyone down.
func (c *conn) enqueue(msg []byte) bool {
	if c.ctx.Err() != nil {
		return false
	}
	select {
	case c.send <- msg:
		return true
	default:
		c.b.metrics.inc(&c.b.metrics.slowClosed)
		c.b.log.Warn("websocket client too slow: send queue full, disconnecting", "origin", c.origin)
		c.kill(websocket.CloseTryAgainLater, CodeSlowClient+": send queue full, the client is not reading")
		return false
	}
}

// reply queues a reply to the client's own request. It waits while the
// reply queue is full — the writer drains it as fast as the client reads —
// and closes the connection as a slow client only when the writer makes no
// room for writeWait.
func (c *conn) reply(msg []byte) {
	select {
	case c.replies <- msg:
		return
	default:
	}
	t := time.NewTimer(c.b.t.writeWait)
	defer t.Stop()
	select {
	case c.replies <- msg:
	case <-c.ctx.Done():
	case <-t.C:
		c.b.metrics.inc(&c.b.metrics.slowClosed)
		c.b.log.Warn("websocket client too slow: replies not read, disconnecting", "origin", c.origin)
		c.kill(websocket.CloseTryAgainLater, CodeSlowClient+": replies not read, the client is not reading")
	}
}

// sendMsg sends a reply (see reply).
func (c *conn) sendMsg(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		c.b.log.Error("encoding a websocket message", "error", err)
		return
	}
	c.reply(data)
}

func (c *conn) sendError(id, code, message string) {
	c.b.metrics.errorReply(code)
	c.sendMsg(errorMsg(id, code, message))
}

func (c *conn) writeLoop() {
	t := c.b.t
	ping := time.NewTicker(t.pingPeriod)
	defer ping.Stop()
	defer c.ws.Close()
	for {
		select {
		case msg := <-c.replies:
			c.write(msg)
		case msg := <-c.send:
			c.write(msg)
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(t.writeWait)); err != nil {
				c.kill(closeSilently, "ping failed")
			}
		case <-c.ctx.Done():
			code, why := c.closeReason()
			if code == closeSilently {
				return
			}
			// Reasons are at most 123 bytes in a close frame.
			if len(why) > 120 {
				why = why[:120]
			}
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, why), time.Now().Add(closeGrace))
			return
		}
	}
}

func (c *conn) write(msg []byte) {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.b.t.writeWait))
	if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
		c.kill(closeSilently, "write failed")
	}
}

func (c *conn) readLoop() {
	t := c.b.t
	c.ws.SetReadLimit(hardReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(t.pongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(t.pongWait))
	})
	buf := make([]byte, 0, 1024)
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			c.readEnded(err)
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(t.pongWait))
		buf, err = readUpTo(r, buf[:0], MaxMessageSize)
		if err != nil && !errors.Is(err, errTooLarge) {
			c.readEnded(err)
			return
		}
		c.b.metrics.inc(&c.b.metrics.messagesIn)
		if errors.Is(err, errTooLarge) {
			// Skip the rest of the frame; past hardReadLimit gorilla
			// fails the read and the connection closes (1009).
			if _, err := io.Copy(io.Discard, r); err != nil {
				c.readEnded(err)
				return
			}
			c.sendError("", CodeTooLarge, "message larger than 16 KiB: requests are small JSON objects")
			continue
		}
		if mt != websocket.TextMessage {
			c.sendError("", CodeBadJSON, "binary frames are not part of the protocol: send JSON text messages")
			continue
		}
		c.handle(buf)
		if cap(buf) > 4*MaxMessageSize {
			buf = make([]byte, 0, 1024)
		}
	}
}

var errTooLarge = errors.New("message too large")

// closeSilently as a close code means: the connection is gone or the close
// handshake already happened, just drop it.
const closeSilently = 0

// readUpTo reads r into buf, failing with errTooLarge past limit bytes.
func readUpTo(r io.Reader, buf []byte, limit int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (c *conn) readEnded(err error) {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		// gorilla has answered the client's close frame already.
		c.kill(closeSilently, "closed by the client")
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has sent the close frame (1009) already.
		c.kill(closeSilently, CodeTooLarge+": message over 1 MiB")
	case c.ctx.Err() != nil:
		// Closing on purpose: keep the reason already set.
	default:
		c.kill(closeSilently, "read failed")
	}
}

// requestCtx bounds an engine call made for a request.
func (c *conn) requestCtx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, d)
}
