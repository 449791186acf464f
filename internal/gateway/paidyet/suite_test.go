package paidyet

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/gatewaytest"
	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// harness runs the suite with card tokens the backend knows.
func harness(backend http.Handler, subdomain, key, approved, declined string) gatewaytest.Harness {
	return gatewaytest.Harness{
		Backend: backend,
		New: func(t testing.TB, url string, timeout time.Duration) gateway.Gateway {
			return testClient(t, url, func(o *Options) { o.Timeout, o.Subdomain, o.Key = timeout, subdomain, key })
		},
		Approve: func() gateway.Request {
			return gateway.Request{Action: gateway.ActionSale, Amount: 1234, Token: approved}
		},
		Decline: func() gateway.Request {
			return gateway.Request{Action: gateway.ActionSale, Amount: 1234, Token: declined}
		},
		IsCommit: func(method, path string) bool {
			return method == http.MethodPost && strings.HasPrefix(path, "/v3/transaction")
		},
	}
}

// suiteClock is the backends' clock in the suite: a second passes with
// every call, so the suite's few hundred calls to one credential do not run
// into the 75-a-minute limit (which TestPacing and the sandbox's own tests
// hold the client and the sandbox to): the suite is about faults.
func suiteClock() func() time.Time {
	var calls atomic.Int64
	return func() time.Time { return time.Now().Add(time.Duration(calls.Add(1)) * time.Second) }
}

func TestSuiteFake(t *testing.T) {
	f := newFake(suiteClock())
	gatewaytest.RunSuite(t, harness(f, fakeSubdomain, fakeKey, f.addCard(cardApproved), f.addCard(cardDeclined)))
}

// TestSuiteSandbox runs the suite against the embedded sandbox; the test
// cards are tokenized through the API first.
func TestSuiteSandbox(t *testing.T) {
	sb := sandbox.New(sandbox.Options{Now: suiteClock()})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	c := testClient(t, srv.URL, func(o *Options) { o.Subdomain, o.Key = sandbox.PaidYETSubdomain, sandbox.PaidYETKey })
	tokenize := func(number string) string {
		cc, err := c.TokenizeCard(context.Background(), number, "09/30", "")
		if err != nil {
			t.Fatalf("tokenize: %v", err)
		}
		return cc.Token
	}
	gatewaytest.RunSuite(t, harness(sb, sandbox.PaidYETSubdomain, sandbox.PaidYETKey, tokenize(cardApproved), tokenize(cardDeclined)))
}
