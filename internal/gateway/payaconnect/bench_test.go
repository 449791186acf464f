package payaconnect

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/posagent/posagent/internal/gateway"
)

// saleResponse is a full-size approved sale answer, as the seed shows one.
const saleResponse = `{"transaction":{"id":"11ebd9d8b400f8bc8c0cbfb2","payment_method":"cc","account_vault_id":null,"recurring_id":null,"first_six":"542837","last_four":"0254","account_holder_name":"YOU/A GIFT FOR","transaction_amount":"12.34","description":null,"transaction_code":null,"avs":null,"batch":"166","order_num":"A100","verbiage":"Test 3622","transaction_settlement_status":null,"effective_date":null,"routing":null,"return_date":null,"created_ts":1625081032,"modified_ts":1625081032,"transaction_api_id":"bench1","terms_agree":null,"notification_email_address":null,"notification_email_sent":true,"response_message":null,"auth_amount":"12.34","auth_code":"4887ad","status_id":101,"type_id":20,"location_id":"11e919aa3c4a4ed6a04860ff","reason_code_id":1000,"contact_id":null,"billing_zip":null,"billing_street":null,"product_transaction_id":"11e919aa3c630002afd9e7db","tax":"0.00","customer_ip":null,"customer_id":null,"po_number":null,"avs_enhanced":"V","cvv_response":"N","billing_phone":null,"billing_city":null,"billing_state":null,"clerk_number":null,"tip_amount":"0.00","created_user_id":"11e919aa3d639af2a5c5d689","modified_user_id":"11e919aa3d639af2a5c5d689","ach_identifier":null,"check_number":null,"settle_date":null,"charge_back_date":null,"void_date":null,"account_type":"mc","is_recurring":false,"is_accountvault":false,"transaction_c1":null,"transaction_c2":null,"transaction_c3":null,"additional_amounts":[],"terminal_serial_number":"SN12345","entry_mode_id":"S","terminal_id":null,"quick_invoice_id":null,"ach_sec_code":null,"custom_data":null,"hosted_payment_page_id":null,"trx_source_id":12,"transaction_batch_id":"11ebd9d81d8c9d50b71d5610","checkin_date":null,"checkout_date":null,"room_num":null,"room_rate":"0.00","advance_deposit":false,"no_show":false,"emv_receipt_data":null,"_links":{"self":{"href":"https://api.sandbox.payaconnect.com/v2/transactions/11ebd9d8b400f8bc8c0cbfb2"}}}}`

// BenchmarkSale measures one card-present sale round trip against a canned
// loopback server: validation, JSON encoding, HTTP, decoding, normalizing.
func BenchmarkSale(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(saleResponse))
	}))
	defer srv.Close()
	c := testClient(b, srv.URL)
	req := gateway.Request{Action: gateway.ActionSale, Amount: 1234, Read: seedRead(), TransactionAPIID: "bench1", OrderNum: "A100"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildAndDecode is the client's own overhead without HTTP:
// build + validate + encode the request, decode + normalize the answer.
func BenchmarkBuildAndDecode(b *testing.B) {
	c := testClient(b, "https://api.sandbox.payaconnect.com")
	req := gateway.Request{Action: gateway.ActionSale, Amount: 1234, Read: seedRead(), TransactionAPIID: "bench1", OrderNum: "A100"}
	body := []byte(saleResponse)
	b.ReportAllocs()
	for b.Loop() {
		t, err := c.BuildRequest(req)
		if err != nil {
			b.Fatal(err)
		}
		if errs := validate(t); len(errs) > 0 {
			b.Fatal(errs)
		}
		if _, err := json.Marshal(struct {
			Transaction *TransactionRequest `json:"transaction"`
		}{t}); err != nil {
			b.Fatal(err)
		}
		tx, err := DecodeTransaction(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := finish(req.Action, tx); err != nil {
			b.Fatal(err)
		}
	}
}
