package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		want Amount
		err  bool
	}{
		{"12.34", 1234, false}, {"12.3", 1230, false}, {"12", 1200, false}, {"0", 0, false}, {".5", 50, false},
		{"20.000", 2000, false}, {"-1.00", -100, false}, {" 7.01 ", 701, false}, {"1000000.00", 100000000, false},
		{"1.005", 0, true}, {"1e2", 0, true}, {"12.", 0, true}, {"", 0, true}, {"-", 0, true}, {"1,00", 0, true},
		{"abc", 0, true}, {"1.-1", 0, true}, {"9999999999999999", 0, true}, {"+1", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseAmount(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrAmount) {
			t.Errorf("ParseAmount(%q): %v does not wrap ErrAmount", tt.in, err)
		}
	}
	for _, a := range []Amount{0, 1, 10, 100, 1234, -5, -1234, 99999999} {
		back, err := ParseAmount(a.String())
		if err != nil || back != a {
			t.Errorf("round trip %d -> %q -> %d, %v", a, a.String(), back, err)
		}
	}
	var a Amount
	for in, want := range map[string]Amount{`1`: 100, `"120.00"`: 12000, `20.5`: 2050, `null`: 0, `""`: 0} {
		a = 99
		if in == "null" {
			a = 0
		}
		if err := a.UnmarshalJSON([]byte(in)); err != nil || a != want {
			t.Errorf("UnmarshalJSON(%s) = %v, %v", in, a, err)
		}
	}
	if err := a.UnmarshalJSON([]byte(`{}`)); err == nil {
		t.Error("UnmarshalJSON({}) succeeded")
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12.34", "0", "-1.00", "1e2", ".5", "20.000", "99999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		if err != nil {
			return
		}
		back, err := ParseAmount(a.String())
		if err != nil || back != a {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, a, a.String(), back, err)
		}
	})
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		err                                     error
		ambiguous, retryable, declined, resolve bool
	}{
		{&Error{Class: Ambiguous}, true, false, false, true},
		{&Error{Class: Retryable}, false, true, false, false},
		{&Error{Class: Declined}, false, false, true, false},
		{&Error{Class: Rejected, Kind: ErrDuplicate}, false, false, false, true},
		{fmt.Errorf("engine: %w", &Error{Class: Ambiguous}), true, false, false, true},
		{errors.New("unclassified"), true, false, false, true},
		{nil, false, false, false, false},
	}
	for i, tt := range tests {
		if IsAmbiguous(tt.err) != tt.ambiguous || IsRetryable(tt.err) != tt.retryable || IsDeclined(tt.err) != tt.declined ||
			NeedsResolve(tt.err) != tt.resolve {
			t.Errorf("%d %v: ambiguous %v retryable %v declined %v resolve %v", i, tt.err,
				IsAmbiguous(tt.err), IsRetryable(tt.err), IsDeclined(tt.err), NeedsResolve(tt.err))
		}
	}
	e := fmt.Errorf("wrapped: %w", &Error{Class: Rejected, Kind: ErrNotFound, Gateway: "g", Op: "lookup", Status: 404,
		Message: "no such record", Fields: []FieldError{{"id", "unknown"}}, Err: context.Canceled})
	for _, target := range []error{ErrRejected, ErrNotFound, context.Canceled} {
		if !errors.Is(e, target) {
			t.Errorf("%v is not %v", e, target)
		}
	}
	for _, target := range []error{ErrAmbiguous, ErrDuplicate, ErrInvalid} {
		if errors.Is(e, target) {
			t.Errorf("%v is %v", e, target)
		}
	}
	if got := e.Error(); got != "wrapped: g: lookup: rejected (HTTP 404): no such record: id: unknown: context canceled" {
		t.Errorf("message %q", got)
	}
}

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://api.sandbox.payaconnect.com/", "https://api.sandbox.payaconnect.com", true},
		{"https://h/x/?q=1#f", "https://h/x", true},
		{"http://127.0.0.1:1", "http://127.0.0.1:1", true},
		{"http://LOCALHOST", "http://LOCALHOST", true},
		{"http://[::1]:9", "http://[::1]:9", true},
		{"http://192.168.1.2", "", false},
		{"http://127.0.0.1.nip.io", "", false},
		{"ws://127.0.0.1", "", false},
		{"https://u:p@h", "", false},
		{"http://gw.localhost:7381", "", false}, // a name DNS resolves, not this computer
		{"https://h:99999", "", false},
		{"ftp://127.0.0.1:7381", "", false},
		{"https://", "", false},
		{"::", "", false},
	}
	for _, tt := range tests {
		u, err := CheckBaseURL(tt.in)
		if (err == nil) != tt.ok || (err == nil && u.String() != tt.want) {
			t.Errorf("CheckBaseURL(%q) = %v, %v; want %q ok=%v", tt.in, u, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInsecureURL) {
			t.Errorf("CheckBaseURL(%q): %v does not wrap ErrInsecureURL", tt.in, err)
		}
	}
}

// TestSendClassification drives Send through real failures.
func TestSendClassification(t *testing.T) {
	hc := NewHTTPClient(nil)
	ctx := context.Background()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + ln.Addr().String()
	ln.Close()

	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leave
		<-r.Context().Done()
	}))
	defer hang.Close()
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}))
	defer reset.Close()
	// A server that accepts and never answers the TLS handshake.
	stall, _ := net.Listen("tcp", "127.0.0.1:0")
	defer stall.Close()
	go func() {
		for {
			c, err := stall.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	tests := []struct {
		name, method, url string
		timeout           time.Duration
		want              Class
	}{
		{"refused POST", "POST", refused, time.Second, Retryable},
		{"dns POST", "POST", "https://no-such-host.invalid", 5 * time.Second, Retryable},
		{"timeout after write POST", "POST", hang.URL, 100 * time.Millisecond, Ambiguous},
		{"timeout after write GET", "GET", hang.URL, 100 * time.Millisecond, Retryable},
		{"reset after write PUT", "PUT", reset.URL, time.Second, Ambiguous},
		{"reset after write GET", "GET", reset.URL, time.Second, Retryable},
		{"TLS handshake stalls", "POST", "https://" + stall.Addr().String(), 200 * time.Millisecond, Retryable},
	}
	for _, tt := range tests {
		_, err := Send(ctx, hc, Exchange{Gateway: "g", Op: tt.name, Method: tt.method, URL: tt.url, Body: []byte("{}"), Timeout: tt.timeout})
		if got := ClassOf(err); err == nil || got != tt.want {
			t.Errorf("%s: %v (class %v), want %v", tt.name, err, got, tt.want)
		}
	}
	// A custom RoundTripper runs no trace: only errors that are surely
	// pre-send count as retryable; anything else stays ambiguous.
	opaque := &http.Client{Transport: rtFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("eof") })}
	if _, err := Send(ctx, opaque, Exchange{Method: "POST", URL: "http://127.0.0.1/"}); !IsAmbiguous(err) {
		t.Errorf("opaque transport failure: %v, want ambiguous", err)
	}
	dial := &http.Client{Transport: rtFunc(func(*http.Request) (*http.Response, error) {
		return nil, &net.OpError{Op: "dial", Err: errors.New("refused")}
	})}
	if _, err := Send(ctx, dial, Exchange{Method: "POST", URL: "http://127.0.0.1/"}); !IsRetryable(err) {
		t.Errorf("opaque dial failure: %v, want retryable", err)
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSendNoRedirectNoSecretsInErrors(t *testing.T) {
	var followed bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed = true }))
	defer target.Close()
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer redir.Close()
	resp, err := Send(context.Background(), NewHTTPClient(nil), Exchange{Method: "POST", URL: redir.URL + "/v2/x", Header: http.Header{"User-Api-Key": {"secret"}}})
	if err != nil || resp.Status != http.StatusFound || followed {
		t.Errorf("redirect: %+v %v followed=%v", resp, err, followed)
	}
	_, err = Send(context.Background(), NewHTTPClient(nil), Exchange{Method: "GET", URL: "http://127.0.0.1:1/v2/transactions?transaction_api_id=abc"})
	if err == nil || strings.Contains(err.Error(), "transaction_api_id=abc") {
		t.Errorf("error shows the query: %v", err)
	}
}

func TestCapabilities(t *testing.T) {
	c := Capabilities{Actions: NewActionSet(ActionSale, ActionVoid), EncryptedCardPresent: true, Formats: nil}
	if !c.Supports(ActionSale) || c.Supports(ActionRefund) || c.Accepts("idtech") {
		t.Errorf("capabilities %+v", c)
	}
	for _, a := range Actions {
		want := a == ActionSale || a == ActionAuthOnly || a == ActionRefund || a == ActionForce || a == ActionAVSOnly || a == ActionDebit || a == ActionCredit
		if a.CreatesTransaction() != want {
			t.Errorf("%s.CreatesTransaction() = %v", a, !want)
		}
	}
}
