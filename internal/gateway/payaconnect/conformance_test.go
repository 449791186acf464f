package payaconnect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/sandbox"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/replay"
	"github.com/posagent/posagent/internal/reader/sim"
)

// checkingSandbox is the embedded sandbox behind a real HTTP server that
// runs every transactions-endpoint body it gets through the sandbox's own
// request rules (sandbox.CheckPayaRequest) and records what they refuse.
type checkingSandbox struct {
	mu      sync.Mutex
	refused []string
	sent    map[string]int // action/method -> requests seen
}

func newCheckingSandbox(t *testing.T) (*checkingSandbox, string) {
	cs := &checkingSandbox{sent: map[string]int{}}
	sb := sandbox.New(sandbox.Options{Sleep: func(context.Context, time.Duration) error { return nil }})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/transactions") && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var env struct {
				Transaction struct {
					Action string `json:"action"`
				} `json:"transaction"`
			}
			_ = json.Unmarshal(body, &env)
			key := r.Method + " " + env.Transaction.Action
			errs := sandbox.CheckPayaRequest(r.Method == http.MethodPut, body)
			cs.mu.Lock()
			cs.sent[key]++
			if errs != nil {
				cs.refused = append(cs.refused, fmt.Sprintf("%s: %v", key, errs))
			}
			cs.mu.Unlock()
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return cs, srv.URL
}

// simReads are reads of the simulator: every model, and every entry mode
// of the VP3300 (swipe, chip, tap, fallback swipe).
func simReads(t *testing.T) map[string]*card.Read {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]*card.Read{}
	for _, m := range sim.Models {
		modes := []card.EntryMode{card.EntrySwiped}
		if m == sim.ModelVP3300 {
			modes = []card.EntryMode{card.EntrySwiped, card.EntryChip, card.EntryProximity, card.EntryFallback}
		}
		d, err := sim.NewDriver(sim.Options{Model: m})
		if err != nil {
			t.Fatal(err)
		}
		devs, err := d.Scan(ctx)
		if err != nil || len(devs) != 1 {
			t.Fatalf("sim scan %s: %v", m, err)
		}
		r, err := d.Open(ctx, devs[0])
		if err != nil {
			t.Fatal(err)
		}
		events := make(chan reader.Event, 16)
		runCtx, stop := context.WithCancel(ctx)
		go func() { _ = r.Run(runCtx, func(ev reader.Event) { events <- ev }) }()
		for _, mode := range modes {
			if err := r.Arm(ctx, reader.Transaction{AmountCents: 1000, Timeout: 20 * time.Second}); err != nil {
				t.Fatalf("arm %s: %v", m, err)
			}
			if err := d.Simulate(ctx, sim.SimCard{PAN: "4111111111111111", EntryMode: mode}); err != nil {
				t.Fatalf("simulate %s %s: %v", m, mode, err)
			}
			out[fmt.Sprintf("sim %s %s", m, mode)] = nextRead(t, ctx, events)
		}
		stop()
		_ = r.Close()
	}
	return out
}

func nextRead(t *testing.T, ctx context.Context, events <-chan reader.Event) *card.Read {
	t.Helper()
	for {
		select {
		case ev := <-events:
			switch ev.Kind {
			case reader.EventCard:
				if ev.Complete != nil {
					// A contact chip read holds the card until the host
					// answers: release it, or the reader cannot be armed
					// for the next mode.
					if _, err := ev.Complete(ctx, reader.HostResponse{ARC: reader.ARCDeclined}); err != nil {
						t.Fatalf("completion: %v", err)
					}
				}
				return ev.Read
			case reader.EventRefused, reader.EventBroken:
				t.Fatalf("reader: %s %v", ev.Kind, ev.Err)
			}
		case <-ctx.Done():
			t.Fatal("no read")
		}
	}
}

// captureReads are the reads the recorded transcripts of real readers give
// (internal/reader/replay/testdata: ID TECH SecureMag, VP3300, VP3350,
// MagTek Dynamag and keyboard).
func captureReads(t *testing.T) map[string]*card.Read {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "reader", "replay", "testdata", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	out := map[string]*card.Read{}
	for _, f := range files {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		d := &replay.Driver{Files: []string{f}, Log: slog.New(slog.DiscardHandler)}
		devs, err := d.Scan(ctx)
		if err != nil || len(devs) != 1 || devs[0].Broken != "" {
			cancel()
			t.Fatalf("scan %s: %v %+v", f, err, devs)
		}
		r, err := d.Open(ctx, devs[0])
		if err != nil {
			cancel()
			t.Fatalf("open %s: %v", f, err)
		}
		var reads []*card.Read
		done := make(chan error, 1)
		go func() {
			done <- r.Run(ctx, func(ev reader.Event) {
				if ev.Kind == reader.EventCard {
					reads = append(reads, ev.Read)
				}
			})
		}()
		if r.Info().EMV {
			_ = r.Arm(ctx, reader.Transaction{AmountCents: 1250, Timeout: 30 * time.Second})
		}
		<-done
		_ = r.Close()
		cancel()
		for i, rd := range reads {
			out[fmt.Sprintf("capture %s #%d", filepath.Base(f), i)] = rd
		}
	}
	return out
}

// seedReads are the seed's four "Encryption Examples" as reads.
func seedReads(t *testing.T) map[string]*card.Read {
	out := map[string]*card.Read{"seed idtech": seedRead()}
	ksn, _ := card.ParseKSN(seedKSN)
	for _, f := range []card.Format{card.FormatMagneSafe, card.FormatKSN, card.FormatKSNPIN} {
		r := seedRead()
		r.Envelope = card.Envelope{Format: f, Data: sandboxSeedSample(t, f), KSN: ksn}
		out["seed "+string(f)] = r
	}
	return out
}

// TestClientConformsToSandboxRules runs every request the client can build
// — each action, each entry mode, with the simulator's, the captures' and
// the seed's envelopes — against the embedded sandbox, and checks each body
// the client sent with the sandbox's own request rules: the client must
// never send what the sandbox refuses.
func TestClientConformsToSandboxRules(t *testing.T) {
	cs, url := newCheckingSandbox(t)
	c := testClient(t, url, func(o *Options) { o.LocationID, o.ProductTransactionID = sandbox.LocationID, sandbox.ProductCCID })
	ach := testClient(t, url, func(o *Options) { o.LocationID, o.ProductTransactionID = sandbox.LocationID, sandbox.ProductACHID })
	ctx := context.Background()

	reads := seedReads(t)
	for k, v := range simReads(t) {
		reads[k] = v
	}
	captures := captureReads(t)
	if len(captures) < 5 {
		t.Fatalf("only %d capture reads", len(captures))
	}
	for k, v := range captures {
		reads[k] = v
	}
	names := make([]string, 0, len(reads))
	for k := range reads {
		names = append(names, k)
	}
	sort.Strings(names)

	var sent int
	do := func(name string, req gateway.Request) *gateway.Result {
		t.Helper()
		sent++
		res, err := c.Do(ctx, req)
		if err != nil && gateway.IsInvalid(err) {
			t.Errorf("%s %s: the client refused its own request: %v", name, req.Action, err)
		}
		if err != nil && gateway.IsRejected(err) {
			t.Errorf("%s %s: the sandbox refused it: %v", name, req.Action, err)
		}
		return res
	}
	for _, name := range names {
		rd := reads[name]
		id := gatewayID
		sale := do(name, gateway.Request{Action: gateway.ActionSale, Amount: 1500, Read: rd, TransactionAPIID: id("s"),
			OrderNum: "A1001", Description: "conformance", Billing: gateway.Billing{Street: "5800 NW 39th AVE", Zip: "32606"}})
		auth := do(name, gateway.Request{Action: gateway.ActionAuthOnly, Amount: 2000, Read: rd, TransactionAPIID: id("a")})
		do(name, gateway.Request{Action: gateway.ActionAVSOnly, Read: rd, TransactionAPIID: id("v"),
			Billing: gateway.Billing{Street: "5800 NW 39th AVE", Zip: "32606"}})
		do(name, gateway.Request{Action: gateway.ActionForce, Amount: 300, AuthCode: "123456", Read: rd, TransactionAPIID: id("f")})
		do(name, gateway.Request{Action: gateway.ActionRefund, Amount: 100, Read: rd, TransactionAPIID: id("r")})
		if sale != nil && sale.StatusID == StatusSaleApproved {
			do(name, gateway.Request{Action: gateway.ActionTipAdjust, Amount: 1800, TransactionID: sale.ID})
			do(name, gateway.Request{Action: gateway.ActionPartialReversal, Amount: 1200, TransactionID: sale.ID})
			do(name, gateway.Request{Action: gateway.ActionRefund, Amount: 200, TransactionID: sale.ID, TransactionAPIID: id("p")})
			do(name, gateway.Request{Action: gateway.ActionSale, Amount: 100, TransactionID: sale.ID, TransactionAPIID: id("g")})
		}
		if auth != nil && auth.StatusID == StatusAuthOnlyApproved {
			do(name, gateway.Request{Action: gateway.ActionAuthIncrement, Amount: 2500, TransactionID: auth.ID})
			do(name, gateway.Request{Action: gateway.ActionAuthComplete, Amount: 2400, TransactionID: auth.ID, Description: "done"})
			do(name, gateway.Request{Action: gateway.ActionVoid, TransactionID: auth.ID})
		}
	}
	// ACH debit and credit.
	debit, err := ach.Do(ctx, gateway.Request{Action: gateway.ActionDebit, Amount: 1000, TransactionAPIID: gatewayID("d"), ACH: &gateway.ACHAccount{
		HolderName: "Test Account", AccountType: "Checking", AccountNumber: "01234567890", Routing: "072000326", SECCode: "ppd"}})
	if err != nil {
		t.Fatalf("debit: %v", err)
	}
	if _, err := ach.Do(ctx, gateway.Request{Action: gateway.ActionCredit, Amount: 1000, TransactionID: debit.ID, TransactionAPIID: gatewayID("c"),
		ACH: &gateway.ACHAccount{SECCode: "CCD"}}); err != nil {
		t.Errorf("credit: %v", err)
	}
	// A stored-card sale: the sandbox keeps no vaults (a state rule), but the
	// body itself must pass the request rules.
	tok, err := c.BuildRequest(gateway.Request{Action: gateway.ActionSale, Amount: 100, Token: "11ef5a4dbee0ffee1c0ca7aa", TransactionAPIID: gatewayID("t")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"transaction": tok})
	if errs := sandbox.CheckPayaRequest(false, body); errs != nil {
		t.Errorf("token sale: %v", errs)
	}

	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, r := range cs.refused {
		t.Errorf("sandbox rules refuse what the client sent: %s", r)
	}
	for _, want := range []string{"POST sale", "POST authonly", "POST avsonly", "POST force", "POST refund", "POST debit", "POST credit",
		"PUT tipadjust", "PUT partialreversal", "PUT authincrement", "PUT authcomplete", "PUT void"} {
		if cs.sent[want] == 0 {
			t.Errorf("no %s request reached the sandbox", want)
		}
	}
	t.Logf("%d reads (%d captures), requests by action: %v", len(reads), len(captures), cs.sent)
}

// The other three samples of the seed's "Encryption Examples" (as in the
// sandbox's seeds_test.go).
var seedSamples = map[card.Format]string{
	card.FormatMagneSafe: "%*5428********0254^YOU/A GIFT FOR^*******************************?*;5428********0254=********************?*|1|41110C1670EC146DC3970151CE0BC0385CD59CA04D798B9D325A3638237240B35DA7309EEBF35CC9CAC92AB6B3CC5BBCB542CE2075094542393CA4A7EF1320E094EA5A1A1829D619|208540237170186B1A2E0DC26CFA29B42CEE62DA313C6EFCD11227456599FBBAFAA8C64311B296D8|1|1|1|1|1|62994900730004200002",
	card.FormatKSN:       "%*5428********0254^YOU/A GIFT FOR^*******************************?*;5428********0254=********************?*|11B25549D1CCD691EC3061E18D673F06689B6A778B8EA8329B3D54C2AB9D7C13DCBBFA52C32BC677433B9FE645DFFCB75A5436DF46E45552EE60DDB582757C73CE6F20F262DE2B9D|02AEF88E39C7C22FD64D97A76A82DA6E885AA58BCB11218675ECB88D7FA521258A72293D8C752105",
	card.FormatKSNPIN:    "%*5428********0254^YOU/A GIFT FOR^*******************************?*;5428********0254=********************?*|41110C1670EC146DC3970151CE0BC0385CD59CA04D798B9D325A3638237240B35DA7309EEBF35CC9CAC92AB6B3CC5BBCB542CE2075094542393CA4A7EF1320E094EA5A1A1829D619|208540237170186B1A2E0DC26CFA29B42CEE62DA313C6EFCD11227456599FBBAFAA8C64311B296D8",
}

func sandboxSeedSample(t *testing.T, f card.Format) string {
	t.Helper()
	s, ok := seedSamples[f]
	if !ok {
		t.Fatalf("no seed sample for %s", f)
	}
	return s
}

// TestAESKSNStaysInTheData: a magnesafe read with a 24-digit AES KSN
// carries its KSN in the data; the client sends it without
// e_serial_number (a 20-character field) instead of refusing the sale,
// and the body passes the sandbox's rules. A ksn-form read with such a KSN
// has nowhere else to put it and is refused before sending.
func TestAESKSNStaysInTheData(t *testing.T) {
	const aes = "FFFF9876543210E000000001"
	ksn, err := card.ParseKSN(aes)
	if err != nil {
		t.Fatal(err)
	}
	c := testClient(t, "http://127.0.0.1:1")
	ms := seedSamples[card.FormatMagneSafe]
	rd := seedRead()
	rd.Envelope = card.Envelope{Format: card.FormatMagneSafe, Data: strings.Replace(ms, seedKSN, aes, 1), KSN: ksn}
	tr, err := c.BuildRequest(gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: rd, TransactionAPIID: "aes1"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.ESerialNumber != "" {
		t.Errorf("e_serial_number %q sent beside data that carries the KSN", tr.ESerialNumber)
	}
	if errs := validate(tr); len(errs) > 0 {
		t.Errorf("client refuses: %v", errs)
	}
	body, _ := json.Marshal(map[string]any{"transaction": tr})
	if errs := sandbox.CheckPayaRequest(false, body); errs != nil {
		t.Errorf("sandbox rules refuse: %v", errs)
	}
	rd.Envelope = card.Envelope{Format: card.FormatKSN, Data: "masked|00|00", KSN: ksn}
	if err := c.Precheck(gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: rd}); !gateway.IsInvalid(err) {
		t.Errorf("ksn form with an AES KSN: %v, want refused before sending", err)
	}
}
