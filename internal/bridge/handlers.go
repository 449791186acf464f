package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/reader"
)

// maxReplay bounds the results one status replays, so that a page with a
// long backlog cannot overflow its own send queue; it acknowledges them
// and asks again.
const maxReplay = 32

// maxOnceTokens bounds the in-memory tokens of one origin.
const maxOnceTokens = 16

// handle answers one message. Every refusal is an error message; nothing a
// client sends ends the connection.
func (c *conn) handle(data []byte) {
	req, perr := DecodeRequest(data)
	if perr != nil {
		c.sendError(perr.ID, perr.Code, perr.Message)
		return
	}
	if req.Type == TypeHello {
		c.hello(req)
		return
	}
	if !c.admitted.Load() {
		if c.pairing.Load() {
			c.sendError(req.ID, CodeNotPaired, "waiting for the cashier to approve "+c.origin)
			return
		}
		c.sendError(req.ID, CodeNotPaired, "send hello first")
		return
	}
	if !c.stillPaired() {
		c.admitted.Store(false)
		c.sendError(req.ID, CodeNotPaired, "the pairing of "+c.origin+" was revoked: send hello without a token to pair again")
		return
	}
	switch req.Type {
	case TypeSale:
		c.sale(req)
	case TypeRefund, TypeVoid, TypeComplete, TypeAuthIncrement, TypePartialReversal:
		c.followUp(req)
	case TypeCancel:
		c.cancelSale(req)
	case TypeStatus:
		c.status(req)
	case TypeAck:
		c.ack(req)
	case TypeSimulate:
		c.simulate(req)
	}
}

// sendEngineError passes the engine's code and message on; anything else
// is an internal error, with card-shaped text masked.
func (c *conn) sendEngineError(id string, err error) {
	var ee *engine.Error
	if errors.As(err, &ee) {
		c.sendError(id, ee.Code, ee.Message)
		return
	}
	c.b.log.Error("request failed", "origin", c.origin, "id", id, "error", err)
	c.sendError(id, CodeInternal, "the agent could not do this: "+err.Error())
}

// --- admission ---

func (c *conn) hello(req Request) {
	b := c.b
	if c.kind == originSelf || c.kind == originAllowed {
		c.admit("")
		c.welcome(req.ID)
		return
	}
	if req.Token != "" {
		if b.tokenValid(c.origin, req.Token) {
			c.admit(req.Token)
			c.welcome(req.ID)
			return
		}
		c.admitted.Store(false)
		b.log.Info("pairing token refused", "origin", c.origin)
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
		c.sendError(req.ID, CodeNotPaired, c.origin+" is not paired with this agent: ask the cashier to run `posagent pair --origin "+
			c.origin+"` or to add it to allowed_origins, then send hello again")
		return
	}
	b.mu.Lock()
	last, denied := b.denied[c.origin]
	b.mu.Unlock()
	if denied && b.now().Sub(last) < b.t.pairDenyCooldown {
		c.sendError(req.ID, CodeNotPaired, "the cashier refused "+c.origin+" a moment ago: try again later")
		return
	}
	if !c.pairing.CompareAndSwap(false, true) {
		c.sendError(req.ID, CodeNotPaired, "a pairing request for "+c.origin+" is already waiting for the cashier")
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer c.pairing.Store(false)
		c.pair(req.ID)
	}()
}

// pair asks the cashier and answers the hello that asked.
func (c *conn) pair(id string) {
	b := c.b
	decision := b.askCashier(c.origin, c.ua)
	if c.ctx.Err() != nil {
		// The page is gone (reloaded?): an "always" lets its next tokenless
		// hello pair without asking again.
		if decision == PairAlways && b.pairings != nil {
			if err := b.pairings.GrantClaim(c.origin); err != nil {
				b.log.Error("pairing store", "error", err)
			}
		}
		return
	}
	switch decision {
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
		c.sendError(id, CodeNotPaired, "the cashier did not approve "+c.origin)
	}
}

func (c *conn) paired(id, token string, scope PairingDecision) {
	c.admit(token)
	c.sendMsg(PairedMsg{Type: TypePaired, ID: id, Origin: c.origin, Token: token, Scope: scope.String()})
	c.welcome(id)
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

// pairWait is one question to the cashier that several connections of the
// same origin may be waiting for.
type pairWait struct {
	done     chan struct{}
	decision PairingDecision
}

// askCashier asks the Pairer once per origin at a time; connections of
// the same origin that say hello meanwhile share the answer. The question
// outlives the asking page (a reload must not dismiss the dialog) but not
// the agent or pairingTimeout.
func (b *Bridge) askCashier(origin, ua string) PairingDecision {
	b.mu.Lock()
	if w := b.pairing[origin]; w != nil {
		b.mu.Unlock()
		<-w.done
		return w.decision
	}
	w := &pairWait{done: make(chan struct{})}
	b.pairing[origin] = w
	sctx := b.ctx
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(sctx, b.t.pairingTimeout)
	defer cancel()
	b.log.Info("pairing request: asking the cashier", "origin", origin)
	d, err := b.opts.Pairer.RequestPairing(ctx, PairingRequest{Origin: origin, UserAgent: ua})
	if err != nil || ctx.Err() != nil {
		if err != nil {
			b.log.Warn("pairing request failed", "origin", origin, "error", err)
		}
		d = PairDeny
	}
	b.log.Info("pairing decided", "origin", origin, "decision", d)
	b.mu.Lock()
	if d == PairDeny {
		b.denied[origin] = b.now()
	} else {
		delete(b.denied, origin)
	}
	delete(b.pairing, origin)
	w.decision = d
	close(w.done)
	b.mu.Unlock()
	return d
}

// --- sales ---

func (c *conn) sale(req Request) {
	b := c.b
	key := ownerKey{c.origin, req.ID}
	if !b.claimOwner(key, c) {
		c.sendError(req.ID, engine.CodeDuplicateID, fmt.Sprintf("request id %q belongs to a sale in progress: use a new id for each sale", req.ID))
		return
	}
	ctx, cancel := c.requestCtx(requestTimeout)
	defer cancel()
	rec, err := b.eng.StartSale(ctx, engine.SaleRequest{
		ClientID: req.ID, Origin: c.origin, Action: req.Action, Amount: req.Amount, TipAmount: req.TipAmount,
		OrderNum: req.OrderNum, Description: req.Description, TransactionAPIID: req.TransactionAPIID, ReaderID: req.Reader,
		CardToken: req.CardToken, ReceiptEmail: req.ReceiptEmail, ReceiptPhone: req.ReceiptPhone,
		AuthCode: req.AuthCode, BillingZip: req.BillingZip, BillingStreet: req.BillingStreet,
	})
	if err != nil {
		b.releaseOwner(key, c)
		c.sendEngineError(req.ID, err)
		return
	}
	c.sendMsg(AcceptedMsg{Type: TypeAccepted, ID: req.ID, TransactionAPIID: rec.TransactionAPIID, Action: rec.Action, Amount: rec.Amount})
}

func (c *conn) followUp(req Request) {
	b := c.b
	key := ownerKey{c.origin, req.ID}
	if !b.claimOwner(key, c) {
		c.sendError(req.ID, engine.CodeDuplicateID, fmt.Sprintf("request id %q belongs to a transaction in progress: use a new id", req.ID))
		return
	}
	ctx, cancel := c.requestCtx(requestTimeout)
	defer cancel()
	rec, err := b.eng.FollowUp(ctx, engine.FollowUpRequest{
		ClientID: req.ID, Origin: c.origin, Action: req.Type, TransactionID: req.TransactionID,
		Amount: req.Amount, TransactionAPIID: req.TransactionAPIID, OwnPage: c.kind == originSelf,
	})
	if err != nil {
		b.releaseOwner(key, c)
		c.sendEngineError(req.ID, err)
		return
	}
	c.sendMsg(AcceptedMsg{Type: TypeAccepted, ID: req.ID, TransactionAPIID: rec.TransactionAPIID, Action: rec.Action, Amount: rec.Amount})
}

// cancelSale cancels the sale the request id names; its reply is the
// sale's result (outcome cancelled), sent to the sale's owner and to the
// connection that cancelled it.
func (c *conn) cancelSale(req Request) {
	b := c.b
	key := ownerKey{c.origin, req.ID}
	added := b.addOwner(key, c)
	ctx, cancel := c.requestCtx(requestTimeout)
	defer cancel()
	if _, err := b.eng.Cancel(ctx, c.origin, req.ID, req.TransactionAPIID); err != nil {
		if added {
			b.releaseOwner(key, c)
		}
		c.sendEngineError(req.ID, err)
	}
}

// --- status and acknowledgements ---

func (c *conn) status(req Request) {
	b := c.b
	var lookup *journal.Record
	if req.TransactionAPIID != "" {
		rec, found, err := b.eng.Get(req.TransactionAPIID)
		if err != nil {
			c.sendEngineError(req.ID, err)
			return
		}
		if !found || rec.Origin != c.origin {
			c.sendError(req.ID, CodeNotFound, "no transaction "+clip(req.TransactionAPIID, 40)+" from "+c.origin)
			return
		}
		lookup = &rec
	}
	active := []ActiveSale{}
	for _, r := range b.eng.Active() {
		if r.Origin != c.origin {
			continue
		}
		active = append(active, ActiveSale{ID: r.ClientID, TransactionAPIID: r.TransactionAPIID, Action: r.Action, Amount: r.Amount, State: string(r.State)})
		b.adopt(ownerKey{c.origin, r.ClientID}, c)
	}
	unacked, err := b.eng.Unacked()
	if err != nil {
		c.sendEngineError(req.ID, err)
		return
	}
	var mine []journal.Record
	for _, r := range unacked {
		if r.Origin == c.origin {
			mine = append(mine, r)
		}
	}
	replay := mine
	if len(replay) > maxReplay {
		replay = replay[:maxReplay]
	}
	if lookup != nil && lookup.State == journal.StateDone {
		dup := false
		for _, r := range replay {
			dup = dup || r.TransactionAPIID == lookup.TransactionAPIID
		}
		if !dup {
			replay = append(replay, *lookup)
		}
	}
	c.sendMsg(StatusMsg{Type: TypeStatus, ID: req.ID, Agent: b.agentInfo(), Readers: readerInfos(b.eng.ReaderInfos()),
		Active: active, Unacked: len(mine)})
	for i := range replay {
		c.sendMsg(resultMsg(&replay[i], true))
	}
}

func (c *conn) ack(req Request) {
	b := c.b
	var ids []string
	if req.TransactionAPIID != "" {
		rec, found, err := b.eng.Get(req.TransactionAPIID)
		if err != nil {
			c.sendEngineError(req.ID, err)
			return
		}
		if !found || rec.Origin != c.origin {
			c.sendError(req.ID, CodeNotFound, "no transaction "+clip(req.TransactionAPIID, 40)+" from "+c.origin)
			return
		}
		if rec.State != journal.StateDone {
			c.sendError(req.ID, CodeInvalid, "transaction "+rec.TransactionAPIID+" has no result yet")
			return
		}
		ids = append(ids, rec.TransactionAPIID)
	} else {
		unacked, err := b.eng.Unacked()
		if err != nil {
			c.sendEngineError(req.ID, err)
			return
		}
		for _, r := range unacked {
			if r.Origin == c.origin && r.ClientID == req.ID {
				ids = append(ids, r.TransactionAPIID)
			}
		}
		if len(ids) == 0 {
			c.sendError(req.ID, CodeNotFound, fmt.Sprintf("no unacknowledged result for request id %q", req.ID))
			return
		}
	}
	for _, id := range ids {
		if err := b.eng.Ack(id); err != nil {
			c.sendEngineError(req.ID, err)
			return
		}
	}
	c.sendMsg(AckedMsg{Type: TypeAcked, ID: req.ID, TransactionAPIIDs: ids})
}

// --- the simulator ---

func (c *conn) simulate(req Request) {
	b := c.b
	if b.opts.Simulator == nil {
		c.sendError(req.ID, CodeNotSimulated, "this agent has no simulated reader: run posagent demo to try cards")
		return
	}
	if !b.opts.SandboxGateway {
		c.sendError(req.ID, CodeNotSimulated, "simulated cards go to the sandbox gateway only")
		return
	}
	// The card goes to the sale waiting on the reader: it must be one this
	// page may act on (engine.MayAct), or a page could finish another
	// page's sale with a card of its choosing. So the target is the
	// simulated reader where such a sale waits.
	var target *reader.Info
	simulated := false
	for _, in := range b.eng.ReaderInfos() {
		if !in.Simulated || (req.Reader != "" && in.ID != req.Reader) || in.Status != reader.StatusOK {
			continue
		}
		simulated = true
		if c.waitingSaleOn(in.ID) {
			target = &in
			break
		}
	}
	if !simulated {
		c.sendError(req.ID, CodeNotSimulated, "no simulated reader is attached")
		return
	}
	mode := card.EntryMode(req.EntryMode)
	switch mode {
	case "":
		mode = card.EntrySwiped
	case card.EntrySwiped, card.EntryChip, card.EntryProximity, card.EntryFallback:
	default:
		c.sendError(req.ID, CodeInvalid, "entry_mode must be S (swipe), C (chip), P (tap) or F (fallback swipe)")
		return
	}
	if !testCardShape(req.Card) {
		// Never echo the value: it is a card number.
		c.sendError(req.ID, CodeInvalid, "card must be a brand (visa, mc, amex, disc) or a test card number of 12 to 19 digits")
		return
	}
	if target == nil {
		c.sendError(req.ID, CodeNotFound, "no sale of this page is waiting for a card on a simulated reader: start a sale first (simulate feeds only your own sale)")
		return
	}
	ctx, cancel := c.requestCtx(simulateTimeout)
	defer cancel()
	if err := b.opts.Simulator.Simulate(ctx, target.ID, req.Card, mode); err != nil {
		c.sendError(req.ID, CodeSimulateFailed, scrubDigits(err.Error()))
		return
	}
	c.sendMsg(SimulatedMsg{Type: TypeSimulated, ID: req.ID, Reader: target.ID, EntryMode: string(mode)})
}

// waitingSaleOn reports whether the sale waiting for a card on the reader
// is one this connection's origin may act on.
func (c *conn) waitingSaleOn(readerID string) bool {
	for _, r := range c.b.eng.Active() {
		if r.ReaderID == readerID && r.State == journal.StatePending {
			return engine.MayAct(c.origin, c.kind == originSelf, r.Origin)
		}
	}
	return false
}

func testCardShape(s string) bool {
	// A brand name ("visa", "mc", "amex", "disc"): the simulator makes up a
	// test number of that brand, so pages need not carry card numbers.
	if n := len(s); n >= 2 && n <= 10 && strings.Trim(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz") == "" {
		return true
	}
	if len(s) < 12 || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// scrubDigits masks every run of 12 or more digits: the simulator's errors
// must not carry the card number back, Luhn-valid or not.
func scrubDigits(s string) string {
	out := []byte(s)
	run := 0
	for i := 0; i <= len(out); i++ {
		if i < len(out) && out[i] >= '0' && out[i] <= '9' {
			run++
			continue
		}
		if run >= 12 {
			for j := i - run; j < i-4; j++ {
				out[j] = '*'
			}
		}
		run = 0
	}
	return string(out)
}
