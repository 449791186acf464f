package gatewaytest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxyFaults checks each fault from the client's side and the
// backend's: what the client sees and whether the backend processed it.
func TestProxyFaults(t *testing.T) {
	var hits atomic.Int32
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits.Add(1)
		w.Header().Set("X-Backend", "yes")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(append([]byte("echo:"), b...))
	})
	p := NewProxy(backend)
	srv := httptest.NewServer(p)
	defer srv.Close()
	client := &http.Client{Timeout: 300 * time.Millisecond}
	post := func() (*http.Response, string, error) {
		resp, err := client.Post(srv.URL+"/v2/transactions", "application/json", strings.NewReader(`{"a":1}`))
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	tests := []struct {
		fault     Fault
		forwarded bool
		status    int // 0: the client gets an error
	}{
		{FaultNone, true, 201},
		{Fault429, false, 429},
		{Fault500AfterCommit, true, 500},
		{FaultResetAfterCommit, true, 0},
		{FaultResetBeforeCommit, false, 0},
		{FaultDelayAfterCommit, true, 0},
	}
	for _, tt := range tests {
		before := hits.Load()
		// A GET is not matched: the fault waits for the POST.
		p.Arm(tt.fault, func(r *http.Request) bool { return r.Method == http.MethodPost })
		if resp, err := client.Get(srv.URL + "/v2/locationinfos"); err != nil || resp.StatusCode != 201 {
			t.Fatalf("%s: unmatched GET was faulted: %v", tt.fault, err)
		} else {
			resp.Body.Close()
		}
		before++
		resp, body, err := post()
		if got := hits.Load() - before; (got == 1) != tt.forwarded {
			t.Errorf("%s: backend hits %d, want forwarded=%v", tt.fault, got, tt.forwarded)
		}
		switch {
		case tt.status == 0 && err == nil:
			t.Errorf("%s: client got %d, want an error", tt.fault, resp.StatusCode)
		case tt.status != 0 && err != nil:
			t.Errorf("%s: %v", tt.fault, err)
		case tt.status != 0 && resp.StatusCode != tt.status:
			t.Errorf("%s: status %d, want %d", tt.fault, resp.StatusCode, tt.status)
		case tt.fault == FaultNone && (body != `echo:{"a":1}` || resp.Header.Get("X-Backend") != "yes"):
			t.Errorf("passed through %q %v", body, resp.Header)
		case tt.fault == Fault429 && resp.Header.Get("Retry-After") != "1":
			t.Errorf("429 without Retry-After")
		}
		recs := p.Records()
		last := recs[len(recs)-1]
		if last.Fault != tt.fault || last.Forwarded != tt.forwarded || last.Method != "POST" || last.Path != "/v2/transactions" {
			t.Errorf("%s: record %+v", tt.fault, last)
		}
	}
	if n := p.Count(func(r Record) bool { return r.Forwarded && r.BackendStatus == 201 && r.Method == "POST" }); n != 4 {
		t.Errorf("counted %d committed POSTs, want 4", n)
	}
}

// TestDelayReleasesOnClientExit: the delayed handler returns as soon as the
// client gives up, so tests do not wait MaxDelay.
func TestDelayReleasesOnClientExit(t *testing.T) {
	p := NewProxy(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv := httptest.NewServer(p)
	p.Arm(FaultDelayAfterCommit, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader("x"))
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("delayed request answered in time")
	}
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("server still busy with the delayed request 5s after the client left")
	}
}
