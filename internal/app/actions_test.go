package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/sim"
	"github.com/posagent/posagent/internal/sale"
)

func (a *App) testSale(t *testing.T, upd <-chan sale.Update, action, amount string, mode card.EntryMode) *engineResult {
	t.Helper()
	rec, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "t", Origin: "test", Action: action, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Sim().Simulate(context.Background(), sim.SimCard{PAN: "5454545454545454", EntryMode: mode}); err != nil {
		t.Fatal(err)
	}
	return &engineResult{waitResult(t, upd, rec.TransactionAPIID)}
}

type engineResult struct{ sale.Update }

func followUp(t *testing.T, a *App, upd <-chan sale.Update, action, txID, amount string) sale.Update {
	t.Helper()
	rec, err := a.Engine().FollowUp(context.Background(), engine.FollowUpRequest{ClientID: "f", Origin: "test", Action: action, TransactionID: txID, Amount: amount})
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	return waitResult(t, upd, rec.TransactionAPIID)
}

// Every action against the sandbox: authonly then complete, sale then
// refund (partial, then over the limit), sale then tip adjust, sale then void.
func TestDemoActions(t *testing.T) {
	a := startDemo(t)
	upd, stop := a.Engine().Subscribe()
	defer stop()

	auth := a.testSale(t, upd, "authonly", "40.00", card.EntryChip).Result
	if auth.Outcome != sale.OutcomeApproved || auth.StatusID != 102 {
		t.Fatalf("authonly: %+v", auth)
	}
	if r := followUp(t, a, upd, "complete", auth.TransactionID, "35.00").Result; r.Outcome != sale.OutcomeApproved {
		t.Fatalf("complete: %+v", r)
	}

	sold := a.testSale(t, upd, "sale", "50.00", card.EntrySwiped).Result
	if r := followUp(t, a, upd, "refund", sold.TransactionID, "20.00").Result; r.Outcome != sale.OutcomeApproved || r.StatusID == 0 {
		t.Fatalf("refund: %+v", r)
	}
	if r := followUp(t, a, upd, "refund", sold.TransactionID, "40.00").Result; r.Outcome == sale.OutcomeApproved {
		t.Fatalf("refund beyond what is left was approved: %+v", r)
	}

	tip := a.testSale(t, upd, "sale", "10.00", card.EntryProximity).Result
	if r := followUp(t, a, upd, "tipadjust", tip.TransactionID, "12.00").Result; r.Outcome != sale.OutcomeApproved {
		t.Fatalf("tip adjust: %+v", r)
	}

	v := a.testSale(t, upd, "sale", "11.00", card.EntrySwiped).Result
	if r := followUp(t, a, upd, "void", v.TransactionID, "").Result; r.Outcome != sale.OutcomeApproved {
		t.Fatalf("void: %+v", r)
	}
}

func TestDemoCancelWhileWaiting(t *testing.T) {
	a := startDemo(t)
	upd, stop := a.Engine().Subscribe()
	defer stop()
	rec, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "c1", Origin: "test", Amount: "3.00"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine().Cancel(context.Background(), "test", "c1", ""); err != nil {
		t.Fatal(err)
	}
	if r := waitResult(t, upd, rec.TransactionAPIID).Result; r.Outcome != sale.OutcomeCancelled {
		t.Fatalf("cancel: %+v", r)
	}
	// The reader was told to stop: a chip read now has no transaction.
	if err := a.Sim().Simulate(context.Background(), sim.SimCard{PAN: "5454545454545454", EntryMode: card.EntryChip}); err == nil {
		t.Error("the reader still takes a chip card after cancel")
	}
}

// The reader is unplugged while the sale waits for a card; after replug the
// same sale takes the card and completes.
func TestDemoUnplugMidSale(t *testing.T) {
	a := startDemo(t)
	upd, stop := a.Engine().Subscribe()
	defer stop()
	rec, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "u1", Origin: "test", Amount: "9.00"})
	if err != nil {
		t.Fatal(err)
	}
	a.Sim().Unplug()
	waitReader(t, upd, reader.EventDetached)
	a.Sim().Replug()
	waitReader(t, upd, reader.EventAttached)
	// The engine re-arms the EMV reader on attach; give the arm a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := a.Sim().Simulate(context.Background(), sim.SimCard{PAN: "4111111111111111", EntryMode: card.EntryChip})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader never re-armed after replug: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := waitResult(t, upd, rec.TransactionAPIID).Result; r.Outcome != sale.OutcomeApproved || r.LastFour != "1111" {
		t.Fatalf("sale after replug: %+v", r)
	}
}

func waitReader(t *testing.T, upd <-chan sale.Update, kind reader.EventKind) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case u := <-upd:
			if u.Kind == sale.UpdateReader && u.Reader.Kind == string(kind) {
				return
			}
		case <-deadline:
			t.Fatalf("no reader %s event", kind)
		}
	}
}

// A sale the gateway's field rules would refuse is refused when it is asked
// for, before the reader is armed and the customer presents a card.
func TestSaleRefusedBeforeTheCard(t *testing.T) {
	a := startDemo(t)
	_, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "p", Origin: "test", Amount: "5.55", OrderNum: "INV-1001"})
	var ee *engine.Error
	if !errors.As(err, &ee) || ee.Code != engine.CodeInvalid || !strings.Contains(ee.Message, "order_num") {
		t.Fatalf("StartSale with order_num INV-1001: %v", err)
	}
	if len(a.Engine().Active()) != 0 {
		t.Fatal("a refused sale is waiting for a card")
	}
	// The same sale with a valid order number goes through.
	rec, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "p", Origin: "test", Amount: "5.55", OrderNum: "INV1001"})
	if err != nil || rec.OrderNum != "INV1001" {
		t.Fatalf("valid order_num: %v", err)
	}
}
