package main

import (
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/posagent/posagent/internal/engine/journal"
	"github.com/posagent/posagent/internal/leakscan"
)

// TestWebsocketCaptureIsScanned: every frame the client sends and receives
// lands in the capture as one plain line, and a card number planted in a
// received frame — even one spread over lines — is found by the leak scan:
// the capture does not hide what went over the wire.
func TestWebsocketCaptureIsScanned(t *testing.T) {
	pan := leakscan.TestCards[0]
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
			// A leak as the agent could write it: pretty-printed JSON.
			reply := "{\n  \"type\": \"welcome\",\n  \"id\": \"h\",\n  \"pan\": \"" + pan + "\"\n}\n"
			if err := ws.WriteMessage(websocket.TextMessage, []byte(reply)); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	port, err := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	if err != nil {
		t.Fatal(err)
	}
	var capture strings.Builder
	c := &client{port: port, capture: &capture}
	if err := c.connect(); err != nil {
		t.Fatal(err)
	}
	c.close()
	if c.capErr != nil {
		t.Fatal(c.capErr)
	}
	lines := strings.Split(strings.TrimSuffix(capture.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], " send {\"id\":\"h\",\"type\":\"hello\"}") || !strings.Contains(lines[1], " recv {") {
		t.Fatalf("capture has %d lines, want the hello sent and the welcome received, one line each", len(lines))
	}
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(lines[0])[0]); err != nil {
		t.Errorf("capture line does not start with a time: %v", err)
	}
	found, err := leakscan.Scan(wsCaptureFile, strings.NewReader(capture.String()), leakscan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Kind != "pan" || found[0].Line != 2 {
		t.Errorf("scan of the capture: %v, want the card number on line 2", found)
	}
}

// TestWorkDir: a given directory is created when absent and refused when
// it holds anything, since an old journal would be reconciled as this run's.
func TestWorkDir(t *testing.T) {
	base := t.TempDir()
	tests := []struct {
		name    string
		prepare func(dir string) error
		wantErr bool
	}{
		{"absent", func(string) error { return nil }, false},
		{"empty", func(dir string) error { return os.Mkdir(dir, 0o700) }, false},
		{"holds a journal", func(dir string) error {
			if err := os.MkdirAll(filepath.Join(dir, stateDirectory), 0o700); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, stateDirectory, "journal.db"), []byte("old"), 0o600)
		}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, strconv.Itoa(i))
			if err := tt.prepare(dir); err != nil {
				t.Fatal(err)
			}
			got, err := workDir(dir)
			switch {
			case tt.wantErr && err == nil:
				t.Errorf("workDir accepted a directory that %s", tt.name)
			case !tt.wantErr && err != nil:
				t.Errorf("workDir: %v", err)
			case !tt.wantErr && got != dir:
				t.Errorf("workDir = %s, want %s", got, dir)
			}
		})
	}
}

// TestSlowDelays: slow answers straddle the agent's gateway timeout, so
// that both a late success and a timeout resolved by lookup are drawn, and
// stay bounded, so that they cannot stretch the run.
func TestSlowDelays(t *testing.T) {
	if !(0 < slowMin && slowMin < gatewayTimeout && gatewayTimeout < slowMax && slowMax <= 2*gatewayTimeout) {
		t.Errorf("slow delays [%v, %v) against the %v timeout: want them on both sides of it and at most twice it", slowMin, slowMax, gatewayTimeout)
	}
}

// TestReportFailsOnCompletionFaults: a charge standing for a chip card that
// did not accept the approval, or a transaction voided twice, fails the run.
func TestReportFailsOnCompletionFaults(t *testing.T) {
	for _, r := range []report{{standing: 1}, {doubleVoids: 1}} {
		if r.ok() {
			t.Errorf("%+v passes", r)
		}
	}
	if !(report{}).ok() {
		t.Error("a clean report fails")
	}
}

// TestOldSalesReconcile: a seeded old sale found in both the journal and
// the archive is a duplicate, one found nowhere is lost, a torn last
// archive line is no record, and either fails the run.
func TestOldSalesReconcile(t *testing.T) {
	state := t.TempDir()
	s := oldSales{batch: 5}
	if err := s.seed(rand.New(rand.NewSource(1)), state); err != nil {
		t.Fatal(err)
	}
	if err := s.reconcile(state); err != nil {
		t.Fatal(err)
	}
	if s.lost != 0 || s.dup != 0 || len(s.seeded) != 5 {
		t.Fatalf("freshly seeded: %d seeded, %d lost, %d duplicated; want 5, 0, 0", len(s.seeded), s.lost, s.dup)
	}
	dir := journal.ArchiveDir(filepath.Join(state, "journal.db"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	archive := `{"transaction_api_id":"` + s.seeded[0] + `","state":"done"}` + "\n" + `{"transaction_api_id":"` + s.seeded[1] + `"}`
	if err := os.WriteFile(filepath.Join(dir, "journal-2026-12-01.jsonl"), []byte(archive), 0o600); err != nil {
		t.Fatal(err)
	}
	s.seeded = append(s.seeded, "old-9999999") // seeded, then gone
	s.lost, s.dup = 0, 0
	if err := s.reconcile(state); err != nil {
		t.Fatal(err)
	}
	if s.lost != 1 || s.dup != 1 {
		t.Errorf("one sale both live and archived, one nowhere, one torn line: %d lost, %d duplicated; want 1, 1", s.lost, s.dup)
	}
	for _, r := range []report{{old: oldSales{lost: 1}}, {old: oldSales{dup: 1}}} {
		if r.ok() {
			t.Errorf("%+v passes", r.old)
		}
	}
}
