package sandbox

import (
	"encoding/json"
	"net/http"
)

// Paya Connect status_id values.
const (
	statusSale      = 101
	statusAuthOnly  = 102
	statusRefunded  = 111
	statusAVSOnly   = 121
	statusACHSubmit = 131 // pending origination
	statusVoided    = 201
	statusDeclined  = 301
)

// Paya Connect type_id values.
const (
	typeSale    = 20
	typeAVSOnly = 21
	typeRefund  = 30
	typeCredit  = 40
	typeDebit   = 50
)

// trxSourceIntegration is trx_source_id 12: an integrated solution.
const trxSourceIntegration = 12

type link struct {
	Href string `json:"href"`
}

type selfLinks struct {
	Self link `json:"self"`
}

// payaTxn is a transaction as the API returns it. Field names and order
// follow the seed's sample responses (002, 001); fields the sandbox never
// fills are null, as in the samples.
type payaTxn struct {
	ID                          string          `json:"id"`
	PaymentMethod               string          `json:"payment_method"`
	AccountVaultID              *string         `json:"account_vault_id"`
	RecurringID                 *string         `json:"recurring_id"`
	FirstSix                    *string         `json:"first_six"`
	LastFour                    *string         `json:"last_four"`
	AccountHolderName           *string         `json:"account_holder_name"`
	TransactionAmount           string          `json:"transaction_amount"`
	Description                 *string         `json:"description"`
	TransactionCode             *string         `json:"transaction_code"`
	AVS                         *string         `json:"avs"`
	Batch                       *string         `json:"batch"`
	OrderNum                    string          `json:"order_num"`
	Verbiage                    string          `json:"verbiage"`
	TransactionSettlementStatus *string         `json:"transaction_settlement_status"`
	EffectiveDate               *string         `json:"effective_date"`
	Routing                     *string         `json:"routing"`
	ReturnDate                  *string         `json:"return_date"`
	CreatedTS                   int64           `json:"created_ts"`
	ModifiedTS                  int64           `json:"modified_ts"`
	TransactionAPIID            *string         `json:"transaction_api_id"`
	TermsAgree                  *bool           `json:"terms_agree"`
	NotificationEmailAddress    *string         `json:"notification_email_address"`
	NotificationEmailSent       bool            `json:"notification_email_sent"`
	ResponseMessage             *string         `json:"response_message"`
	AuthAmount                  string          `json:"auth_amount"`
	AuthCode                    string          `json:"auth_code"`
	StatusID                    int             `json:"status_id"`
	TypeID                      int             `json:"type_id"`
	LocationID                  string          `json:"location_id"`
	ReasonCodeID                int             `json:"reason_code_id"`
	ContactID                   *string         `json:"contact_id"`
	BillingZip                  *string         `json:"billing_zip"`
	BillingStreet               *string         `json:"billing_street"`
	ProductTransactionID        string          `json:"product_transaction_id"`
	Tax                         string          `json:"tax"`
	CustomerIP                  *string         `json:"customer_ip"`
	CustomerID                  *string         `json:"customer_id"`
	PONumber                    *string         `json:"po_number"`
	AVSEnhanced                 *string         `json:"avs_enhanced"`
	CVVResponse                 *string         `json:"cvv_response"`
	BillingPhone                *string         `json:"billing_phone"`
	BillingCity                 *string         `json:"billing_city"`
	BillingState                *string         `json:"billing_state"`
	ClerkNumber                 *string         `json:"clerk_number"`
	TipAmount                   string          `json:"tip_amount"`
	CreatedUserID               string          `json:"created_user_id"`
	ModifiedUserID              string          `json:"modified_user_id"`
	ACHIdentifier               *string         `json:"ach_identifier"`
	CheckNumber                 *string         `json:"check_number"`
	SettleDate                  *string         `json:"settle_date"`
	ChargeBackDate              *string         `json:"charge_back_date"`
	VoidDate                    *string         `json:"void_date"`
	AccountType                 *string         `json:"account_type"`
	IsRecurring                 bool            `json:"is_recurring"`
	IsAccountVault              bool            `json:"is_accountvault"`
	TransactionC1               *string         `json:"transaction_c1"`
	TransactionC2               *string         `json:"transaction_c2"`
	TransactionC3               *string         `json:"transaction_c3"`
	AdditionalAmounts           []any           `json:"additional_amounts"`
	TerminalSerialNumber        *string         `json:"terminal_serial_number"`
	EntryModeID                 string          `json:"entry_mode_id"`
	TerminalID                  *string         `json:"terminal_id"`
	QuickInvoiceID              *string         `json:"quick_invoice_id"`
	ACHSecCode                  *string         `json:"ach_sec_code"`
	CustomData                  json.RawMessage `json:"custom_data"`
	HostedPaymentPageID         *string         `json:"hosted_payment_page_id"`
	TrxSourceID                 int             `json:"trx_source_id"`
	TransactionBatchID          *string         `json:"transaction_batch_id"`
	PreviousTransactionID       *string         `json:"previous_transaction_id"`
	CheckinDate                 *string         `json:"checkin_date"`
	CheckoutDate                *string         `json:"checkout_date"`
	RoomNum                     *string         `json:"room_num"`
	RoomRate                    string          `json:"room_rate"`
	AdvanceDeposit              bool            `json:"advance_deposit"`
	NoShow                      bool            `json:"no_show"`
	EMVReceiptData              json.RawMessage `json:"emv_receipt_data"`
	Links                       selfLinks       `json:"_links"`
}

// record is a stored transaction: the view the API shows plus the amounts the
// state rules need, in cents.
type record struct {
	v payaTxn

	ach      bool
	amount   int64 // authorized (authonly) or charged (sale) amount
	base     int64 // amount before any tip adjustment
	captured int64 // settleable amount: sale, completed auth
	refunded int64 // refunded or credited against this transaction
	prev     *record
	deleted  bool
	card     cardRef
}

// view returns a copy of the API view with _links built for this request's
// host. Call with s.mu held.
func (rec *record) view(r *http.Request) payaTxn {
	v := rec.v
	v.Links = selfLinks{Self: link{Href: baseURL(r) + "/v2/transactions/" + v.ID}}
	v.AdditionalAmounts = []any{}
	return v
}

// baseURL is the scheme and host the client reached the sandbox at.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
