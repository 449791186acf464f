package payaconnect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// captureDir holds the public reader captures the parsers are tested on
// (copies of shared/reference/captures).
const captureDir = "../../decrypt/testdata"

// referenceCaptures classifies every capture of shared/reference/captures
// (captures.md). decrypts: the public test BDK decrypts its card number, so
// it must go through the sandbox to a card-number outcome. Otherwise why
// says why it cannot.
var referenceCaptures = []struct {
	file     string
	decrypts bool
	reason   int // the sandbox's answer to this card number at 12.50
	why      string
}{
	{file: "idtech_vp3300_contact_emv_tlv.hex", decrypts: true, reason: 1000},      // chip (§2)
	{file: "idtech_neo2_ctls_mastercard_record.hex", decrypts: true, reason: 1000}, // tap (§3)
	{file: "idtech_vp3350_0240_swipe_frame.hex", decrypts: true, reason: 1000},     // IDG swipe (§1)
	// MagTek's manual card fails the Luhn check: the sandbox declines it
	// as ACCOUNT ERROR, which only a decrypted card number can tell.
	{file: "magtek_v5_hid_report_856.hex", decrypts: true, reason: 1608}, // swipe (§7)
	{file: "magtek_v5_kb_string.txt", decrypts: true, reason: 1608},      // swipe (§8)
	{file: "magtek_arqc_aes_ff42.hex", why: "its FF42 block holds name and expiry, no card number (§9)"},
	{file: "magtek_arqc_webhid_unigate.hex", why: "not the test BDK (§10)"},
	{file: "magtek_arqc_dynamag_manual_legacy.hex", why: "non-standard chaining, block 1 only (§11)"},
	{file: "idtech_augusta_kb_emv_tlv.hex", why: "not the test BDK (§10)"},
	{file: "idtech_augusta_kb_msr.txt", why: "not the test BDK (§10)"},
	{file: "idtech_vp5300_kb_msr.txt", why: "Bluefin's key, not the test BDK (§10)"},
	{file: "idtech_authnet_msr_binary.hex", why: "not the test BDK (§10)"},
	{file: "idtech_vendi_neo_0300_unencrypted_frame.hex", why: "not encrypted: refused as clear data (§4)"},
	{file: "idtech_neo2_manual_frames.txt", why: "command frames, no card read (§5)"},
	{file: "idtech_vp3300_ble_poll_response_padded.hex", why: "a poll response, no card read (§6)"},
}

// TestReferenceCapturesThroughSandbox: every capture the test BDK decrypts
// goes the agent's way end to end: decrypt.Decode (what posagent decode and
// the reader path run), the fields this client sends, the sandbox over real
// HTTP. Each reaches the outcome of its card number (approved, or account
// error for a number that fails Luhn, with the card's own BIN and last
// four, which only a decryption can give the sandbox), never 1621
// ENCRYPTION ERROR.
func TestReferenceCapturesThroughSandbox(t *testing.T) {
	if ref := filepath.Join("..", "..", "..", "..", "shared", "reference", "captures"); dirExists(ref) {
		// Guard: a capture added to the reference set must be classified here.
		ents, err := os.ReadDir(ref)
		if err != nil {
			t.Fatal(err)
		}
		known := map[string]bool{}
		for _, c := range referenceCaptures {
			known[c.file] = true
		}
		for _, e := range ents {
			if !known[e.Name()] {
				t.Errorf("reference capture %s is not classified in referenceCaptures", e.Name())
			}
		}
	}
	// The captures' test cards have expired since they were recorded; the
	// sandbox keeps approving these published reads (docs/sandbox.md,
	// "Expired published reads"), on today's date as an integrator meets it.
	srv := newServer(t, sandbox.New(sandbox.Options{}))
	c := testClient(t, srv.URL, func(o *Options) {
		o.DeveloperID, o.UserID, o.UserAPIKey = sandbox.DeveloperID, sandbox.UserID, sandbox.UserAPIKey
		o.LocationID, o.ProductTransactionID = sandbox.LocationID, sandbox.ProductCCID
	})
	for _, tc := range referenceCaptures {
		if !tc.decrypts {
			continue
		}
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(captureDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			read, err := decrypt.Decode(raw, decrypt.Options{})
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			res, err := c.Do(t.Context(), gateway.Request{Action: gateway.ActionSale, Amount: 1250,
				TransactionAPIID: "cap-" + strings.TrimSuffix(tc.file, filepath.Ext(tc.file)), Read: &read})
			if res == nil {
				t.Fatalf("sale: %v", err)
			}
			if res.ReasonCode != tc.reason {
				t.Errorf("status %d reason %d %q (%v), want reason %d", res.StatusID, res.ReasonCode, res.Verbiage, err, tc.reason)
			}
			if approved := tc.reason == 1000; (err == nil) != approved || (res.StatusID == 101) != approved {
				t.Errorf("status %d, error %v", res.StatusID, err)
			}
			// The agent masks all but the first four; the gateway shows six.
			if len(res.MaskedPAN) < 6 || res.LastFour != read.LastFour() || string(res.MaskedPAN)[:4] != string(read.MaskedPAN)[:4] {
				t.Errorf("gateway read card %s, the agent showed %s", res.MaskedPAN, read.MaskedPAN)
			}
			if res.EntryMode != read.EntryMode {
				t.Errorf("entry mode %q, sent %q", res.EntryMode, read.EntryMode)
			}
		})
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
