package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/posagent/posagent/internal/config"
)

// Timeouts and limits shared by the clients.
const (
	// DefaultTimeout is the per-request timeout when the configuration sets
	// none (config `timeout`). Past it the outcome is Ambiguous and is
	// resolved by lookup.
	DefaultTimeout = 30 * time.Second
	// tlsHandshakeTimeout bounds the handshake separately so that a stalled
	// handshake is reported as one (Retryable), not as a request timeout.
	tlsHandshakeTimeout = 10 * time.Second
	dialTimeout         = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
	// MaxResponseBytes bounds a response body: gateway answers are a few KB,
	// a transaction list page well under this.
	MaxResponseBytes = 4 << 20
)

// ErrInsecureURL is wrapped by CheckBaseURL's refusals.
var ErrInsecureURL = errors.New("insecure gateway URL")

// CheckBaseURL parses a gateway base URL under the transport rule, which
// is config.CheckGatewayURL (https anywhere, plain http only to this
// computer, no credentials in the URL): the configuration is validated by
// the same function, so a URL the config check accepts is one the clients
// accept. Query and fragment are dropped, trailing slashes trimmed.
func CheckBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty base URL", ErrInsecureURL)
	}
	if err := config.CheckGatewayURL(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInsecureURL, err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInsecureURL, err)
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// NewHTTPClient builds the client a gateway client uses. rt overrides the
// transport (tests); when it is an *http.Transport it is cloned and its TLS
// floor raised to 1.2, so an override cannot weaken TLS. Redirects are never
// followed: a redirect would carry the credential headers to another host,
// and a redirected POST turns into a GET.
func NewHTTPClient(rt http.RoundTripper) *http.Client {
	switch t := rt.(type) {
	case nil:
		rt = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: tlsHandshakeTimeout,
			IdleConnTimeout:     idleConnTimeout,
			MaxIdleConnsPerHost: 4,
			ForceAttemptHTTP2:   true,
		}
	case *http.Transport:
		c := t.Clone()
		if c.TLSClientConfig == nil {
			c.TLSClientConfig = &tls.Config{}
		}
		if c.TLSClientConfig.MinVersion < tls.VersionTLS12 {
			c.TLSClientConfig.MinVersion = tls.VersionTLS12
		}
		rt = c
	}
	return &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Exchange is one HTTP request to a gateway.
type Exchange struct {
	Gateway string
	Op      string
	Method  string
	URL     string
	Header  http.Header
	Body    []byte
	// APIID is logged and put on errors so an ambiguous failure names what
	// to resolve.
	APIID   string
	Timeout time.Duration
	Logger  *slog.Logger
}

// Response is a gateway's answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Send performs the exchange with its own timeout and classifies a failure
// by what provably reached the wire:
//
//   - nothing written (DNS, connect, TLS handshake, or the context ended
//     before a connection was had): Retryable;
//   - anything after the request headers were written (timeout, reset, a
//     broken body): Ambiguous for a method that changes state, Retryable for
//     GET, which commits nothing.
//
// It returns a Response for every HTTP status; mapping statuses is the
// caller's business. It never retries.
func Send(ctx context.Context, hc *http.Client, x Exchange) (*Response, error) {
	timeout := x.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Class: Retryable, Gateway: x.Gateway, Op: x.Op, TransactionAPIID: x.APIID,
			Message: "not sent: context already done", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var tr wireTrace
	ctx = httptrace.WithClientTrace(ctx, tr.trace())
	var body io.Reader
	if x.Body != nil {
		body = bytes.NewReader(x.Body)
	}
	req, err := http.NewRequestWithContext(ctx, x.Method, x.URL, body)
	if err != nil {
		return nil, &Error{Class: Invalid, Gateway: x.Gateway, Op: x.Op, Message: "cannot build request", Err: err}
	}
	for k, v := range x.Header {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := hc.Do(req)
	var b []byte
	if err == nil {
		b, err = io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
		resp.Body.Close()
		if err == nil && len(b) > MaxResponseBytes {
			err = fmt.Errorf("response body larger than %d bytes", MaxResponseBytes)
		}
	}
	lg := x.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	path := req.URL.Path
	if err != nil {
		class := tr.classify(err, x.Method)
		lg.LogAttrs(ctx, slog.LevelDebug, "gateway request failed",
			slog.String("gateway", x.Gateway), slog.String("method", x.Method), slog.String("path", path),
			slog.String("transaction_api_id", x.APIID), slog.Duration("latency", time.Since(start)),
			slog.String("class", class.String()), slog.Bool("written", tr.wrote.Load()))
		msg := "request failed after it was sent; resolve by lookup"
		if class == Retryable {
			msg = "request not sent"
			if tr.wrote.Load() {
				msg = "read-only request failed"
			}
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, &Error{Class: class, Gateway: x.Gateway, Op: x.Op, Status: status, Message: msg,
			TransactionAPIID: x.APIID, Err: scrubURLError(err)}
	}
	lg.LogAttrs(ctx, slog.LevelDebug, "gateway request",
		slog.String("gateway", x.Gateway), slog.String("method", x.Method), slog.String("path", path),
		slog.Int("status", resp.StatusCode), slog.String("transaction_api_id", x.APIID),
		slog.Duration("latency", time.Since(start)))
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// scrubURLError drops the URL from a *url.Error: a list query can carry
// filter values, and the error text is for people, not for replaying.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// wireTrace records how far a request got.
type wireTrace struct {
	started atomic.Bool // the transport began (GetConn): the trace is live
	wrote   atomic.Bool // request headers were written to a connection
	preSend atomic.Bool // DNS, connect or TLS failed
}

func (w *wireTrace) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:      func(string) { w.started.Store(true) },
		WroteHeaders: func() { w.wrote.Store(true) },
		DNSDone: func(i httptrace.DNSDoneInfo) {
			if i.Err != nil {
				w.preSend.Store(true)
			}
		},
		ConnectDone: func(_, _ string, err error) {
			if err != nil {
				w.preSend.Store(true)
			}
		},
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err != nil {
				w.preSend.Store(true)
			}
		},
	}
}

func (w *wireTrace) classify(err error, method string) Class {
	if !w.wrote.Load() {
		// The transport writes the headers before anything else, so if it
		// reported starting and never wrote them, nothing left. A custom
		// RoundTripper may not run the trace at all: then only errors that
		// can only happen before sending count.
		if w.started.Load() || w.preSend.Load() || isPreSendError(err) {
			return Retryable
		}
	}
	if method == http.MethodGet || method == http.MethodHead {
		return Retryable
	}
	return Ambiguous
}

// isPreSendError recognizes failures that happen before a request can be
// written: name resolution, connecting, the TLS handshake.
func isPreSendError(err error) bool {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var recErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	var alert tls.AlertError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &dnsErr),
		errors.As(err, &recErr), errors.As(err, &certErr), errors.As(err, &alert),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EHOSTUNREACH):
		return true
	case errors.As(err, &opErr):
		return opErr.Op == "dial"
	}
	return false
}

// RetryAfter parses a Retry-After header in seconds; 0 if absent or odd.
func RetryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
