package engine

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/sale"
)

// blockingLookups is a gateway whose lookups wait for their context: a
// lookup that hangs (a gateway that never answers) ends only when the
// engine cancels it. returned counts the lookups that have ended.
type blockingLookups struct {
	*fakeGateway
	started  chan struct{}
	returned atomic.Int32
}

func (g *blockingLookups) Resolve(ctx context.Context, _ string) (*gateway.Result, error) {
	defer g.returned.Add(1)
	select {
	case g.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, &gateway.Error{Class: gateway.Ambiguous, Err: ctx.Err()}
}

// The in-line resolver of an ambiguous sale must end before Close returns:
// the app closes the journal next. It used to run under a context nobody
// cancelled, so it outlived Close (and App.Stop closed the journal under
// it). Now Close cancels it after its grace and waits for it; the sale
// stays unknown in the journal for the next start.
func TestCloseEndsTheInlineResolver(t *testing.T) {
	g := &blockingLookups{fakeGateway: newFakeGateway(), started: make(chan struct{}, 1)}
	h := newHarness(t, func(c *Config) {
		c.Gateway = g
		c.ResolveBackoff = []time.Duration{0, time.Hour} // the second wait is a backoff nobody would sit out
	})
	g.script = func(int, gateway.Request) (bool, *gateway.Result, error) {
		return true, nil, &gateway.Error{Class: gateway.Ambiguous, Err: errors.New("timeout")}
	}
	rec := h.sale("4.00")
	h.swipe(h.read())
	<-g.started // the in-line lookup is at the gateway, waiting
	h.e.Close(10 * time.Millisecond)
	if n := g.returned.Load(); n != 1 {
		t.Fatalf("Close returned with the in-line lookup still running (%d of 1 ended)", n)
	}
	if r := h.stored(rec.TransactionAPIID); r.State != sale.StateUnknown {
		t.Errorf("the ambiguous sale is %q in the journal, want unknown for the next start", r.State)
	}
	if g.charges() != 1 || len(g.calls) != 1 {
		t.Errorf("%d charges, %d requests: want 1 and 1", g.charges(), len(g.calls))
	}
}

// A card read queued behind the shutdown must not become a request: once
// Close has begun no request leaves. It used to be sent while Close waited
// for another transaction in flight. Now the sale ends cancelled, nothing
// charged, saying why.
func TestSwipeDuringShutdownNotSent(t *testing.T) {
	h := newHarness(t, nil)
	release := make(chan struct{})
	refundAtGateway := make(chan struct{})
	h.gw.script = func(n int, req gateway.Request) (bool, *gateway.Result, error) {
		if req.Action == gateway.ActionRefund {
			close(refundAtGateway)
			<-release // Close waits for this answer
		}
		return true, nil, nil
	}
	waiting := h.sale("2.00") // waits for its card
	if _, err := h.e.FollowUp(context.Background(), FollowUpRequest{ClientID: "r", Origin: "o", Action: "refund", TransactionID: "tx-old", Amount: "1.00"}); err != nil {
		t.Fatal(err)
	}
	<-refundAtGateway
	closed := make(chan struct{})
	go func() { h.e.Close(time.Minute); close(closed) }()
	// Close has begun once a new sale is refused for it.
	for {
		_, err := h.e.StartSale(context.Background(), SaleRequest{ClientID: "probe", Origin: "o", Amount: "1.00"})
		if err != nil && strings.Contains(err.Error(), "shutting down") {
			break
		}
		time.Sleep(time.Millisecond)
	}
	h.swipe(h.read())
	res := h.next(sale.UpdateResult, waiting.TransactionAPIID).Result
	close(release)
	<-closed
	if res.Outcome != sale.OutcomeCancelled || !strings.Contains(res.Error, "stopping") || !strings.Contains(res.Error, "not charged") {
		t.Errorf("the sale whose card came during shutdown ended %q: %q", res.Outcome, res.Error)
	}
	h.gw.mu.Lock()
	defer h.gw.mu.Unlock()
	for _, c := range h.gw.calls {
		if c.TransactionAPIID == waiting.TransactionAPIID {
			t.Fatal("the card read during shutdown was sent to the gateway")
		}
	}
	if r := h.stored(waiting.TransactionAPIID); r.State != sale.StateDone || r.Outcome != sale.OutcomeCancelled {
		t.Errorf("journal holds %+v", r)
	}
}

// After Close nothing the engine does writes the journal, whoever calls:
// the app closes the journal once Close has returned.
func TestNothingWritesAfterClose(t *testing.T) {
	h := newHarness(t, nil)
	waiting := h.sale("3.00")
	h.e.Close(time.Second)
	before, err := h.j.Commits()
	if err != nil {
		t.Fatal(err)
	}
	h.swipe(h.read())
	h.e.cardTimeout(waiting.TransactionAPIID)
	if _, err := h.e.Cancel(context.Background(), "http://127.0.0.1:7380", "s1", waiting.TransactionAPIID); err == nil {
		t.Error("a cancel after Close succeeded")
	}
	if _, err := h.e.StartSale(context.Background(), SaleRequest{ClientID: "late", Origin: "o", Amount: "1.00"}); err == nil {
		t.Error("a sale after Close started")
	}
	if err := h.e.Ack(waiting.TransactionAPIID); err == nil {
		t.Error("an ack after Close succeeded")
	}
	h.e.Close(time.Second) // a second Close returns
	if after, err := h.j.Commits(); err != nil || after != before {
		t.Errorf("%d journal commits after Close (%v)", after-before, err)
	}
	if len(h.gw.calls) != 0 {
		t.Errorf("%d requests after Close", len(h.gw.calls))
	}
	if r := h.stored(waiting.TransactionAPIID); r.State != sale.StatePending {
		t.Errorf("the sale left waiting is %q, want pending for the next start to cancel", r.State)
	}
}

// A sale costs two durable commits, each one exactly-once needs: the
// intent, with its transaction_api_id, before the request can leave, and
// the outcome before anyone is told (docs/reliability.md). It used to cost
// three: the attempt was committed as well.
func TestSaleCommitsIntentAndOutcome(t *testing.T) {
	h := newHarness(t, nil)
	var atSend journal.Record
	var atSendFound bool
	h.gw.script = func(_ int, req gateway.Request) (bool, *gateway.Result, error) {
		atSend, atSendFound, _ = h.j.Get(req.TransactionAPIID)
		return true, nil, nil
	}
	before, err := h.j.Commits()
	if err != nil {
		t.Fatal(err)
	}
	rec := h.sale("5.00")
	h.swipe(h.read())
	res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
	stored := h.stored(rec.TransactionAPIID)
	after, err := h.j.Commits()
	if err != nil {
		t.Fatal(err)
	}
	if !atSendFound || atSend.State != sale.StatePending || atSend.Amount != "5.00" {
		t.Errorf("when the request left the journal held %+v (found %v), want the pending intent", atSend, atSendFound)
	}
	if stored.State != sale.StateDone || stored.Outcome != res.Outcome || res.Outcome != sale.OutcomeApproved {
		t.Errorf("told %q, journal holds %+v", res.Outcome, stored)
	}
	if n := after - before; n != 2 {
		t.Errorf("a sale took %d journal commits, want 2 (intent, outcome)", n)
	}
}
