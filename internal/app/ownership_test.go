package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/sale"
)

const (
	originA = "https://a.example"
	originB = "https://b.example"
)

// startDemoWithPages is the demo with two admitted page origins besides
// its own page.
func startDemoWithPages(t *testing.T) *App {
	t.Helper()
	cfg := testConfig()
	cfg.AllowedOrigins = []string{originA, originB}
	a, err := New(Options{Config: cfg, StateDir: t.TempDir(), Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Stop)
	deadline := time.Now().Add(5 * time.Second)
	for !readerReady(a) {
		if time.Now().After(deadline) {
			t.Fatal("the simulated reader never attached")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return a
}

// Another page's simulate must not complete a sale it does not own: the
// card would be charged to a sale the owner's customer never paid with.
func TestSimulateFeedsOnlyTheCallersSale(t *testing.T) {
	a := startDemoWithPages(t)
	pa, pb := openPage(t, a.URL(), originA), openPage(t, a.URL(), originB)
	pa.send(map[string]any{"type": "sale", "id": "a1", "amount": "12.00"})
	if r := pa.reply("prompt", "a1"); r["type"] != "prompt" {
		t.Fatalf("sale: %s", r["_raw"])
	}
	pb.send(map[string]any{"type": "simulate", "id": "xb", "card": "visa", "entry_mode": "S"})
	r := pb.reply("simulated", "xb")
	if r["type"] != "error" || r["code"] != engine.CodeNotFound {
		t.Fatalf("another page's simulate: %s, want error not_found", r["_raw"])
	}
	if strings.Contains(str(r["_raw"]), "a1") {
		t.Errorf("the refusal names the other page's request: %s", r["_raw"])
	}
	// The owner's sale still waits for its card, and its own simulate works.
	act := a.Engine().Active()
	if len(act) != 1 || act[0].Origin != originA || act[0].State != "pending" {
		t.Fatalf("after the foreign simulate the active sales are %+v", act)
	}
	pa.send(map[string]any{"type": "simulate", "id": "xa", "card": "mc", "entry_mode": "S"})
	if r := pa.reply("simulated", "xa"); r["type"] != "simulated" {
		t.Fatalf("owner's simulate: %s", r["_raw"])
	}
	if res := pa.result("a1"); res["outcome"] != "approved" || str(obj(res, "card")["brand"]) != "mc" {
		t.Fatalf("owner's result: %s", res["_raw"])
	}
}

// A page cannot refund, void or complete another page's transaction, and
// the refusal carries nothing of it; the agent's own page may act on the
// cashier window's sales.
func TestFollowUpsOnlyOnOwnTransactions(t *testing.T) {
	a := startDemoWithPages(t)
	pa, pb := openPage(t, a.URL(), originA), openPage(t, a.URL(), originB)
	own := openPage(t, a.URL(), strings.TrimSuffix(a.URL(), "/"))
	sold := pa.sale("a1", map[string]any{"amount": "30.00"}, "visa")
	if sold["outcome"] != "approved" {
		t.Fatalf("sale: %s", sold["_raw"])
	}
	tx := obj(sold, "transaction")
	secrets := []string{str(tx["auth_code"]), str(obj(sold, "card")["masked_pan"]), str(sold["transaction_api_id"]), originA}
	for _, req := range []map[string]any{
		{"type": "refund", "id": "b1", "transaction_id": tx["id"], "amount": "5.00"},
		{"type": "void", "id": "b2", "transaction_id": tx["id"]},
		{"type": "complete", "id": "b3", "transaction_id": tx["id"]},
	} {
		pb.send(req)
		r := pb.reply("accepted", str(req["id"]))
		if r["type"] != "error" || r["code"] != engine.CodeNotFound {
			t.Errorf("%s of another page's transaction: %s, want error not_found", req["type"], r["_raw"])
			continue
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(str(r["_raw"]), s) {
				t.Errorf("%s refusal carries %q of the other page's transaction: %s", req["type"], s, r["_raw"])
			}
		}
	}
	// The own page may not either; the owner may.
	own.send(map[string]any{"type": "void", "id": "o1", "transaction_id": tx["id"]})
	if r := own.reply("accepted", "o1"); r["type"] != "error" || r["code"] != engine.CodeNotFound {
		t.Errorf("own page voids another page's sale: %s", r["_raw"])
	}
	pa.send(map[string]any{"type": "void", "id": "a2", "transaction_id": tx["id"]})
	if r := pa.reply("accepted", "a2"); r["type"] != "accepted" {
		t.Fatalf("owner's void: %s", r["_raw"])
	}
	if r := pa.result("a2"); r["outcome"] != "approved" {
		t.Fatalf("owner's void: %s", r["_raw"])
	}

	// A sale made in the cashier's window: the own page may refund it, a
	// paired page may not.
	upd, stop := a.Engine().Subscribe()
	defer stop()
	rec, err := a.Engine().StartSale(context.Background(), engine.SaleRequest{ClientID: "ui", Origin: engine.OriginUI, Amount: "20.00"})
	if err != nil {
		t.Fatal(err)
	}
	own.send(map[string]any{"type": "simulate", "id": "ox", "card": "disc", "entry_mode": "S"})
	if r := own.reply("simulated", "ox"); r["type"] != "simulated" {
		t.Fatalf("own page's simulate into the window's sale: %s", r["_raw"])
	}
	ui := waitResult(t, upd, rec.TransactionAPIID).Result
	if ui.Outcome != sale.OutcomeApproved {
		t.Fatalf("window sale %+v", ui)
	}
	pb.send(map[string]any{"type": "refund", "id": "b4", "transaction_id": ui.TransactionID, "amount": "1.00"})
	if r := pb.reply("accepted", "b4"); r["type"] != "error" || r["code"] != engine.CodeNotFound || strings.Contains(str(r["_raw"]), ui.AuthCode) {
		t.Errorf("a page refunds the window's sale: %s", r["_raw"])
	}
	own.send(map[string]any{"type": "refund", "id": "o2", "transaction_id": ui.TransactionID, "amount": "1.00"})
	if r := own.result("o2"); r["outcome"] != "approved" {
		t.Errorf("own page refunds the window's sale: %s", r["_raw"])
	}
}

// busy names the sale that holds the reader to its own page only.
func TestBusyNamesOnlyTheCallersSale(t *testing.T) {
	a := startDemoWithPages(t)
	pa, pb := openPage(t, a.URL(), originA), openPage(t, a.URL(), originB)
	pa.send(map[string]any{"type": "sale", "id": "req-of-a", "amount": "3.00", "transaction_api_id": "sale-of-a"})
	pa.reply("prompt", "req-of-a")
	pb.send(map[string]any{"type": "sale", "id": "b1", "amount": "4.00"})
	r := pb.reply("accepted", "b1")
	if r["code"] != engine.CodeBusy || strings.Contains(str(r["_raw"]), "of-a") {
		t.Errorf("busy to another page: %s", r["_raw"])
	}
	pa.send(map[string]any{"type": "sale", "id": "a2", "amount": "4.00"})
	if r := pa.reply("accepted", "a2"); r["code"] != engine.CodeBusy || !strings.Contains(str(r["_raw"]), "sale-of-a") {
		t.Errorf("busy to the owner: %s", r["_raw"])
	}
	pa.send(map[string]any{"type": "cancel", "id": "req-of-a"})
	pa.result("req-of-a")
	pb.send(map[string]any{"type": "sale", "id": "b2", "amount": "4.00", "transaction_api_id": "sale-of-a"})
	if r := pb.reply("accepted", "b2"); r["code"] != engine.CodeDuplicateID || strings.Contains(str(r["_raw"]), "req-of-a") || strings.Contains(str(r["_raw"]), originA) {
		t.Errorf("duplicate_id to another page: %s", r["_raw"])
	}
}
