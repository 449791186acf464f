package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// TestDecodeThenSandboxChipCaptures is issue 20's reproduction with the
// commands themselves: `posagent decode --format vivopay` on the public
// VP3300 contact and NEO 2 contactless captures, its fields posted to
// `posagent sandbox` over HTTP. The sandbox reads the card (its BIN and last
// four come back) and approves; it used to decline 1621 ENCRYPTION ERROR.
func TestDecodeThenSandboxChipCaptures(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	exit := make(chan int, 1)
	go func() {
		exit <- runSandbox(ctx, []string{"--listen", "127.0.0.1:0"}, nil, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatal("posagent sandbox printed nothing")
	}
	base, ok := strings.CutPrefix(sc.Text(), "posagent sandbox serving ")
	if !ok {
		t.Fatalf("first line %q", sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	t.Cleanup(func() {
		cancel()
		<-exit
	})
	client := &http.Client{Timeout: 10 * time.Second}
	for i, tc := range []struct{ file, entry string }{
		{"idtech_vp3300_contact_emv_tlv.hex", "C"},
		{"idtech_neo2_ctls_mastercard_record.hex", "P"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			code, out, errOut := run(t, "", "decode", "--format", "vivopay", filepath.Join(samples, tc.file))
			if code != 0 {
				t.Fatalf("decode exit %d: %s %s", code, out, errOut)
			}
			var d map[string]any
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatal(err)
			}
			if d["entry_mode_id"] != tc.entry {
				t.Fatalf("decode entry mode %v", d["entry_mode_id"])
			}
			body, _ := json.Marshal(map[string]any{"transaction": map[string]any{
				"action": "sale", "payment_method": "cc", "transaction_amount": "12.50",
				"e_format": d["e_format"], "e_track_data": d["e_track_data"], "e_serial_number": d["e_serial_number"],
				"entry_mode_id": d["entry_mode_id"], "transaction_api_id": "chip-capture-" + string(rune('a'+i)),
			}})
			req, _ := http.NewRequest(http.MethodPost, base+"/v2/transactions", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("developer-id", sandbox.DeveloperID)
			req.Header.Set("user-id", sandbox.UserID)
			req.Header.Set("user-api-key", sandbox.UserAPIKey)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var res struct {
				Transaction struct {
					StatusID     int    `json:"status_id"`
					ReasonCodeID int    `json:"reason_code_id"`
					FirstSix     string `json:"first_six"`
					LastFour     string `json:"last_four"`
					EntryModeID  string `json:"entry_mode_id"`
				} `json:"transaction"`
			}
			if err := json.Unmarshal(raw, &res); err != nil || resp.StatusCode != http.StatusCreated {
				t.Fatalf("sale: %d %v %s", resp.StatusCode, err, raw)
			}
			tr := res.Transaction
			masked, _ := d["masked_pan"].(string)
			if tr.StatusID != 101 || tr.ReasonCodeID != 1000 || tr.EntryModeID != tc.entry ||
				len(masked) < 4 || !strings.HasPrefix(tr.FirstSix, masked[:4]) || tr.LastFour != d["last_four"] {
				t.Errorf("sandbox answered %+v for %s", tr, masked)
			}
		})
	}
}
