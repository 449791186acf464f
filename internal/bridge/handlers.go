package bridge

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/sale"
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
		SubtotalAmount: req.SubtotalAmount, SurchargeAmount: req.SurchargeAmount, Tax: req.Tax,
		CheckinDate: req.CheckinDate, CheckoutDate: req.CheckoutDate, RoomRate: req.RoomRate,
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
	var lookup *sale.Result
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
	replay, total, err := b.eng.Unacked(c.origin, maxReplay)
	if err != nil {
		c.sendEngineError(req.ID, err)
		return
	}
	if lookup != nil && lookup.State == sale.StateDone {
		dup := false
		for _, r := range replay {
			dup = dup || r.TransactionAPIID == lookup.TransactionAPIID
		}
		if !dup {
			replay = append(replay, *lookup)
		}
	}
	c.sendMsg(StatusMsg{Type: TypeStatus, ID: req.ID, Agent: b.agentInfo(), Readers: readerInfos(b.eng.ReaderInfos()),
		Active: active, Unacked: total})
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
		if rec.State != sale.StateDone {
			c.sendError(req.ID, CodeInvalid, "transaction "+rec.TransactionAPIID+" has no result yet")
			return
		}
		ids = append(ids, rec.TransactionAPIID)
	} else {
		unacked, err := b.eng.UnackedByClient(c.origin, req.ID)
		if err != nil {
			c.sendEngineError(req.ID, err)
			return
		}
		for _, r := range unacked {
			ids = append(ids, r.TransactionAPIID)
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

// pairHint is what admits origin to this agent, for not_paired messages:
// the agent's own advice (Options.PairHint) or the one for `posagent run`.
func (b *Bridge) pairHint(origin string) string {
	if b.opts.PairHint != nil {
		return b.opts.PairHint(origin)
	}
	return "ask the cashier to run `posagent pair --origin " + origin + "` or to add it to allowed_origins"
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
	var target *sale.Reader
	simulated := false
	for _, in := range b.eng.ReaderInfos() {
		if !in.Simulated || (req.Reader != "" && in.ID != req.Reader) || in.Status != sale.ReaderOK {
			continue
		}
		simulated = true
		mine, busy := c.saleOn(in.ID)
		// A card goes only into the caller's own sale. Unplugging feeds no
		// card: it may pull an idle reader too, never one another page's
		// sale waits on.
		if mine || req.Scenario == ScenarioUnplug && !busy {
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
	if req.Scenario != "" && !slices.Contains(scenarios, req.Scenario) {
		c.sendError(req.ID, CodeInvalid, "scenario must be one of "+strings.Join(scenarios, ", ")+" (or none for a good read)")
		return
	}
	if req.Scenario == ScenarioUnplug && req.Card == "" {
		req.Card = "visa" // no card is read; the shape check below wants one
	}
	if !testCardShape(req.Card) {
		// Never echo the value: it is a card number.
		c.sendError(req.ID, CodeInvalid, "card must be a brand (visa, mc, amex, disc) or a test card number of 12 to 19 digits")
		return
	}
	if target == nil {
		c.sendError(req.ID, CodeNotFound, "no sale of this page is waiting for a card on a simulated reader: start a sale first (simulate feeds only your own sale; unplug pulls a reader that is idle or holds your sale)")
		return
	}
	ctx, cancel := c.requestCtx(simulateTimeout)
	defer cancel()
	if err := b.opts.Simulator.Simulate(ctx, target.ID, req.Card, mode, req.Scenario); err != nil {
		c.sendError(req.ID, CodeSimulateFailed, scrubDigits(err.Error()))
		return
	}
	c.sendMsg(SimulatedMsg{Type: TypeSimulated, ID: req.ID, Reader: target.ID, EntryMode: string(mode)})
}

// saleOn reports whether a sale waits for a card on the reader (busy) and
// whether it is one this connection may act on (mine).
func (c *conn) saleOn(readerID string) (mine, busy bool) {
	for _, r := range c.b.eng.Active() {
		if r.ReaderID == readerID && r.State == sale.StatePending {
			return engine.MayAct(c.origin, c.kind == originSelf, r.Origin), true
		}
	}
	return false, false
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
