package engine

import (
	"fmt"
	"time"

	"github.com/posagent/posagent/internal/gateway"
)

// unprovable handles a lookup that did not find an action whose absence
// the gateway cannot prove (Capabilities.NoAbsenceProof): the action may
// still have landed, so it is never sent again. The record stays unknown
// with a message that says what to check; the in-line schedule and the
// background resolver keep looking, and adopt it if it shows.
func (e *Engine) unprovable(s *inflight) {
	e.mu.Lock()
	// A miss proves nothing and may never turn into a hit: looking every
	// ResolveInterval would spend the gateway's call budget (PaidYET: 7000
	// a day, shared with sales) on it forever. The background resolver
	// waits 5 min after the first miss and twice as long after each
	// further one (the in-line lookups count), at most an hour.
	s.unprovableTries++
	wait := unprovableMaxWait
	if n := s.unprovableTries - 1; n < 4 {
		wait = unprovableFirstWait << n
	}
	s.nextTry = time.Now().Add(wait)
	r := &s.rec
	msg := unprovableMessage(e.gw.Name(), gateway.Action(r.Action), r.OrigTransaction, r.Amount, r.TransactionAPIID)
	if r.Error == msg {
		e.mu.Unlock()
		return
	}
	r.Error = msg
	rec := *r
	e.mu.Unlock()
	e.log.Warn("outcome unknown and not provable: not sent again", "transaction_api_id", rec.TransactionAPIID, "action", rec.Action)
	if err := e.j.Put(rec); err != nil {
		e.log.Error("journal write failed", "transaction_api_id", rec.TransactionAPIID, "error", err)
	}
}

// The background schedule of an unprovable action's lookups.
const (
	unprovableFirstWait = 5 * time.Minute
	unprovableMaxWait   = time.Hour
)

// unprovableMessage tells the cashier what to look for at the gateway
// before doing anything again.
func unprovableMessage(gw string, a gateway.Action, orig, amount, apiID string) string {
	what := string(a)
	switch a {
	case gateway.ActionRefund:
		what = "a refund of " + amount + " on transaction " + orig
	case gateway.ActionAuthComplete:
		what = "the capture of transaction " + orig
	case gateway.ActionVoid:
		what = "the void of transaction " + orig
	}
	return fmt.Sprintf("outcome unknown: the %s gateway may have made %s, and cannot prove that it did not, so it was not sent again; "+
		"check the gateway's transaction list (dashboard) for it (transaction_api_id %s) before trying again — this agent keeps looking and reports it if it shows",
		gw, what, apiID)
}
