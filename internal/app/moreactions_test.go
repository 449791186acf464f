package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/gateway/gatewaytest"
	"github.com/posagent/posagent/internal/reader/sim"
	"github.com/posagent/posagent/internal/sale"
)

// The actions beyond sale and the first follow-ups, as a POS page sends
// them over the websocket, through the real engine, payaconnect client and
// embedded sandbox (which holds each request to the seed's field table):
// authincrement and partialreversal set a new total on the page's own
// authorization; force carries the voice auth code beside the card read;
// avsonly checks a card and its billing zip and moves no money.
func TestWebsocketMoreActions(t *testing.T) {
	a := startDemoWithPages(t)
	pa, pb := openPage(t, a.URL(), originA), openPage(t, a.URL(), originB)

	auth := pa.sale("a1", map[string]any{"action": "authonly", "amount": "40.00"}, "visa")
	if auth["outcome"] != "approved" || obj(auth, "transaction")["status_id"] != float64(102) {
		t.Fatalf("authonly: %s", auth["_raw"])
	}
	txID := str(obj(auth, "transaction")["id"])

	change := func(p *wsPage, id, typ, amount string) map[string]any {
		t.Helper()
		p.send(map[string]any{"type": typ, "id": id, "transaction_id": txID, "amount": amount})
		if r := p.reply("accepted", id); r["type"] != "accepted" {
			return r
		}
		return p.result(id)
	}
	// Another page may neither increment nor reduce it, and learns nothing.
	for _, typ := range []string{"authincrement", "partialreversal"} {
		r := change(pb, "b-"+typ, typ, "45.00")
		if r["type"] != "error" || r["code"] != engine.CodeNotFound || strings.Contains(str(r["_raw"]), originA) {
			t.Errorf("%s by another page: %s, want error not_found", typ, r["_raw"])
		}
	}
	if r := change(pa, "a2", "authincrement", "55.00"); r["outcome"] != "approved" || r["action"] != "authincrement" ||
		obj(r, "transaction")["amount"] != "55.00" {
		t.Fatalf("authincrement: %s", r["_raw"])
	}
	// The gateway now holds 55.00: an "increment" to less is refused.
	if r := change(pa, "a3", "authincrement", "50.00"); r["outcome"] != "error" {
		t.Fatalf("increment below the current total: %s", r["_raw"])
	}
	if r := change(pa, "a4", "partialreversal", "30.00"); r["outcome"] != "approved" || r["action"] != "partialreversal" {
		t.Fatalf("partialreversal: %s", r["_raw"])
	}
	// ... and now 30.00: a "reversal" to more is refused.
	if r := change(pa, "a5", "partialreversal", "35.00"); r["outcome"] != "error" {
		t.Fatalf("reversal above the current total: %s", r["_raw"])
	}
	if r := change(pa, "a6", "authincrement", ""); r["type"] != "error" || r["code"] != engine.CodeInvalid {
		t.Fatalf("increment without an amount: %s", r["_raw"])
	}

	force := pa.sale("f1", map[string]any{"action": "force", "amount": "12.00", "auth_code": "VOX123"}, "mc")
	if force["outcome"] != "approved" || force["action"] != "force" || obj(force, "transaction")["status_id"] != float64(101) {
		t.Fatalf("force: %s", force["_raw"])
	}
	// Refused before the reader is asked for a card.
	pa.send(map[string]any{"type": "sale", "id": "f2", "action": "force", "amount": "12.00"})
	if r := pa.reply("prompt", "f2"); r["type"] != "error" || r["code"] != engine.CodeInvalid || !strings.Contains(str(r["message"]), "auth_code") {
		t.Fatalf("force without auth_code: %s", r["_raw"])
	}

	avs := pa.sale("v1", map[string]any{"action": "avsonly", "billing_zip": "32606", "billing_street": "5800 NW 39th AVE"}, "visa")
	tx := obj(avs, "transaction")
	if avs["outcome"] != "approved" || avs["action"] != "avsonly" || tx["status_id"] != float64(121) || tx["avs"] != "GOOD" || tx["amount"] != "0.00" {
		t.Fatalf("avsonly: %s", avs["_raw"])
	}
	if strings.Contains(str(avs["_raw"]), "32606") || strings.Contains(str(avs["_raw"]), "5800 NW") {
		t.Fatalf("the result echoes the billing address: %s", avs["_raw"])
	}
	bad := pa.sale("v2", map[string]any{"action": "avsonly", "billing_zip": "32615", "billing_street": "2831 NW 41st St STE J"}, "visa")
	if bad["outcome"] != "declined" || obj(bad, "transaction")["avs"] != "BAD" {
		t.Fatalf("avsonly with the sandbox's failing address: %s", bad["_raw"])
	}
}

// PaidYET's v3 API has no force, avsonly, authincrement or partialreversal:
// each is refused as unsupported before anything is journaled, a reader
// armed or a request sent, saying which gateway cannot.
func TestPaidYETRefusesMoreActions(t *testing.T) {
	e := startPaidYET(t)
	ctx := context.Background()
	auth := e.tokenSale(t, engine.SaleRequest{Amount: "40.00", Action: "authonly"}).Result
	if auth.Outcome != sale.OutcomeApproved {
		t.Fatalf("authonly: %+v", auth)
	}
	sent := e.proxy.Count(func(gatewaytest.Record) bool { return true })
	bp, _ := e.a.Journal().History(sale.Query{Limit: 1000})
	before := bp.Records
	var errs []error
	for _, req := range []engine.SaleRequest{
		{Action: "force", Amount: "12.00", AuthCode: "VOX123"},
		{Action: "avsonly", BillingZip: "32606"},
	} {
		req.ClientID, req.Origin = "x", "test"
		_, err := e.a.Engine().StartSale(ctx, req)
		errs = append(errs, err)
	}
	for _, a := range []string{"authincrement", "partialreversal"} {
		_, err := e.a.Engine().FollowUp(ctx, engine.FollowUpRequest{ClientID: "x", Origin: "test", Action: a, TransactionID: auth.TransactionID, Amount: "30.00"})
		errs = append(errs, err)
	}
	for i, err := range errs {
		var ee *engine.Error
		if !errors.As(err, &ee) || ee.Code != engine.CodeUnsupported || !strings.Contains(ee.Message, "paidyet") {
			t.Errorf("request %d: %v, want unsupported naming paidyet", i, err)
		}
	}
	ap, _ := e.a.Journal().History(sale.Query{Limit: 1000})
	after := ap.Records
	if n := e.proxy.Count(func(gatewaytest.Record) bool { return true }); n != sent || len(after) != len(before) {
		t.Fatalf("refused requests reached the gateway (%d → %d requests) or the journal (%d → %d records)", sent, n, len(before), len(after))
	}
}

// A chip card through the simulated VP3300: the reader is armed with the
// force's amount, or with 0.00 for an avsonly, and the card is told the
// gateway's answer as for a sale.
func TestChipForceAndAVSOnly(t *testing.T) {
	a := startDemo(t)
	upd, stop := a.Engine().Subscribe()
	defer stop()
	for _, req := range []engine.SaleRequest{
		{Action: "force", Amount: "9.00", AuthCode: "VOX123"},
		{Action: "avsonly", BillingZip: "32606"},
	} {
		req.ClientID, req.Origin = "c", "test"
		rec, err := a.Engine().StartSale(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", req.Action, err)
		}
		if err := a.Sim().Simulate(context.Background(), sim.SimCard{PAN: "5454545454545454", EntryMode: card.EntryChip}); err != nil {
			t.Fatalf("%s: %v", req.Action, err)
		}
		res := waitResult(t, upd, rec.TransactionAPIID).Result
		if res.Outcome != sale.OutcomeApproved || res.EntryMode != string(card.EntryChip) || res.Action != req.Action {
			t.Fatalf("%s by chip: %+v", req.Action, res)
		}
	}
}
