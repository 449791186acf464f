package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// fakeCard is a contact chip card waiting for its host response.
type fakeCard struct {
	mu       sync.Mutex
	told     []string // the 8A values it was told
	approves bool     // its answer to "00" at the second GENERATE AC
	err      error
}

func (c *fakeCard) complete(_ context.Context, hr reader.HostResponse) (reader.CardDecision, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.told = append(c.told, hr.ARC)
	if c.err != nil {
		return reader.CardDecision{}, c.err
	}
	if hr.ARC == reader.ARCApproved && c.approves {
		return reader.CardDecision{Approved: true, Cryptogram: "TC", ARC: hr.ARC}, nil
	}
	return reader.CardDecision{Cryptogram: "AAC", ARC: hr.ARC}, nil
}

func (c *fakeCard) toldSoFar() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.told...)
}

// update waits for any update about apiID, failing after 5 s.
func (h *harness) update(apiID string) sale.Update {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case u := <-h.upd:
			if u.TransactionAPIID == apiID {
				return u
			}
		case <-deadline:
			h.t.Fatalf("no update for %s", apiID)
		}
	}
}

func (h *harness) insert(r *card.Read, c *fakeCard) {
	r.EntryMode = card.EntryChip
	h.e.HandleReaderEvent(reader.Event{Kind: reader.EventCard, Reader: simInfo, Read: r, Complete: c.complete})
}

// TestChipReadNotSent: a chip read no sale waits for is released at once
// (declined), not left in the slot.
func TestChipReadNotSent(t *testing.T) {
	h := newHarness(t, nil)
	c := &fakeCard{}
	h.insert(h.read(), c)
	h.next(sale.UpdateWarning, "")
	h.e.Close(5 * time.Second) // waits for the completion in flight
	if told := c.toldSoFar(); len(told) != 1 || told[0] != reader.ARCDeclined {
		t.Errorf("told %v, want [05]", told)
	}
	if len(h.gw.calls) != 0 {
		t.Errorf("sent %d requests", len(h.gw.calls))
	}
}

// TestSwipeHasNoCompletion: one-step reads are reported as before.
func TestSwipeHasNoCompletion(t *testing.T) {
	if hostARC(sale.OutcomeUnknown) != reader.ARCUnableOnline || hostARC(sale.OutcomeError) != reader.ARCDeclined {
		t.Fatal("host response codes")
	}
	h := newHarness(t, nil)
	rec := h.sale("12.50")
	h.swipe(h.read())
	for {
		u := h.update(rec.TransactionAPIID)
		if u.Kind == sale.UpdatePrompt && u.Prompt == sale.PromptRemoveCard {
			t.Fatal("remove_card for a swipe")
		}
		if u.Kind == sale.UpdateResult {
			return
		}
	}
}

// TestReadersDocHostResponse: the 8A table of docs/readers.md is hostARC.
func TestReadersDocHostResponse(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "readers.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]sale.Outcome{
		"| approved |":  sale.OutcomeApproved,
		"| declined |":  sale.OutcomeDeclined,
		"| error (":     sale.OutcomeError,
		"| **unknown**": sale.OutcomeUnknown,
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		for prefix, outcome := range rows {
			if !strings.HasPrefix(line, prefix) {
				continue
			}
			delete(rows, prefix)
			if want := "`" + hostARC(outcome) + "`"; !strings.Contains(line, want) {
				t.Errorf("docs row %q does not say %s", line, want)
			}
		}
	}
	for prefix := range rows {
		t.Errorf("docs/readers.md has no 8A row %q", prefix)
	}
}

// TestReceiptWholeEndToEnd: a chip read's card.Receipt — CryptogramType
// included — is what the result update, Get and the journal row carry (the
// journal's own Receipt copy had dropped CryptogramType on the way).
func TestReceiptWholeEndToEnd(t *testing.T) {
	h := newHarness(t, nil)
	rec := h.sale("12.50")
	r := h.read()
	r.Receipt = card.Receipt{TC: "8A1F2C3D4E5F6071", TVR: "0000008000", AID: "A0000000031010", TSI: "E800", ATC: "0001",
		APPLAB: "VISA CREDIT", APPN: "VISA", CVM: "1E0300", CryptogramType: "ARQC"}
	want := r.Receipt
	h.insert(r, &fakeCard{approves: true})
	res := h.next(sale.UpdateResult, rec.TransactionAPIID).Result
	if res.Receipt != want {
		t.Errorf("result update receipt %+v, want %+v", res.Receipt, want)
	}
	got, ok, err := h.e.Get(rec.TransactionAPIID)
	if err != nil || !ok || got.Receipt != want {
		t.Errorf("Get: %+v %v %v, want receipt %+v", got.Receipt, ok, err, want)
	}
	if stored := h.stored(rec.TransactionAPIID); stored.Receipt != want {
		t.Errorf("journal row receipt %+v, want %+v", stored.Receipt, want)
	}
}
