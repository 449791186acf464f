package bridge

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/net/publicsuffix"
)

// Admission limits. A web page can open websockets to the agent at will
// and browsers answer pings, so everything a connection that has not been
// admitted holds is bounded: its slot, its time, the cashier's attention.
const (
	// maxStrangers bounds the connections of origins the agent does not
	// know (neither its own page, allowed_origins nor paired), which can
	// only pair. They have their own pool: however many there are, the own
	// page and the known origins still get in.
	maxStrangers = 16
	// maxStrangersPerSite bounds one site's share of that pool, so that a
	// single site cannot keep every other newcomer from pairing.
	maxStrangersPerSite = 4
	// maxClientsPerOrigin bounds one origin's share of the main pool, so
	// that a buggy (or hostile) paired page cannot keep the own page and
	// the other POS pages out; 16 tabs is more than a counter uses.
	maxClientsPerOrigin = 16
	// helloWait is how long a connection may stay unadmitted (no hello, a
	// refused hello) unless a pairing question for it is open; then it is
	// closed with 1008.
	helloWait = 10 * time.Second
	// maxPairingQuestions bounds the pairing dialogs open at once, from
	// all sites together.
	maxPairingQuestions = 3
	// pairAbandonCooldown: a question whose page went away before the
	// cashier answered blocks new questions from its site this long, so
	// that opening and closing connections cannot flash dialogs in a loop
	// (shorter than pairDenyCooldown: a reload during the dialog is not a
	// refusal).
	pairAbandonCooldown = 10 * time.Second
	// refusalLogBurst refused handshakes are logged per refusalLogWindow;
	// the rest are counted and reported in one line.
	refusalLogBurst  = 10
	refusalLogWindow = 10 * time.Second
)

// siteOf is the registrable domain (eTLD+1) of an origin: x.evil.com and
// y.evil.com are one site, so they share one pairing rate limit and one
// share of the strangers' pool. IP addresses and single-label names
// (localhost) are their own site; the scheme and port do not matter.
func siteOf(origin string) string {
	if origin == NativeOrigin {
		return NativeOrigin
	}
	host := origin
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i >= 0 {
			return host[:i+1]
		}
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return host
	}
	if s, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return s
	}
	return host
}

// --- slots ---

// slot is the pool a connection counts against, reserved before the
// handshake is upgraded so that concurrent handshakes cannot overshoot.
type slot struct {
	stranger bool
	site     string // the strangers' pool is shared per site
	origin   string // the main pool per origin
}

// reserve takes a slot for a connection of origin, or says why not.
func (b *Bridge) reserve(origin string, kind originKind) (slot, string, error) {
	s := slot{stranger: !b.known(origin, kind), site: siteOf(origin), origin: origin}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx == nil || b.stopping || b.ctx.Err() != nil {
		return s, "shutting_down", fmt.Errorf("the agent is stopping")
	}
	if !s.stranger {
		if err := b.takeKnownLocked(origin); err != nil {
			return s, "too_many_clients", err
		}
		return s, "", nil
	}
	if b.nStrangers >= maxStrangers || b.strangerSites[s.site] >= maxStrangersPerSite {
		return s, "too_many_clients", fmt.Errorf("too many connections from origins that have not paired: try again later")
	}
	b.nStrangers++
	b.strangerSites[s.site]++
	return s, "", nil
}

// takeKnownLocked takes a slot of the main pool for origin.
func (b *Bridge) takeKnownLocked(origin string) error {
	if b.nKnown >= b.opts.MaxClients {
		return fmt.Errorf("too many websocket connections (%d): close some tabs", b.opts.MaxClients)
	}
	if b.perOrigin[origin] >= maxClientsPerOrigin {
		return fmt.Errorf("too many websocket connections from %s (%d): close some tabs", origin, maxClientsPerOrigin)
	}
	b.nKnown++
	b.perOrigin[origin]++
	return nil
}

// releaseLocked gives a slot back.
func (b *Bridge) releaseLocked(s slot) {
	if !s.stranger {
		b.nKnown--
		if b.perOrigin[s.origin]--; b.perOrigin[s.origin] <= 0 {
			delete(b.perOrigin, s.origin)
		}
		return
	}
	b.nStrangers--
	if b.strangerSites[s.site]--; b.strangerSites[s.site] <= 0 {
		delete(b.strangerSites, s.site)
	}
}

// known reports whether a connection of origin goes to the main pool: the
// agent's own page, an allowed origin, or an origin with a pairing (it
// still has to present its token). Browsers cannot forge Origin, so no web
// page can take these slots.
func (b *Bridge) known(origin string, kind originKind) bool {
	if kind == originSelf || kind == originAllowed {
		return true
	}
	if b.pairings != nil && b.pairings.Has(origin) {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.once[origin]) > 0
}

// promote moves an admitted stranger to the main pool; false when that is
// full.
func (c *conn) promote() bool {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if !c.slot.stranger {
		return true
	}
	if b.takeKnownLocked(c.origin) != nil {
		return false
	}
	b.releaseLocked(c.slot)
	c.slot = slot{origin: c.origin}
	return true
}

// armHelloDeadline closes the connection if it is not admitted within
// helloWait (and not waiting for the cashier).
func (c *conn) armHelloDeadline() (stop func()) {
	var t *time.Timer
	t = time.AfterFunc(c.b.t.helloWait, func() {
		switch {
		case c.admitted.Load() || c.ctx.Err() != nil:
		case c.pairing.Load():
			t.Reset(c.b.t.helloWait)
		default:
			c.kill(websocket.ClosePolicyViolation, CodeNotPaired+": not admitted within "+c.b.t.helloWait.String()+
				" of connecting: send hello (with the token) first")
		}
	})
	return func() { t.Stop() }
}

// --- refusals ---

// refusalLog logs refused requests at most refusalLogBurst times per
// refusalLogWindow and counts the rest, so that a page that hammers the
// agent cannot flood the log (or the disk under journald).
type refusalLog struct {
	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

func (b *Bridge) logRefusal(msg string, args ...any) {
	l := &b.refusals
	now := b.now()
	l.mu.Lock()
	if now.Sub(l.start) >= refusalLogWindow || now.Before(l.start) {
		if l.suppressed > 0 {
			b.log.Warn("refused requests not logged", "count", l.suppressed, "window", refusalLogWindow.String())
		}
		l.start, l.n, l.suppressed = now, 0, 0
	}
	ok := l.n < refusalLogBurst
	if ok {
		l.n++
	} else if l.suppressed++; l.suppressed == 1 {
		// The count is reported when the window ends, also when no
		// refusal follows to roll it over.
		time.AfterFunc(refusalLogWindow, b.flushRefusals)
	}
	l.mu.Unlock()
	if ok {
		b.log.Warn(msg, args...)
	}
}

// flushRefusals reports the refusals not logged so far.
func (b *Bridge) flushRefusals() {
	l := &b.refusals
	l.mu.Lock()
	n := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if n > 0 {
		b.log.Warn("refused requests not logged", "count", n, "window", refusalLogWindow.String())
	}
}

// refuse answers a refused handshake or request, counted and logged.
func (b *Bridge) refuse(w http.ResponseWriter, r *http.Request, status int, code string, err error) {
	b.metrics.reject(code)
	b.logRefusal("request refused", "code", code, "origin", clip(r.Header.Get("Origin"), 100), "host", clip(r.Host, 100),
		"path", clip(r.URL.Path, 100), "remote", r.RemoteAddr, "error", err)
	writeJSONError(w, status, code, err.Error())
}

// --- Private Network Access ---

// servePreflight answers CORS preflights. Chrome's Private Network Access
// preflight (Access-Control-Request-Private-Network: true) gets
// Access-Control-Allow-Private-Network only for an origin that is
// admitted without asking: the own page when it is trusted, allowed
// origins and paired origins. Others pair through the websocket first.
func (b *Bridge) servePreflight(w http.ResponseWriter, r *http.Request) {
	origin, kind, err := b.classify(r)
	if err != nil || kind == originNative {
		if err == nil {
			err = fmt.Errorf("a preflight needs an Origin")
		}
		b.refuse(w, r, http.StatusForbidden, CodeForbiddenOrigin, err)
		return
	}
	if b.known(origin, kind) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		h.Set("Access-Control-Allow-Methods", "GET")
		h.Set("Vary", "Origin, Access-Control-Request-Private-Network")
		h.Set("Access-Control-Max-Age", "600")
		if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") {
			h.Set("Access-Control-Allow-Private-Network", "true")
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	b.refuse(w, r, http.StatusForbidden, CodeForbiddenOrigin,
		fmt.Errorf("%s is not paired with this agent: pair it first (the websocket's hello, or `posagent pair --origin %s`)", origin, origin))
}

// tokenlessOK reports whether a connection of kind is admitted at hello
// without a token. That trusts every process on this computer, which can
// send any Origin: the own page only where it is trusted (demo, or listed
// in allowed_origins), allowed origins always (kiosks: documented), and
// nobody at all when the agent listens beyond loopback, where the
// "computer" is the whole network and Host and Origin are anyone's to
// write.
func (b *Bridge) tokenlessOK(kind originKind, port int) bool {
	if b.lan.Load() {
		return false
	}
	switch kind {
	case originSelf:
		if b.opts.TrustOwnPage {
			return true
		}
		for _, o := range []string{"http://127.0.0.1:", "http://localhost:", "http://[::1]:"} {
			if b.allowed[o+strconv.Itoa(port)] {
				return true
			}
		}
		return false
	case originAllowed:
		return true
	}
	return false
}

// --- hello and pairing ---

func (c *conn) hello(req Request) {
	b := c.b
	if b.tokenlessOK(c.kind, c.port) {
		c.admitOrFull(req.ID, "", func() { c.welcome(req.ID) })
		return
	}
	if req.Token != "" {
		if b.tokenValid(c.origin, req.Token) {
			c.admitOrFull(req.ID, req.Token, func() { c.welcome(req.ID) })
			return
		}
		c.admitted.Store(false)
		b.logRefusal("pairing token refused", "origin", c.origin)
		c.sendError(req.ID, CodeNotPaired, "this token is not valid for "+c.origin+
			" (revoked, or approved once before the agent restarted): send hello without a token to pair again")
		return
	}
	if c.admitted.Load() {
		c.welcome(req.ID)
		return
	}
	if b.pairings != nil {
		token, ok, err := b.pairings.Claim(c.origin)
		if err != nil {
			b.log.Error("pairing store", "error", err)
		} else if ok {
			b.log.Info("origin paired (approved ahead of time)", "origin", c.origin)
			c.paired(req.ID, token, PairAlways)
			return
		}
	}
	if b.opts.Pairer == nil {
		c.sendError(req.ID, CodeNotPaired, c.origin+" is not paired with this agent: "+b.pairHint(c.origin)+", then send hello again")
		return
	}
	if !c.pairing.CompareAndSwap(false, true) {
		c.sendError(req.ID, CodeNotPaired, "a pairing request for "+c.origin+" is already waiting for the cashier")
		return
	}
	w, why := b.question(c)
	if w == nil {
		c.pairing.Store(false)
		c.sendError(req.ID, CodeNotPaired, why+", or "+b.pairHint(c.origin))
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer c.pairing.Store(false)
		c.awaitPairing(req.ID, w)
	}()
}

// admitOrFull admits the connection (moving it out of the strangers'
// pool) and calls then, or refuses it when the main pool is full.
func (c *conn) admitOrFull(id, token string, then func()) {
	if !c.promote() {
		c.sendError(id, "too_many_clients", "too many websocket connections: close some tabs")
		c.kill(websocket.CloseTryAgainLater, "too_many_clients")
		return
	}
	c.admit(token)
	then()
}

// pairWait is one question to the cashier that several connections of the
// same origin may be waiting for. It dies when the last of them closes.
type pairWait struct {
	site     string
	done     chan struct{}
	decision PairingDecision
	waiters  int // guarded by Bridge.mu
	cancel   context.CancelFunc
}

// question joins the open question of c's origin or opens one, within the
// limits: one open question per site, maxPairingQuestions in all, and no
// new question while the site cools down after a refusal. Nil and why
// when refused.
func (b *Bridge) question(c *conn) (*pairWait, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w := b.pairing[c.origin]; w != nil {
		w.waiters++
		return w, ""
	}
	site := siteOf(c.origin)
	if until, ok := b.denied[site]; ok && b.now().Before(until) {
		return nil, "the cashier refused " + site + " a moment ago (or its page left before the answer): try again later"
	}
	for _, w := range b.pairing {
		if w.site == site {
			return nil, "another page of " + site + " is already waiting for the cashier: try again after that question"
		}
	}
	if len(b.pairing) >= maxPairingQuestions {
		return nil, "the cashier already has pairing questions open: try again in a minute"
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.t.pairingTimeout)
	w := &pairWait{site: site, done: make(chan struct{}), waiters: 1, cancel: cancel}
	b.pairing[c.origin] = w
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer cancel()
		b.ask(ctx, c.origin, c.ua, w)
	}()
	return w, ""
}

// ask puts one question to the Pairer and records the answer.
func (b *Bridge) ask(ctx context.Context, origin, ua string, w *pairWait) {
	b.log.Info("pairing request: asking the cashier", "origin", origin)
	d, err := b.opts.Pairer.RequestPairing(ctx, PairingRequest{Origin: origin, UserAgent: ua})
	if err != nil || ctx.Err() != nil {
		if err != nil && ctx.Err() == nil {
			b.log.Warn("pairing request failed", "origin", origin, "error", err)
		}
		d = PairDeny
	}
	b.mu.Lock()
	abandoned := w.waiters == 0
	switch {
	case d != PairDeny:
		delete(b.denied, w.site)
	case abandoned:
		b.denied[w.site] = b.now().Add(b.t.pairAbandonCooldown)
	default:
		b.denied[w.site] = b.now().Add(b.t.pairDenyCooldown)
	}
	delete(b.pairing, origin)
	w.decision = d
	close(w.done)
	b.mu.Unlock()
	b.log.Info("pairing decided", "origin", origin, "decision", d, "page_gone", abandoned)
	if abandoned && d == PairAlways && b.pairings != nil {
		// The page left as the cashier said "always": its next tokenless
		// hello pairs without asking again.
		if err := b.pairings.GrantClaim(origin); err != nil {
			b.log.Error("pairing store", "error", err)
		}
	}
}

// awaitPairing waits for the cashier's answer and answers the hello that
// asked; if the connection closes first it leaves the question, which
// dies with its last connection (the dialog closes).
func (c *conn) awaitPairing(id string, w *pairWait) {
	b := c.b
	select {
	case <-w.done:
	case <-c.ctx.Done():
		b.mu.Lock()
		w.waiters--
		if w.waiters == 0 {
			w.cancel()
		}
		b.mu.Unlock()
		return
	}
	switch w.decision {
	case PairAlways:
		if b.pairings == nil {
			b.log.Warn("no pairing store: an \"always\" approval lasts until the agent restarts", "origin", c.origin)
			c.paired(id, b.onceToken(c.origin), PairOnce)
			return
		}
		token, err := b.pairings.AddToken(c.origin)
		if err != nil {
			b.log.Error("pairing store", "error", err)
			c.sendError(id, CodeInternal, "the approval could not be saved: "+err.Error())
			return
		}
		c.paired(id, token, PairAlways)
	case PairOnce:
		c.paired(id, b.onceToken(c.origin), PairOnce)
	default:
		// The question is over before the page hears so: a hello sent on
		// the refusal meets the cool-down, not "already waiting".
		c.pairing.Store(false)
		c.sendError(id, CodeNotPaired, "the cashier did not approve "+c.origin+": "+b.pairHint(c.origin))
	}
}

func (c *conn) paired(id, token string, scope PairingDecision) {
	c.admitOrFull(id, token, func() {
		c.sendMsg(PairedMsg{Type: TypePaired, ID: id, Origin: c.origin, Token: token, Scope: scope.String()})
		c.welcome(id)
	})
}

func (c *conn) admit(token string) {
	c.mu.Lock()
	c.token = token
	c.mu.Unlock()
	c.admitted.Store(true)
}

func (c *conn) welcome(id string) {
	c.sendMsg(WelcomeMsg{Type: TypeWelcome, ID: id, Origin: c.origin, Agent: c.b.agentInfo(), Readers: readerInfos(c.b.eng.ReaderInfos())})
}

// stillPaired checks a token-admitted connection's token again, so that a
// revocation (here or by `posagent pair --revoke`) takes effect at once.
func (c *conn) stillPaired() bool {
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	return token == "" || c.b.tokenValid(c.origin, token)
}

// tokenValid checks a token against the store and the "once" tokens.
func (b *Bridge) tokenValid(origin, token string) bool {
	if b.pairings != nil && b.pairings.Valid(origin, token) {
		return true
	}
	if token == "" || len(token) > maxTokenLen {
		return false
	}
	want := hashToken(token)
	b.mu.Lock()
	defer b.mu.Unlock()
	ok := false
	for _, h := range b.once[origin] {
		ok = constantTimeEqual(h, want) || ok
	}
	return ok
}

// onceToken makes a token valid until the agent stops.
func (b *Bridge) onceToken(origin string) string {
	token, hash := newToken()
	b.mu.Lock()
	list := append(b.once[origin], hash)
	if len(list) > maxOnceTokens {
		list = list[len(list)-maxOnceTokens:]
	}
	b.once[origin] = list
	b.mu.Unlock()
	return token
}
