package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// SaleRequest asks for a card sale or authorization.
type SaleRequest struct {
	ClientID string // the client's request id, echoed in every update
	Origin   string
	// Action is "sale" (default) or "authonly".
	Action      string
	Amount      string
	TipAmount   string
	OrderNum    string
	Description string
	// TransactionAPIID is optional: a client that supplies its own can
	// look the sale up after losing the connection.
	TransactionAPIID string
	// ReaderID is optional: default is the first usable reader.
	ReaderID string
	// CardToken charges a stored card (a PaidYET card token, a Paya
	// Connect account_vault_id) instead of reading one: no reader is used.
	CardToken string
	// ReceiptEmail and ReceiptPhone have the gateway send the customer a
	// receipt (gateways with Capabilities.Receipts: PaidYET).
	ReceiptEmail, ReceiptPhone string

	// Fields a product's merchant settings may require (docs/protocol.md,
	// "Merchant settings"): the breakdown of amount + tip_amount into
	// subtotal, surcharge and tax, and a lodging stay. Empty: not sent.
	SubtotalAmount, SurchargeAmount, Tax string
	CheckinDate, CheckoutDate, RoomRate  string
	// AuthCode is a force's voice authorization code; BillingZip and
	// BillingStreet are an avsonly's address to check (actions.go).
	AuthCode, BillingZip, BillingStreet string
}

// StartSale creates the sale, journals it, arms the reader and returns the
// pending record. The outcome arrives as updates.
func (e *Engine) StartSale(ctx context.Context, req SaleRequest) (sale.Result, error) {
	rec, err := e.startSale(ctx, req)
	return resultOf(&rec), err
}

func (e *Engine) startSale(ctx context.Context, req SaleRequest) (journal.Record, error) {
	action := gateway.Action(req.Action)
	switch action {
	case "":
		action = gateway.ActionSale
	case gateway.ActionSale, gateway.ActionAuthOnly, gateway.ActionForce, gateway.ActionAVSOnly:
	default:
		return journal.Record{}, errorf(CodeInvalid, "action %q: use sale, authonly, force or avsonly", req.Action)
	}
	extra, err := e.checkCardAction(action, &req)
	if err != nil {
		return journal.Record{}, err
	}
	amount, err := parseAmount("amount", req.Amount, action == gateway.ActionAVSOnly)
	if err != nil {
		return journal.Record{}, err
	}
	var tip gateway.Amount
	if req.TipAmount != "" {
		if tip, err = parseAmount("tip_amount", req.TipAmount, true); err != nil {
			return journal.Record{}, err
		}
	}
	// The cap is on what is charged: the gateway is sent amount + tip.
	if amount+tip > maxAmount {
		return journal.Record{}, errorf(CodeInvalid, "amount %s plus tip_amount %s is %s, more than %s: check for a typo", amount, tip, amount+tip, maxAmount)
	}
	if err := checkText("order_num", req.OrderNum, 64); err != nil {
		return journal.Record{}, err
	}
	if err := checkText("description", req.Description, 64); err != nil {
		return journal.Record{}, err
	}
	details, err := parseDetails(req, amount+tip)
	if err != nil {
		return journal.Record{}, err
	}
	if pc, ok := e.gw.(gateway.Prechecker); ok {
		pre := gateway.Request{Action: action, Amount: amount + tip, OrderNum: req.OrderNum,
			Description: req.Description, TransactionAPIID: req.TransactionAPIID, AuthCode: extra.authCode, Billing: extra.billing}
		details.apply(&pre)
		if err := pc.Precheck(pre); err != nil {
			return journal.Record{}, precheckError(err)
		}
	}
	if err := e.checkReceipt(req); err != nil {
		return journal.Record{}, err
	}
	if req.CardToken != "" {
		if !e.life.enter() {
			return journal.Record{}, errorf(CodeInvalid, "the agent is shutting down")
		}
		defer e.life.leave()
		return e.startTokenSale(req, action, amount, tip)
	}
	if !e.gw.Capabilities().EncryptedCardPresent {
		// Refused before the reader is armed: no card is asked for.
		why := "it takes no encrypted card data"
		if l := e.gw.Capabilities().Limitations; len(l) > 0 {
			why = l[0]
		}
		return journal.Record{}, errorf(CodeUnsupported, "the %s gateway cannot take a card from a reader (%s): nothing was started; charge a stored card with card_token instead",
			e.gw.Name(), why)
	}

	if !e.life.enter() {
		return journal.Record{}, errorf(CodeNoReader, "the agent is shutting down")
	}
	defer e.life.leave()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return journal.Record{}, errorf(CodeNoReader, "the agent is shutting down")
	}
	if e.paused {
		return journal.Record{}, errorf(CodePaused, "the cashier paused new sales at the counter: resume from the posagent window or tray")
	}
	readerID, info, err := e.pickReader(req.ReaderID)
	if err != nil {
		return journal.Record{}, err
	}
	if cur, ok := e.active[readerID]; ok {
		// Name the sale only to the origin that owns it: another page's
		// ids are not this page's business.
		if cur.rec.Origin == req.Origin {
			return journal.Record{}, errorf(CodeBusy, "the reader is busy with sale %s (request %s): cancel it or wait for its result", cur.rec.TransactionAPIID, cur.rec.ClientID)
		}
		return journal.Record{}, errorf(CodeBusy, "the reader is busy with another sale: wait for it to finish, then try again")
	}
	apiID := req.TransactionAPIID
	if apiID == "" {
		apiID = e.cfg.NewID()
	} else if err := checkText("transaction_api_id", apiID, 36); err != nil {
		return journal.Record{}, err
	}
	rec := journal.Record{
		TransactionAPIID: apiID, ClientID: req.ClientID, Origin: req.Origin, Action: string(action),
		Amount: amount.String(), OrderNum: req.OrderNum, Description: req.Description,
		ReaderID: readerID, State: sale.StatePending, Created: time.Now().UTC(),
	}
	if tip != 0 {
		rec.TipAmount = tip.String()
	}
	rec.SubtotalAmount, rec.SurchargeAmount, rec.Tax = req.SubtotalAmount, req.SurchargeAmount, req.Tax
	rec.CheckinDate, rec.CheckoutDate, rec.RoomRate = req.CheckinDate, req.CheckoutDate, req.RoomRate
	// One transaction checks that the id is new and records the sale: a
	// record that cannot be read is an error, never taken for "no record".
	prev, created, err := e.j.Create(rec)
	if err != nil {
		return journal.Record{}, errorf(CodeJournal, "could not record the sale, nothing was started: %v", err)
	}
	if !created {
		return journal.Record{}, duplicateIDError(apiID, req.Origin, prev.Origin)
	}
	rec = prev
	s := &inflight{rec: rec, readerID: readerID, waiting: true, extra: extra}
	e.active[readerID] = s
	e.byAPIID[apiID] = s
	s.timer = time.AfterFunc(e.cfg.CardTimeout, func() { e.cardTimeout(apiID) })
	if e.rd != nil && info.EMV {
		t := reader.Transaction{AmountCents: int64(amount + tip), Timeout: e.cfg.CardTimeout}
		if err := e.rd.Arm(ctx, readerID, t); err != nil {
			e.log.Warn("arming the reader failed; it will be armed again when it reconnects", "reader", readerID, "error", err)
		}
	}
	e.log.Info("sale started", "transaction_api_id", apiID, "action", action, "amount", rec.Amount, "reader", readerID)
	e.step(StepPending, apiID)
	e.publish(sale.Update{Kind: sale.UpdatePrompt, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: apiID, Prompt: sale.PromptPresentCard})
	return rec, nil
}

// pickReader returns the requested reader, or the first usable one.
func (e *Engine) pickReader(id string) (string, sale.Reader, error) {
	if e.rd == nil {
		return "", sale.Reader{}, errorf(CodeNoReader, "no card reader is configured")
	}
	infos := e.rd.Devices()
	for _, in := range infos {
		if id != "" && in.ID != id {
			continue
		}
		if in.Status == sale.ReaderOK {
			return in.ID, in, nil
		}
		if id != "" {
			return "", sale.Reader{}, errorf(CodeNoReader, "reader %s is %s: %s", id, in.Status, in.Detail)
		}
	}
	if id != "" {
		return "", sale.Reader{}, errorf(CodeNoReader, "no reader %q is connected", id)
	}
	for _, in := range infos {
		if in.Status == sale.ReaderBroken {
			return "", sale.Reader{}, errorf(CodeNoReader, "the card reader cannot be used: %s", in.Detail)
		}
	}
	return "", sale.Reader{}, errorf(CodeNoReader, "no card reader is connected: plug one in (or run posagent demo for the simulator)")
}

func parseAmount(field, s string, zeroOK bool) (gateway.Amount, error) {
	a, err := gateway.ParseAmount(s)
	switch {
	case err != nil:
		return 0, errorf(CodeInvalid, "%s %q is not an amount like \"12.34\"", field, s)
	case a < 0 || (a == 0 && !zeroOK):
		return 0, errorf(CodeInvalid, "%s must be more than 0.00", field)
	case a > maxAmount:
		return 0, errorf(CodeInvalid, "%s %s is more than %s: check for a typo", field, a, maxAmount)
	}
	return a, nil
}

// duplicateIDError refuses a transaction_api_id this agent has journaled.
// Only the origin that used it is pointed at its status; another origin
// learns that the id is taken and nothing else.
func duplicateIDError(apiID, caller, owner string) *Error {
	if caller == owner {
		return errorf(CodeDuplicateID, "transaction_api_id %q was used before: ask for its status instead of starting it again", apiID)
	}
	return errorf(CodeDuplicateID, "transaction_api_id %q is taken: a transaction_api_id must be unique across pages, lanes and installs; use a new one", apiID)
}

// checkText bounds client text and refuses anything shaped like a card
// number: a page must never put a PAN where the agent would send or keep it.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return errorf(CodeInvalid, "%s is longer than %d characters", field, max)
	}
	if card.ContainsCardData(s) {
		return errorf(CodeCardData, "%s", CardDataMessage(field))
	}
	return nil
}

// Cancel cancels a sale still waiting for a card. A sale already sent
// cannot be cancelled: void it once its result is in.
func (e *Engine) Cancel(ctx context.Context, origin, clientID, apiID string) (sale.Result, error) {
	rec, err := e.cancelSale(ctx, origin, clientID, apiID)
	return resultOf(&rec), err
}

func (e *Engine) cancelSale(ctx context.Context, origin, clientID, apiID string) (journal.Record, error) {
	if !e.life.enter() {
		return journal.Record{}, errorf(CodeNotFound, "the agent has stopped: a sale waiting for its card is cancelled at the next start, nothing charged")
	}
	defer e.life.leave()
	e.mu.Lock()
	var s *inflight
	if apiID != "" {
		s = e.byAPIID[apiID]
		// A page may cancel only its own sales; the cashier's UI any.
		if s != nil && !MayAct(origin, false, s.rec.Origin) {
			s = nil
		}
	} else {
		for _, c := range e.byAPIID {
			if c.rec.ClientID == clientID && c.rec.Origin == origin && c.rec.State != sale.StateDone {
				s = c
			}
		}
	}
	if s == nil || s.rec.State == sale.StateDone {
		e.mu.Unlock()
		return journal.Record{}, errorf(CodeNotFound, "no sale in progress for request %q", clientID)
	}
	if !s.waiting {
		e.mu.Unlock()
		return journal.Record{}, errorf(CodeTooLate, "sale %s was already sent to the gateway: wait for its result and void it if needed", s.rec.TransactionAPIID)
	}
	readerID := s.readerID
	rec := e.finishLocked(s, sale.OutcomeCancelled, nil, "cancelled before a card was read: nothing was charged")
	e.mu.Unlock()
	if e.rd != nil {
		if err := e.rd.Cancel(ctx, readerID); err != nil {
			e.log.Debug("reader cancel", "reader", readerID, "error", err)
		}
	}
	return rec, nil
}

func (e *Engine) cardTimeout(apiID string) {
	if !e.life.enter() {
		return // stopped: the next start cancels the sale
	}
	defer e.life.leave()
	e.mu.Lock()
	s := e.byAPIID[apiID]
	if s == nil || !s.waiting || s.rec.State == sale.StateDone {
		e.mu.Unlock()
		return
	}
	readerID := s.readerID
	e.finishLocked(s, sale.OutcomeCancelled, nil, "no card was presented in time: nothing was charged")
	e.mu.Unlock()
	if e.rd != nil {
		_ = e.rd.Cancel(e.ctx, readerID)
	}
}

// HandleReaderEvent takes an event from the reader manager.
func (e *Engine) HandleReaderEvent(ev reader.Event) {
	if !e.life.enter() {
		if ev.Kind == reader.EventCard {
			e.log.Warn("a card was read after the agent stopped: the read was discarded, nothing was charged", "reader", ev.Reader.ID)
		}
		return
	}
	defer e.life.leave()
	switch ev.Kind {
	case reader.EventCard:
		e.cardRead(ev)
	case reader.EventRefused:
		e.refusedRead(ev)
	case reader.EventPrompt:
		e.mu.Lock()
		s := e.active[ev.Reader.ID]
		e.mu.Unlock()
		if s != nil {
			e.publish(sale.Update{Kind: sale.UpdatePrompt, ClientID: s.rec.ClientID, Origin: s.rec.Origin, TransactionAPIID: s.rec.TransactionAPIID, Prompt: ev.Prompt})
		}
	case reader.EventAttached, reader.EventDetached, reader.EventBroken:
		e.publish(sale.Update{Kind: sale.UpdateReader, Reader: &sale.ReaderEvent{Kind: string(ev.Kind), Reader: ev.Reader}})
		if ev.Kind == reader.EventAttached {
			e.rearm(ev.Reader)
		}
	}
}

// rearm arms an EMV reader again for the sale that waited through its
// unplug: the sale survives a replug.
func (e *Engine) rearm(info sale.Reader) {
	e.mu.Lock()
	s := e.active[info.ID]
	var amount gateway.Amount
	if s != nil && s.waiting {
		a, _ := gateway.ParseAmount(s.rec.Amount)
		t, _ := gateway.ParseAmount(s.rec.TipAmount)
		amount = a + t
	}
	e.mu.Unlock()
	if s == nil || amount == 0 || !info.EMV || e.rd == nil {
		return
	}
	if err := e.rd.Arm(e.ctx, info.ID, reader.Transaction{AmountCents: int64(amount), Timeout: e.cfg.CardTimeout}); err != nil {
		e.log.Warn("re-arming the reader after reconnect failed", "reader", info.ID, "error", err)
	}
}

func (e *Engine) refusedRead(ev reader.Event) {
	e.mu.Lock()
	s := e.active[ev.Reader.ID]
	e.mu.Unlock()
	u := sale.Update{Kind: sale.UpdateWarning, Code: decrypt.CodeOf(ev.Err), Warning: decrypt.MessageOf(errOr(ev.Err))}
	if u.Code == "" {
		u.Code = "bad_read"
	}
	if s != nil {
		u.ClientID, u.Origin, u.TransactionAPIID = s.rec.ClientID, s.rec.Origin, s.rec.TransactionAPIID
	}
	e.publish(u)
	if s != nil {
		e.publish(sale.Update{Kind: sale.UpdatePrompt, ClientID: s.rec.ClientID, Origin: s.rec.Origin, TransactionAPIID: s.rec.TransactionAPIID, Prompt: sale.PromptRetry})
	}
}

func errOr(err error) error {
	if err == nil {
		return errors.New("the read could not be used")
	}
	return err
}

// cardRead runs the guards and sends the sale.
func (e *Engine) cardRead(ev reader.Event) {
	if ev.Read == nil {
		return
	}
	read := ev.Read
	e.mu.Lock()
	s := e.active[ev.Reader.ID]
	if s == nil || !s.waiting {
		e.mu.Unlock()
		e.releaseCard(ev)
		e.publish(sale.Update{Kind: sale.UpdateWarning, Code: "no_sale", Warning: "a card was read but no sale is waiting for one: the read was discarded"})
		return
	}
	if e.closed {
		// A read queued behind the shutdown: no request leaves once
		// stopping has begun. The sale ends now, nothing charged.
		e.finishLocked(s, sale.OutcomeCancelled, nil, stoppingMessage)
		e.mu.Unlock()
		e.releaseCard(ev)
		return
	}
	if why, code := e.guardRead(read); why != "" {
		e.mu.Unlock()
		e.releaseCard(ev)
		e.log.Warn("card read refused", "reason", code, "reader", ev.Reader.ID, "read", *read)
		e.publish(sale.Update{Kind: sale.UpdateWarning, Code: code, Warning: why, ClientID: s.rec.ClientID, Origin: s.rec.Origin, TransactionAPIID: s.rec.TransactionAPIID})
		e.publish(sale.Update{Kind: sale.UpdatePrompt, ClientID: s.rec.ClientID, Origin: s.rec.Origin, TransactionAPIID: s.rec.TransactionAPIID, Prompt: sale.PromptRetry})
		return
	}
	s.waiting = false
	if s.timer != nil {
		s.timer.Stop()
	}
	s.read = read
	s.complete = ev.Complete
	r := &s.rec
	if ev.Complete != nil {
		// In memory until the next write of the sale — its outcome, or
		// "unknown" when the answer is lost — which comes before the card
		// is told. A kill before it leaves the intent pending with no
		// card_completion: the lookup's entry mode says "chip" (lookupOnce).
		r.CardCompletion = sale.CardPending
	}
	r.MaskedPAN, r.LastFour, r.Brand = string(read.MaskedPAN), read.LastFour(), string(read.Brand())
	r.EntryMode = string(read.EntryMode)
	r.Receipt = read.Receipt // the whole card.Receipt: the journal and every client keep its CryptogramType
	rec := s.rec
	e.mu.Unlock()

	e.publish(sale.Update{Kind: sale.UpdateCard, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: rec.TransactionAPIID,
		Card: &sale.Card{EntryMode: read.EntryMode, Brand: read.Brand(), MaskedPAN: read.MaskedPAN, LastFour: read.LastFour()}, ReadAt: ev.Time})
	e.publish(sale.Update{Kind: sale.UpdatePrompt, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: rec.TransactionAPIID, Prompt: sale.PromptProcessing})
	e.send(s)
}

// guardRead applies the card-data guards. Clear reads never get here:
// decrypt refuses them and the reader reports EventRefused.
func (e *Engine) guardRead(r *card.Read) (why, code string) {
	k := r.Envelope.KSN
	switch {
	case !r.Envelope.Format.Valid() || r.Envelope.Data == "" || !k.Valid():
		return "the read carries no encrypted envelope: the reader is not encrypting", decrypt.CodeClearTrackData
	case k.IsTestKey() && e.cfg.LiveHost != "":
		return "this reader uses the public test key, which the live gateway " + e.cfg.LiveHost + " refuses: use it with the gateway's sandbox host, or ask your gateway for a production-keyed reader", "test_key"
	}
	if why := e.guard.check(k); why != "" {
		return why, "replayed_read"
	}
	return "", ""
}

// send sends the sale's request in the background. The transaction is
// durable before the request leaves: StartSale and FollowUp wrote it,
// transaction_api_id and all, and recovery looks up whatever a previous
// run left unfinished. The attempt itself (the masked card, the attempt
// count) is not journaled: it is not needed for exactly-once (see
// docs/reliability.md, "The order of the journal's writes"), so a sale
// costs two commits, the intent and the outcome. Once the engine is
// stopping no request leaves: a first send ends the transaction
// cancelled, nothing charged; a re-send stays unknown in the journal for
// the next start's lookup, and so does the engine's own void of an
// approval a chip card declined (a void ended "cancelled" would settle its
// sale as a charge that stands: the next start sends it instead).
func (e *Engine) send(s *inflight) {
	e.mu.Lock()
	if e.closed {
		if s.rec.Attempts == 0 && s.rec.ReversalOf == "" {
			e.finishLocked(s, sale.OutcomeCancelled, nil, stoppingMessage)
		}
		e.mu.Unlock()
		return
	}
	s.rec.State = sale.StateSending
	s.rec.Attempts++
	apiID := s.rec.TransactionAPIID
	e.mu.Unlock()
	e.step(StepSending, apiID)
	e.goBackground(func(ctx context.Context) { e.doSend(ctx, s) })
}

func (e *Engine) request(s *inflight) gateway.Request {
	if s.req.Action != "" {
		return s.req
	}
	amount, _ := gateway.ParseAmount(s.rec.Amount)
	tip, _ := gateway.ParseAmount(s.rec.TipAmount)
	req := gateway.Request{
		Action: gateway.Action(s.rec.Action), Amount: amount + tip, TransactionAPIID: s.rec.TransactionAPIID,
		OrderNum: s.rec.OrderNum, Description: s.rec.Description, Read: s.read,
		AuthCode: s.extra.authCode, Billing: s.extra.billing,
	}
	recordDetails(s.rec).apply(&req)
	return req
}

// doSend sends and handles the answer. ctx is the engine's: Close cancels
// it after its grace, which ends the request (an ambiguous one stays
// unknown in the journal for the next start) and every wait.
func (e *Engine) doSend(ctx context.Context, s *inflight) {
	req := e.request(s)
	for attempt := 1; ; attempt++ {
		start := time.Now()
		res, err := e.gw.Do(ctx, req)
		e.log.Debug("gateway answered", "transaction_api_id", req.TransactionAPIID, "latency", time.Since(start), "error", err)
		e.step(StepAnswered, s.rec.TransactionAPIID)
		switch {
		case err == nil:
			e.finish(s, sale.OutcomeApproved, res, "")
			return
		case gateway.IsDeclined(err):
			e.finish(s, sale.OutcomeDeclined, res, "")
			return
		case errors.Is(err, gateway.ErrDuplicate) && !e.attemptedBefore(s):
			// The gateway holds a transaction with this id that no request
			// of ours can have made: a page reused an id another lane,
			// page or install used. It refused this request, so nothing
			// was charged; its transaction is not ours to report.
			e.log.Warn("the gateway already holds another transaction with this transaction_api_id: sale refused, nothing charged", "transaction_api_id", req.TransactionAPIID)
			e.refuseForeign(s, fmt.Sprintf("a transaction with transaction_api_id %q already exists at the gateway (another lane, page or install used this id): "+
				"this sale was refused and nothing was charged; start it again with a new transaction_api_id", req.TransactionAPIID))
			return
		case gateway.NeedsResolve(err):
			e.log.Warn("gateway outcome unknown: resolving by lookup, not re-sending", "transaction_api_id", req.TransactionAPIID, "error", err)
			e.markUnknown(ctx, s, err)
			e.resolve(ctx, s)
			return
		case gateway.IsRetryable(err) && attempt < retryableSends:
			// The request provably never reached the gateway.
			if !sleep(ctx, time.Duration(attempt)*500*time.Millisecond) || e.stopping() {
				if e.ownVoid(s) {
					return // pending in the journal: the next start looks it up, then sends it
				}
				e.finish(s, sale.OutcomeError, nil, "the gateway could not be reached and the agent is stopping: nothing was charged; start it again once the agent is running")
				return
			}
			e.mu.Lock()
			s.rec.Attempts++
			e.mu.Unlock()
			continue
		case gateway.IsRetryable(err):
			e.finish(s, sale.OutcomeError, nil, "the gateway could not be reached, nothing was charged: "+err.Error())
			return
		default: // rejected or invalid: the gateway refused the request
			e.finish(s, sale.OutcomeError, res, "the gateway refused the request: "+err.Error())
			return
		}
	}
}

// ownVoid reports whether s is the engine's void of an approval a chip
// card did not accept (complete.go): stopping must leave it to the next
// start, never end it, since its end settles the sale it reverses.
func (e *Engine) ownVoid(s *inflight) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return s.rec.ReversalOf != ""
}

// attemptedBefore reports whether an earlier request of ours carried this
// sale's transaction_api_id: its record counts every send, and each
// earlier send was journaled before this one left (send waits for the
// previous write; a retry writes before it goes). Only then can a
// "transaction_api_id already used" answer be our own earlier attempt.
func (e *Engine) attemptedBefore(s *inflight) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return s.rec.Attempts > 1
}

// refuseForeign ends a transaction whose transaction_api_id belongs to a
// transaction the gateway holds that is not this one: an error with the
// duplicate_id code, and nothing of the other transaction recorded.
func (e *Engine) refuseForeign(s *inflight, msg string) {
	e.mu.Lock()
	s.rec.Code = CodeDuplicateID
	e.finishLocked(s, sale.OutcomeError, nil, msg)
	e.mu.Unlock()
}

// sameTransaction reports whether the transaction the gateway returned for
// rec's transaction_api_id is rec's: the id, the amount charged (the sale
// sends amount + tip as one transaction_amount, and Paya reports that
// total back), the card's last four, where both sides know it, and its
// creation no earlier than the sale began (less clockSkew), where the
// gateway says when, and a chip card's transaction counter (ATC), where
// both sides know it. Any other transaction under our id is someone
// else's: the same customer's card for the same amount at a lane that
// reused ids earlier is not this sale.
func sameTransaction(rec journal.Record, res *gateway.Result) bool {
	if res.TransactionAPIID != "" && res.TransactionAPIID != rec.TransactionAPIID {
		return false
	}
	if !res.Created.IsZero() && !rec.Created.IsZero() && res.Created.Before(rec.Created.Add(-clockSkew)) {
		return false
	}
	amount, err := gateway.ParseAmount(rec.Amount)
	if err != nil {
		return false
	}
	var tip gateway.Amount
	if rec.TipAmount != "" {
		if tip, err = gateway.ParseAmount(rec.TipAmount); err != nil {
			return false
		}
	}
	if res.Amount != amount+tip {
		return false
	}
	if a, ok := atc(rec.Receipt.ATC); ok {
		if b, ok := atc(res.Receipt.ATC); ok && a != b {
			return false
		}
	}
	return rec.LastFour == "" || res.LastFour == "" || rec.LastFour == res.LastFour
}

// atc reads a chip card's transaction counter as receipts carry it (tag
// 9F36 in hex, as TVR and TSI are); ok is false when it is absent or not
// hex, and then it decides nothing.
func atc(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 16, 16)
	return n, err == nil
}

// clockSkew is how far the gateway's clock may run behind the agent's
// before a transaction it created after the sale began looks older than
// the sale (Kerberos allows the same five minutes).
const clockSkew = 5 * time.Minute

func (e *Engine) markUnknown(ctx context.Context, s *inflight, cause error) {
	e.mu.Lock()
	s.rec.State = sale.StateUnknown
	s.rec.Error = "outcome being checked with the gateway: " + cause.Error()
	e.resolving[s.rec.TransactionAPIID] = true
	rec := s.rec
	e.mu.Unlock()
	if err := e.j.Put(rec); err != nil {
		e.log.Error("journal write failed", "transaction_api_id", rec.TransactionAPIID, "error", err)
	}
	e.tellUnknown(ctx, s)
}

// resolve looks the transaction up on the backoff schedule. Found: that is
// the outcome. Proven absent: the request never committed, so the same
// request (same transaction_api_id) may be sent once more. Still unknown
// after the schedule: the client hears "unknown" and the background
// resolver keeps trying.
func (e *Engine) resolve(ctx context.Context, s *inflight) {
	for _, wait := range e.cfg.ResolveBackoff {
		if !sleep(ctx, wait) {
			return // stopping: the journal says unknown, the next start looks it up
		}
		if done := e.lookupOnce(ctx, s); done {
			return
		}
	}
	e.mu.Lock()
	delete(e.resolving, s.rec.TransactionAPIID)
	rec := s.rec
	e.mu.Unlock()
	if rec.ReversalOf != "" {
		// A reversal's void is the engine's: the page hears of its sale.
		sr, found, err := e.j.Get(rec.ReversalOf)
		if err != nil || !found {
			return
		}
		rec = sr
	}
	rec.Outcome = sale.OutcomeUnknown
	e.publish(sale.Update{Kind: sale.UpdateResult, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: rec.TransactionAPIID, Result: ptr(resultOf(&rec))})
}

// resolveOnce is the background resolver's single lookup.
func (e *Engine) resolveOnce(ctx context.Context, s *inflight) {
	if !e.lookupOnce(ctx, s) {
		e.mu.Lock()
		delete(e.resolving, s.rec.TransactionAPIID)
		e.mu.Unlock()
	}
}

// lookupOnce resolves s by one lookup and reports whether it is settled.
func (e *Engine) lookupOnce(ctx context.Context, s *inflight) bool {
	e.mu.Lock()
	rec := s.rec
	if rec.ReversalOf != "" && s.req.Action == "" {
		// A reversal's void left by an earlier run carries no card data:
		// proven absent, it is sent again.
		s.req = gateway.Request{Action: gateway.ActionVoid, TransactionID: rec.OrigTransaction}
	}
	e.mu.Unlock()
	if rec.VoidAPIID != "" {
		return e.reversalStep(s)
	}
	var res *gateway.Result
	var err error
	if gateway.Action(rec.Action).CreatesTransaction() {
		res, err = e.gw.Resolve(ctx, rec.TransactionAPIID)
	} else {
		res, err = e.gw.Lookup(ctx, rec.OrigTransaction)
		if err == nil && !changeVisible(rec, res) {
			res, err = nil, gateway.ErrNotFound
		}
	}
	switch {
	case err == nil && res != nil && gateway.Action(rec.Action).CreatesTransaction() && !sameTransaction(rec, res):
		e.log.Warn("the gateway holds a different transaction under this transaction_api_id: not adopted", "transaction_api_id", rec.TransactionAPIID)
		e.refuseForeign(s, fmt.Sprintf("the gateway holds a different transaction under transaction_api_id %q (its amount or card is not this one's), "+
			"so this transaction is not approved; the gateway refuses a second transaction with an id it holds, so this one was most likely not charged: "+
			"check the gateway's transaction list before charging again, and use transaction_api_ids unique across lanes and installs", rec.TransactionAPIID))
		return true
	case err == nil && res != nil:
		outcome := sale.OutcomeApproved
		if res.Outcome == gateway.OutcomeDeclined {
			outcome = sale.OutcomeDeclined
		} else if res.Outcome == gateway.OutcomeError {
			outcome = sale.OutcomeError
		}
		e.log.Info("outcome resolved by lookup", "transaction_api_id", rec.TransactionAPIID, "outcome", outcome)
		e.mu.Lock()
		if s.rec.Attempts == 0 && s.rec.CardCompletion == "" && res.EntryMode == card.EntryChip {
			// An earlier run sent it and died before its outcome (and
			// card_completion, which travels with it) landed: a contact
			// read waits for its completion, which that run never gave
			// (complete.go). Attempts is 0: a sale being sent is not
			// journaled again before its outcome.
			s.rec.CardCompletion = sale.CardPending
		}
		e.mu.Unlock()
		e.finish(s, outcome, res, "")
		return true
	case errors.Is(err, gateway.ErrNotFound) && e.gw.Capabilities().NoAbsenceProof[gateway.Action(rec.Action)]:
		e.unprovable(s)
		return false
	case errors.Is(err, gateway.ErrNotFound):
		e.mu.Lock()
		canResend := !s.resent && (s.read != nil || s.req.Action != "")
		if canResend {
			s.resent = true
			delete(e.resolving, rec.TransactionAPIID)
		}
		e.mu.Unlock()
		if canResend {
			e.log.Info("lookup proves the gateway never got the request: sending it again with the same transaction_api_id", "transaction_api_id", rec.TransactionAPIID)
			e.send(s)
			return true
		}
		if rec.Attempts == 0 {
			// Left pending by an earlier run: it never reached the gateway.
			e.finish(s, sale.OutcomeCancelled, nil, "the agent stopped before the sale reached the gateway: nothing was charged; start it again")
			return true
		}
		e.finish(s, sale.OutcomeError, nil, "the gateway never received this transaction: nothing was charged; present the card again")
		return true
	default:
		e.log.Debug("lookup inconclusive", "transaction_api_id", rec.TransactionAPIID, "error", err)
		return false
	}
}

// effectVisible tells from the original transaction whether a change to it
// (void, completion, tip adjust) took effect.
func effectVisible(a gateway.Action, r *gateway.Result) bool {
	if r == nil {
		return false
	}
	switch a {
	case gateway.ActionVoid:
		return r.StatusID == 201 || r.Status == "voided"
	case gateway.ActionAuthComplete:
		return r.StatusID == 101 || r.Status == "captured" || r.Status == "settled" || r.Captured
	}
	return false
}

// finish records the final outcome durably, then tells the clients.
func (e *Engine) finish(s *inflight, outcome sale.Outcome, res *gateway.Result, msg string) {
	e.mu.Lock()
	rec := e.finishLocked(s, outcome, res, msg)
	e.mu.Unlock()
	_ = rec
}

// finishLocked must be called with e.mu held.
func (e *Engine) finishLocked(s *inflight, outcome sale.Outcome, res *gateway.Result, msg string) journal.Record {
	r := &s.rec
	r.State, r.Outcome, r.Error, r.Updated = sale.StateDone, outcome, msg, time.Now().UTC()
	if res != nil {
		r.TransactionID, r.StatusID, r.ReasonCodeID, r.AuthCode = res.ID, res.StatusID, res.ReasonCode, res.AuthCode
		r.Verbiage = card.RedactPANs(res.Verbiage)
		r.AVS = res.AVS
		if res.AuthAmount != 0 {
			r.AuthAmount = res.AuthAmount.String()
		}
		if r.LastFour == "" {
			r.LastFour, r.MaskedPAN, r.Brand = res.LastFour, string(res.MaskedPAN), string(res.Brand)
			r.EntryMode = string(res.EntryMode)
		}
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.waiting = false
	s.read = nil          // the envelope is not needed any more: drop it
	s.extra = cardExtra{} // and the auth code / billing address beside it
	if r.ReversalOf != "" {
		r.Acked = true // the engine's own void: its sale's result is what clients get
	}
	if err := e.j.Put(*r); err != nil {
		e.log.Error("journal write of a final outcome failed", "transaction_api_id", r.TransactionAPIID, "error", err)
	}
	if e.active[s.readerID] == s {
		delete(e.active, s.readerID)
	}
	delete(e.resolving, r.TransactionAPIID)
	delete(e.byAPIID, r.TransactionAPIID)
	rec := *r
	if outcome == sale.OutcomeError {
		e.log.Warn("transaction failed", "transaction_api_id", rec.TransactionAPIID, "reason", msg)
	}
	e.log.Info("transaction finished", "transaction_api_id", rec.TransactionAPIID, "outcome", outcome, "transaction_id", rec.TransactionID)
	if rec.ReversalOf != "" {
		e.settleReversalLocked(rec)
		return rec
	}
	result := sale.Update{Kind: sale.UpdateResult, ClientID: rec.ClientID, Origin: rec.Origin, TransactionAPIID: rec.TransactionAPIID, Result: ptr(resultOf(&rec))}
	if !e.completeThenPublish(s, rec, result) {
		e.publish(result)
	}
	return rec
}

// String for errors in logs.
func (s *inflight) String() string { return fmt.Sprintf("sale %s", s.rec.TransactionAPIID) }
