package payaconnect

import (
	"net/http"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/gatewaytest"
)

// harness runs the conformance suite against backend with sandbox
// credentials and the seed's encrypted sample.
func harness(backend http.Handler, locationID, productID string) gatewaytest.Harness {
	return gatewaytest.Harness{
		Backend: backend,
		New: func(t testing.TB, url string, timeout time.Duration) gateway.Gateway {
			return testClient(t, url, func(o *Options) {
				o.Timeout, o.LocationID, o.ProductTransactionID = timeout, locationID, productID
			})
		},
		Approve: func() gateway.Request {
			return gateway.Request{Action: gateway.ActionSale, Amount: 1234, Read: seedRead()}
		},
		Decline: func() gateway.Request {
			// 5.00 declines with reason 1500 (DENY) in the sandbox.
			return gateway.Request{Action: gateway.ActionSale, Amount: 500, Read: seedRead()}
		},
		IsCommit: func(method, path string) bool { return method == http.MethodPost && path == pathTransactions },
	}
}

func TestSuiteFake(t *testing.T) {
	gatewaytest.RunSuite(t, harness(newFake(), fakeLocationID, fakeProductID))
}

// TestVoidFaultResolvedByLookup: a void (PUT) whose answer is lost is
// ambiguous too, and Lookup of the transaction shows whether it happened.
func TestVoidFaultResolvedByLookup(t *testing.T) {
	f := newFake()
	p := gatewaytest.NewProxy(f)
	srv := newServer(t, p)
	c := testClient(t, srv.URL, func(o *Options) { o.Timeout = time.Second })
	ctx := t.Context()
	sale, err := c.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 1000, Read: seedRead(), TransactionAPIID: "vf1"})
	if err != nil {
		t.Fatal(err)
	}
	p.Arm(gatewaytest.FaultResetAfterCommit, func(r *http.Request) bool { return r.Method == http.MethodPut })
	_, err = c.Do(ctx, gateway.Request{Action: gateway.ActionVoid, TransactionID: sale.ID})
	if !gateway.IsAmbiguous(err) {
		t.Fatalf("void with reset: %v, want ambiguous", err)
	}
	got, err := c.Lookup(ctx, sale.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.StatusID != StatusVoided {
		t.Errorf("after the void, status %d, want %d", got.StatusID, StatusVoided)
	}
	puts := p.Count(func(r gatewaytest.Record) bool { return r.Method == http.MethodPut })
	if puts != 1 {
		t.Errorf("%d PUTs reached the backend, want 1", puts)
	}
}
