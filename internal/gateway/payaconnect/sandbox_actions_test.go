package payaconnect

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/gatewaytest"
	"github.com/posagent/posagent/internal/gateway/sandbox"
)

// TestSandboxActions sends every action of the transactions endpoint to the
// embedded sandbox and checks the status ids the reference gives.
func TestSandboxActions(t *testing.T) {
	srv := httptest.NewServer(sandbox.New(sandbox.Options{}))
	defer srv.Close()
	c := testClient(t, srv.URL, func(o *Options) { o.LocationID, o.ProductTransactionID = sandbox.LocationID, sandbox.ProductCCID })
	ach := testClient(t, srv.URL, func(o *Options) { o.LocationID, o.ProductTransactionID = sandbox.LocationID, sandbox.ProductACHID })
	ctx := context.Background()
	do := func(c *Client, req gateway.Request) *gateway.Result {
		t.Helper()
		res, err := c.Do(ctx, req)
		if err != nil {
			t.Errorf("%s: %v", req.Action, err)
			return nil
		}
		return res
	}
	want := func(res *gateway.Result, status int, amount gateway.Amount) {
		t.Helper()
		if res != nil && (res.StatusID != status || res.Amount != amount) {
			t.Errorf("%s: status %d amount %v, want %d %v", res.Action, res.StatusID, res.Amount, status, amount)
		}
	}
	auth := do(c, gateway.Request{Action: gateway.ActionAuthOnly, Amount: 12000, Read: seedRead(), TransactionAPIID: gatewayID("a")})
	want(auth, StatusAuthOnlyApproved, 12000)
	if auth != nil {
		// The field table says transaction_amount is "the desired settle
		// amount": an increment sends the new total.
		if inc := do(c, gateway.Request{Action: gateway.ActionAuthIncrement, Amount: 15000, TransactionID: auth.ID}); inc == nil || inc.Amount != 15000 {
			t.Errorf("authincrement to a new total of 150.00: %+v", inc)
		}
		want(do(c, gateway.Request{Action: gateway.ActionAuthComplete, Amount: 6000, TransactionID: auth.ID}), StatusSaleApproved, 6000)
		if got, err := c.Lookup(ctx, auth.ID); err != nil || got.StatusID != StatusSaleApproved {
			t.Errorf("lookup after authcomplete: %+v %v", got, err)
		}
	}
	sale := do(c, gateway.Request{Action: gateway.ActionSale, Amount: 5000, Read: seedRead(), TransactionAPIID: gatewayID("s")})
	want(sale, StatusSaleApproved, 5000)
	if sale != nil {
		want(do(c, gateway.Request{Action: gateway.ActionTipAdjust, Amount: 5500, TransactionID: sale.ID}), StatusSaleApproved, 5500)
		want(do(c, gateway.Request{Action: gateway.ActionPartialReversal, Amount: 2000, TransactionID: sale.ID}), StatusSaleApproved, 2000)
		want(do(c, gateway.Request{Action: gateway.ActionRefund, Amount: 1000, TransactionID: sale.ID, TransactionAPIID: gatewayID("r")}), StatusRefunded, 1000)
	}
	sale2 := do(c, gateway.Request{Action: gateway.ActionSale, Amount: 700, Read: seedRead(), TransactionAPIID: gatewayID("s")})
	if sale2 != nil {
		// The seed's void answer shows transaction_amount 0.
		want(do(c, gateway.Request{Action: gateway.ActionVoid, TransactionID: sale2.ID}), StatusVoided, 0)
	}
	want(do(c, gateway.Request{Action: gateway.ActionForce, Amount: 300, AuthCode: "123456", Read: seedRead(), TransactionAPIID: gatewayID("f")}), StatusSaleApproved, 300)
	want(do(c, gateway.Request{Action: gateway.ActionAVSOnly, Read: seedRead(), TransactionAPIID: gatewayID("v"),
		Billing: gateway.Billing{Street: "5800 NW 39th AVE", Zip: "32606"}}), StatusAVSOnly, 0)
	debit := do(ach, gateway.Request{Action: gateway.ActionDebit, Amount: 1000, TransactionAPIID: gatewayID("d"), ACH: &gateway.ACHAccount{
		HolderName: "Test Account", AccountType: "checking", AccountNumber: "01234567890", Routing: "072000326", SECCode: "PPD"}})
	want(debit, StatusACHPending, 1000)
	if debit != nil {
		want(do(ach, gateway.Request{Action: gateway.ActionCredit, Amount: 1000, TransactionID: debit.ID, TransactionAPIID: gatewayID("c"),
			ACH: &gateway.ACHAccount{SECCode: "CCD"}}), StatusACHPending, 1000)
	}
	// Duplicate transaction_api_id, a field error, bad credentials.
	dupID := gatewayID("dup")
	do(c, gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), TransactionAPIID: dupID})
	if _, err := c.Do(ctx, gateway.Request{Action: gateway.ActionSale, Amount: 100, Read: seedRead(), TransactionAPIID: dupID}); !errors.Is(err, gateway.ErrDuplicate) {
		t.Errorf("duplicate transaction_api_id: %v, want ErrDuplicate", err)
	}
	bad, _ := c.BuildRequest(gateway.Request{Action: gateway.ActionSale, Amount: 100, Token: "nosuchvault", TransactionAPIID: gatewayID("b")})
	if _, err := c.Create(ctx, bad); !gateway.IsRejected(err) || len(gateway.FieldErrors(err)) == 0 {
		t.Logf("unknown account_vault_id: %v (want a 422 naming the field)", err)
	}
	wrong := testClient(t, srv.URL, func(o *Options) { o.UserAPIKey = "wrong" })
	if _, err := wrong.Lookup(ctx, "x"); !errors.Is(err, gateway.ErrUnauthorized) {
		t.Errorf("bad key: %v, want ErrUnauthorized", err)
	}
	locs, err := c.LocationInfos(ctx)
	if err != nil || len(locs) == 0 || locs[0].ID != sandbox.LocationID {
		t.Errorf("locationinfos: %+v %v", locs, err)
	}
}

func gatewayID(prefix string) string { return prefix + gatewaytest.NewAPIID() }
