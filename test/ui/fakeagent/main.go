//go:build !headless

// Command fakeagent opens the real cashier window (GL driver) on the
// in-memory fake backend and plays an approved chip sale, so the window can
// be smoke-tested under Xvfb without the agent. test/ui/smoke.sh runs it.
//
//	go run ./test/ui/fakeagent [-quit-after 20s]
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/ui"
	"github.com/posagent/posagent/internal/ui/uitest"
)

func main() {
	quitAfter := flag.Duration("quit-after", 0, "quit after this long (0: run until closed from the tray or interrupted)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *quitAfter > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *quitAfter)
		defer cancel()
	}

	b := uitest.New()
	b.Simulated = true
	go play(ctx, b)
	if err := ui.Run(ctx, b, ui.Options{Title: "posagent", Version: "smoke", Logger: log}); err != nil {
		log.Error("cashier window", "err", err)
		os.Exit(1)
	}
}

// play emits one approved chip sale, as the agent would for a POS-page sale.
func play(ctx context.Context, b *uitest.Backend) {
	steps := []ui.Event{
		{Kind: ui.EventPrompt, SaleID: "demo-1", Prompt: sale.PromptPresentCard},
		{Kind: ui.EventCard, SaleID: "demo-1", Card: &sale.Card{EntryMode: "C", Brand: "mc", MaskedPAN: "541333******0254", LastFour: "0254"}},
		{Kind: ui.EventPrompt, SaleID: "demo-1", Prompt: sale.PromptProcessing},
		{Kind: ui.EventResult, SaleID: "demo-1", Result: &sale.Result{
			Outcome: sale.OutcomeApproved, Action: "sale", TransactionID: "11ee0a1b2c3d4e5f", AuthCode: "A1B2C3", Amount: "12.34",
			EntryMode: "C", Brand: "mc", MaskedPAN: "541333******0254", LastFour: "0254", Verbiage: "APPROVED",
			Receipt: card.Receipt{AID: "A0000000041010", TVR: "0000008000", TSI: "E800", TC: "8A1B2C3D4E5F6071", APPLAB: "MASTERCARD", CVM: "1E0300"},
		}},
	}
	for _, ev := range steps {
		select {
		case <-ctx.Done():
			return
		case <-time.After(700 * time.Millisecond):
		}
		b.Emit(ev)
	}
}
