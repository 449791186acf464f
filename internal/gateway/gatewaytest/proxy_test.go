package gatewaytest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/leakscan"
	"github.com/posagent/posagent/internal/syncbuf"
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

// TestSlowFault: FaultSlow forwards at once and delivers the backend's own
// answer after the delay; a client whose timeout is shorter gets nothing
// (the transaction exists all the same), and the handler lets go as soon
// as that client has left instead of sitting out the delay.
func TestSlowFault(t *testing.T) {
	tests := []struct {
		name          string
		arm           func(p *Proxy)
		delay         time.Duration
		clientTimeout time.Duration
		delivered     bool
	}{
		{"under the client's timeout", func(p *Proxy) { p.ArmSlow(400*time.Millisecond, nil) }, 400 * time.Millisecond, 10 * time.Second, true},
		{"default delay", func(p *Proxy) { p.Arm(FaultSlow, nil) }, DefaultSlowDelay, 10 * time.Second, true},
		{"over the client's timeout", func(p *Proxy) { p.ArmSlow(20*time.Second, nil) }, 20 * time.Second, 300 * time.Millisecond, false},
		{"capped at MaxDelay", func(p *Proxy) { p.ArmSlow(time.Hour, nil) }, MaxDelay, 300 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			p := NewProxy(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("X-Backend", "yes")
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"id":"t1"}`))
			}))
			srv := httptest.NewServer(p)
			tt.arm(p)
			client := &http.Client{Timeout: tt.clientTimeout}
			start := time.Now()
			resp, err := client.Post(srv.URL+"/v2/transactions", "application/json", strings.NewReader(`{"a":1}`))
			elapsed := time.Since(start)
			if n := hits.Load(); n != 1 {
				t.Errorf("backend hits %d, want 1: a slow answer is committed first", n)
			}
			switch {
			case tt.delivered && err != nil:
				t.Fatalf("slow answer not delivered: %v", err)
			case tt.delivered:
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusCreated || string(b) != `{"id":"t1"}` || resp.Header.Get("X-Backend") != "yes" {
					t.Errorf("delivered %d %q %v (%v), want the backend's 201 answer", resp.StatusCode, b, resp.Header, err)
				}
				if elapsed < tt.delay {
					t.Errorf("answered after %v, before the %v delay", elapsed, tt.delay)
				}
			case err == nil:
				resp.Body.Close()
				t.Fatalf("answered %d within the client's %v timeout, want a timeout", resp.StatusCode, tt.clientTimeout)
			}
			if recs := p.Records(); len(recs) != 1 || recs[0].Fault != FaultSlow || recs[0].Delay != tt.delay || !recs[0].Forwarded || recs[0].BackendStatus != http.StatusCreated {
				t.Errorf("records %+v, want one forwarded slow request with delay %v", recs, tt.delay)
			}
			done := make(chan struct{})
			go func() { srv.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("server still busy with the slow request 5s after the client left")
			}
		})
	}
}

// TestCaptureResponses: the backend's answer to every forwarded request is
// written as one plain line, also when a fault kept it from the client; a
// request the backend never saw writes nothing.
func TestCaptureResponses(t *testing.T) {
	p := NewProxy(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("{\"a\":1,\r\n\"b\":\"x\"}\n"))
	}))
	var capture syncbuf.Buffer // read while handlers write it (the race detector does not count a TCP round trip as synchronization)
	p.CaptureResponses(&capture)
	srv := httptest.NewServer(p)
	defer srv.Close()
	steps := []struct {
		fault Fault
		want  string // "": nothing captured
	}{
		{FaultNone, ` POST /v2/transactions?x=1 201 fault=none {"a":1,  "b":"x"}`},
		{Fault429, ""},
		{FaultResetBeforeCommit, ""},
		{Fault500AfterCommit, ` POST /v2/transactions?x=1 201 fault=500-after-commit {"a":1,  "b":"x"}`},
		{FaultResetAfterCommit, ` POST /v2/transactions?x=1 201 fault=reset-after-commit {"a":1,  "b":"x"}`},
	}
	for _, st := range steps {
		before := len(capture.String())
		p.Arm(st.fault, nil)
		if resp, err := http.Post(srv.URL+"/v2/transactions?x=1", "application/json", strings.NewReader("{}")); err == nil {
			resp.Body.Close()
		}
		got := capture.String()[before:]
		switch {
		case st.want == "" && got != "":
			t.Errorf("%s: captured %q, want nothing (the backend never answered)", st.fault, got)
		case st.want != "" && (!strings.HasSuffix(got, st.want+"\n") || strings.Count(got, "\n") != 1):
			t.Errorf("%s: captured %q, want one line ending %q", st.fault, got, st.want)
		}
	}
	if err := p.CaptureErr(); err != nil {
		t.Errorf("capture error %v", err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

// TestCaptureErr: a capture that could not be written is reported, wrapped,
// so that a harness does not scan a capture with holes and call it clean.
func TestCaptureErr(t *testing.T) {
	errFull := errors.New("disk full")
	p := NewProxy(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	p.CaptureResponses(failingWriter{errFull})
	srv := httptest.NewServer(p)
	defer srv.Close()
	if resp, err := http.Get(srv.URL); err == nil {
		resp.Body.Close()
	}
	if err := p.CaptureErr(); !errors.Is(err, errFull) {
		t.Errorf("CaptureErr %v, want it to wrap %v", err, errFull)
	}
}

// TestCaptureIsScanned: a card number or track in a backend's answer —
// even one spread over lines, even on an answer a fault kept from the
// client — is found by the leak scan in the response capture.
func TestCaptureIsScanned(t *testing.T) {
	pan := leakscan.TestCards[0]
	tests := []struct {
		name  string
		body  string
		fault Fault
		kind  string
	}{
		{"card number", "{\n  \"account_number\": \"" + pan + "\"\n}\n", FaultNone, "pan"},
		{"card number, answer lost", `{"account_number":"` + pan + `"}`, FaultResetAfterCommit, "pan"},
		{"track 2, slow answer", `{"track":";` + pan + `=2512101?"}`, FaultSlow, "track2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProxy(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(tt.body))
			}))
			var capture syncbuf.Buffer
			p.CaptureResponses(&capture)
			srv := httptest.NewServer(p)
			defer srv.Close()
			p.Arm(tt.fault, nil)
			if resp, err := http.Post(srv.URL+"/v2/transactions", "application/json", strings.NewReader("{}")); err == nil {
				resp.Body.Close()
			}
			found, err := leakscan.Scan("gateway-responses.capture", strings.NewReader(capture.String()), leakscan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			has := false
			for _, f := range found {
				has = has || f.Kind == tt.kind
			}
			if !has {
				t.Errorf("scan of the capture: %v, want a %s finding", found, tt.kind)
			}
		})
	}
}
