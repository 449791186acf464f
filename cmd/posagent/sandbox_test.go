package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// The seed's idtech sample (shared/seeds/002, "Encryption Examples"): a
// Mastercard gift card read by an ID TECH demo reader with the ANSI test BDK.
const seedIDTechSample = "02BD01801F432800039B%*5428********0254^YOU/A GIFT FOR^*******************************?*;5428********0254=********************?*11B25549D1CCD691EC3061E18D673F06689B6A778B8EA8329B3D54C2AB9D7C13DCBBFA52C32BC677433B9FE645DFFCB75A5436DF46E45552EE60DDB582757C73CE6F20F262DE2B9D02AEF88E39C7C22FD64D97A76A82DA6E885AA58BCB11218675ECB88D7FA521258A72293D8C7521054EAA426941F43C98573456204A48E08B40853A0701F062422FE5656423AFA9F3011E17E8101FB9396299490073000420000232B603"

// TestSandboxCommand starts `posagent sandbox` in process on a free port,
// runs a real HTTP sale with the seed sample and stops it with the context,
// as SIGINT does.
func TestSandboxCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	exit := make(chan int, 1)
	go func() {
		exit <- runSandbox(ctx, []string{"--listen", "127.0.0.1:0"}, nil, pw, &stderr)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("no output; stderr: %s", stderr.String())
	}
	first := sc.Text()
	base, ok := strings.CutPrefix(first, "posagent sandbox serving ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q", first)
	}
	var banner strings.Builder
	for sc.Scan() {
		banner.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Stop with") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	for _, want := range []string{sandbox.DeveloperID, sandbox.UserID, sandbox.UserAPIKey, sandbox.PaidYETSubdomain, sandbox.LocationID} {
		if !strings.Contains(banner.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, banner.String())
		}
	}

	body, _ := json.Marshal(map[string]any{"transaction": map[string]any{
		"action": "sale", "payment_method": "cc", "transaction_amount": "12.34", "entry_mode_id": "S",
		"e_format": "idtech", "e_track_data": seedIDTechSample, "e_serial_number": "62994900730004200002",
		"transaction_api_id": "cmd-test-1",
	}})
	req, _ := http.NewRequest(http.MethodPost, base+"/v2/transactions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("developer-id", sandbox.DeveloperID)
	req.Header.Set("user-id", sandbox.UserID)
	req.Header.Set("user-api-key", sandbox.UserAPIKey)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out struct {
		Transaction struct {
			StatusID    int    `json:"status_id"`
			LastFour    string `json:"last_four"`
			EntryModeID string `json:"entry_mode_id"`
		} `json:"transaction"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("sale: %d %v %s", resp.StatusCode, err, raw)
	}
	if out.Transaction.StatusID != 101 || out.Transaction.LastFour != "0254" || out.Transaction.EntryModeID != "S" {
		t.Errorf("sale result %+v", out.Transaction)
	}
	if strings.Contains(string(raw), "11B25549D1CCD691") {
		t.Error("response echoes the ciphertext")
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("exit %d; stderr: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not stop on cancel")
	}
	if _, err := client.Get(base + "/v2/transactions"); err == nil {
		t.Error("server still answering after stop")
	}
}

func TestSandboxRefusesNonLoopback(t *testing.T) {
	for _, args := range [][]string{{"--listen", "0.0.0.0:0"}, {"--listen", ":7381"}, {"--listen", "192.0.2.1:7381"}, {"--listen", "nonsense"}} {
		var out, errb bytes.Buffer
		if code := runSandbox(context.Background(), args, nil, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if !strings.Contains(errb.String(), "loopback") && !strings.Contains(errb.String(), "listen address") {
			t.Errorf("%v: stderr %q", args, errb.String())
		}
	}
	for _, addr := range []string{"127.0.0.1:1", "[::1]:1", "localhost:1"} {
		if err := sandboxLoopbackOnly(addr); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestSandboxInsecureListenAny(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stop at once: the test is that the address is accepted
	var out, errb bytes.Buffer
	if code := runSandbox(ctx, []string{"--listen", "0.0.0.0:0", "--insecure-listen-any"}, nil, &out, &errb); code != 0 {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "posagent sandbox serving http://") {
		t.Errorf("stdout %q", out.String())
	}
}
