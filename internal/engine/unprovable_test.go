package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/sale"
)

// A refund whose absence the gateway cannot prove (PaidYET) is never sent
// again after an ambiguous failure: the page hears unknown, with what to
// check, and the gateway saw one request.
func TestUnprovableNotResent(t *testing.T) {
	h := newHarness(t, nil)
	h.gw.caps.NoAbsenceProof = gateway.NewActionSet(gateway.ActionRefund)
	h.gw.script = func(int, gateway.Request) (bool, *gateway.Result, error) {
		// The answer is lost; the fake holds nothing, so Resolve misses.
		return false, nil, &gateway.Error{Class: gateway.Ambiguous, Err: errors.New("timeout")}
	}
	rec, err := h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "r", Origin: "o", Action: "refund", TransactionID: "tx1", Amount: "5.00"})
	if err != nil {
		t.Fatal(err)
	}
	res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
	if res.Outcome != sale.OutcomeUnknown || !strings.Contains(res.Error, "check the gateway") || !strings.Contains(res.Error, "5.00") {
		t.Fatalf("result %+v: want unknown with what to check", res)
	}
	h.e.Close(time.Second)
	if n := len(h.gw.calls); n != 1 {
		t.Fatalf("%d refund requests sent, want 1", n)
	}
	if r := h.stored(rec.TransactionAPIID); r.State != sale.StateUnknown || !strings.Contains(r.Error, "not sent again") {
		t.Errorf("journal %+v", r)
	}
}

// After a restart, a refund left pending (a follow-up being sent is not
// journaled again before its outcome, so the request may have landed) is not declared "never sent, nothing
// refunded" on a miss it cannot trust: it stays unknown.
func TestUnprovableAfterRestart(t *testing.T) {
	h := newHarness(t, nil)
	h.gw.caps.NoAbsenceProof = gateway.NewActionSet(gateway.ActionRefund)
	if err := h.j.Put(journal.Record{TransactionAPIID: "left", Action: "refund", Amount: "5.00", OrigTransaction: "tx1", State: sale.StatePending}); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := h.stored("left")
		if strings.Contains(r.Error, "check the gateway") {
			if r.State != sale.StateUnknown || r.Outcome != "" {
				t.Fatalf("record %+v: want unknown", r)
			}
			break
		}
		if r.State == sale.StateDone || time.Now().After(deadline) {
			t.Fatalf("record %+v: want unknown with what to check", r)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(h.gw.calls) != 0 {
		t.Fatal("recovery sent a request")
	}
}

// The background resolver does not spend the gateway's call budget on an
// unprovable action every interval: after a miss it waits (5 min, doubling
// to an hour) before looking again.
func TestUnprovableBacksOff(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ResolveInterval = time.Hour })
	h.gw.caps.NoAbsenceProof = gateway.NewActionSet(gateway.ActionRefund)
	h.gw.script = func(int, gateway.Request) (bool, *gateway.Result, error) {
		return false, nil, &gateway.Error{Class: gateway.Ambiguous, Err: errors.New("timeout")}
	}
	rec, err := h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "r", Origin: "o", Action: "refund", TransactionID: "tx1", Amount: "5.00"})
	if err != nil {
		t.Fatal(err)
	}
	if res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result; res.Outcome != sale.OutcomeUnknown {
		t.Fatalf("result %+v", res)
	}
	<-h.e.life.idleCh()
	lookups := func() int {
		h.gw.mu.Lock()
		defer h.gw.mu.Unlock()
		return h.gw.resolves
	}
	before := lookups()
	h.e.resolveUnknown(context.Background())
	<-h.e.life.idleCh()
	if n := lookups(); n != before {
		t.Fatalf("the background resolver looked an unprovable refund up again at once (%d lookups)", n-before)
	}
	h.e.mu.Lock()
	s := h.e.byAPIID[rec.TransactionAPIID]
	wait := time.Until(s.nextTry)
	s.nextTry = time.Time{} // its wait is over
	h.e.mu.Unlock()
	if wait < 4*time.Minute {
		t.Errorf("next background lookup in %v, want the 5 min schedule or longer", wait)
	}
	h.e.resolveUnknown(context.Background())
	<-h.e.life.idleCh()
	if n := lookups(); n != before+1 {
		t.Fatalf("%d lookups once the wait is over, want 1", n-before)
	}
	if r := h.stored(rec.TransactionAPIID); r.State != sale.StateUnknown {
		t.Errorf("record %+v", r)
	}
}
