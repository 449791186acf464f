package paidyet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway"
)

// Name is the gateway name in results and errors.
const Name = "paidyet"

const (
	apiPrefix = "/v3"
	// customFieldAPIID is the custom field that carries transaction_api_id.
	customFieldAPIID = "transaction_api_id"
	// refreshMargin renews a token this long before its exp, so that a
	// request never leaves with a token that expires in flight.
	refreshMargin = time.Minute
	// defaultTokenTTL is assumed when a login answer gives no exp; a 401
	// refreshes earlier if the server disagrees.
	defaultTokenTTL = 5 * time.Minute
	// maxResolvePages bounds Resolve's paging through search hits.
	maxResolvePages = 5
	resolvePerPage  = 100
)

// Options configure a Client.
type Options struct {
	// BaseURL is the API root, e.g. https://api.sandbox-paidyet.com (the
	// /v3 prefix is added; a URL already ending in /v3 is fine too).
	BaseURL   string
	Subdomain string
	Key       string
	// Timeout per request; gateway.DefaultTimeout when zero.
	Timeout   time.Duration
	Transport http.RoundTripper
	Logger    *slog.Logger
	// Clock drives token expiry and pacing; the real clock when nil.
	Clock Clock
	// PerMinute and PerDay override the API's limits (75, 7000) downward
	// for a shared key; zero takes the defaults.
	PerMinute, PerDay int
}

// Client talks to PaidYET v3. It is safe for concurrent use.
type Client struct {
	base    string
	opts    Options
	hc      *http.Client
	log     *slog.Logger
	clock   Clock
	pacer   *Pacer
	timeout time.Duration

	tokMu  sync.Mutex
	token  string
	expiry time.Time
}

var _ gateway.Gateway = (*Client)(nil)

// ErrConfig is wrapped by New's refusals.
var ErrConfig = errors.New("paidyet: bad configuration")

// ErrCardPresent is the refusal of an encrypted card-present read.
var ErrCardPresent = errors.New("the PaidYET v3 API has no field for encrypted card data (e_track_data): " +
	"card-present reads cannot be sent to PaidYET; use a card token, or a gateway that takes encrypted reads (Paya Connect)")

// New checks the options and builds a client. It does no I/O.
func New(opts Options) (*Client, error) {
	base, err := gateway.CheckBaseURL(opts.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if opts.Subdomain == "" || opts.Key == "" {
		return nil, fmt.Errorf("%w: subdomain and key are required", ErrConfig)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("%w: negative timeout %v", ErrConfig, opts.Timeout)
	}
	base.Path = strings.TrimSuffix(base.Path, apiPrefix)
	c := &Client{base: base.String() + apiPrefix, opts: opts, hc: gateway.NewHTTPClient(opts.Transport),
		log: opts.Logger, clock: opts.Clock, timeout: opts.Timeout}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	if c.timeout == 0 {
		c.timeout = gateway.DefaultTimeout
	}
	c.pacer = NewPacer(c.clock, opts.PerMinute, opts.PerDay)
	return c, nil
}

// Name implements gateway.Gateway.
func (c *Client) Name() string { return Name }

// Capabilities implements gateway.Gateway.
func (c *Client) Capabilities() gateway.Capabilities {
	return gateway.Capabilities{
		Gateway: Name,
		Actions: gateway.NewActionSet(gateway.ActionSale, gateway.ActionAuthOnly, gateway.ActionAuthComplete,
			gateway.ActionVoid, gateway.ActionRefund),
		EncryptedCardPresent: false,
		ResolveByAPIID:       true,
		Receipts:             true,
		// A sale or auth carries the transaction_api_id custom field, which
		// the seed says "can be searched": a miss proves it absent. Nothing
		// in the seed says a refund keeps custom fields, nor how a lookup
		// would show a capture or void that is still in flight: those are
		// adopted when they show and otherwise reported unknown.
		NoAbsenceProof: gateway.NewActionSet(gateway.ActionRefund, gateway.ActionAuthComplete, gateway.ActionVoid),
		Limitations: []string{
			ErrCardPresent.Error(),
			"no authincrement, partialreversal, force, tipadjust, avsonly or ACH in the v3 API",
			"rate limited to 75 calls a minute and 7000 a day: calls wait for their turn",
		},
	}
}

// accessToken returns a valid bearer token, logging in when there is none
// or it expires within refreshMargin.
func (c *Client) accessToken(ctx context.Context, stale string) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.token != "" && c.token != stale && c.clock.Now().Add(refreshMargin).Before(c.expiry) {
		return c.token, nil
	}
	body, _ := json.Marshal(struct {
		Subdomain string `json:"subdomain"`
		Key       string `json:"key"`
	}{c.opts.Subdomain, c.opts.Key})
	resp, err := c.exchange(ctx, "login", http.MethodPost, "/login", nil, body, "", "")
	if err == nil {
		err = c.statusError("login", http.MethodPost, "", resp)
	}
	if err != nil {
		return "", err
	}
	tok, exp, err := decodeLogin(resp.Body)
	if err != nil {
		return "", &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: "login", Status: resp.Status, Message: "unreadable login answer", Err: err}
	}
	c.token = tok
	if exp > 0 {
		c.expiry = time.Unix(exp, 0)
	} else {
		c.expiry = c.clock.Now().Add(defaultTokenTTL)
	}
	c.log.Debug("paidyet login", slog.Time("exp", c.expiry))
	return tok, nil
}

// exchange paces and sends one request.
func (c *Client) exchange(ctx context.Context, op, method, path string, q url.Values, body []byte, token, apiID string) (*gateway.Response, error) {
	if err := c.pacer.Wait(ctx); err != nil {
		return nil, &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: op, Message: "not sent", TransactionAPIID: apiID, Err: err}
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	h := http.Header{"Accept": {"application/json"}}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return gateway.Send(ctx, c.hc, gateway.Exchange{Gateway: Name, Op: op, Method: method, URL: u, Header: h, Body: body,
		APIID: apiID, Timeout: c.timeout, Logger: c.log})
}

// call sends an authenticated request. A 401 means the server refused the
// token before doing anything, so one fresh login and one re-send are safe
// even for a POST.
func (c *Client) call(ctx context.Context, op, method, path string, q url.Values, body []byte, apiID string) (*Response, error) {
	stale := ""
	for attempt := 0; ; attempt++ {
		tok, err := c.accessToken(ctx, stale)
		if err != nil {
			// Nothing of the call itself was sent.
			return nil, notSent(op, apiID, err)
		}
		resp, err := c.exchange(ctx, op, method, path, q, body, tok, apiID)
		if err != nil {
			return nil, err
		}
		if resp.Status == http.StatusUnauthorized && attempt == 0 {
			stale = tok
			continue
		}
		if err := c.statusError(op, method, apiID, resp); err != nil {
			return nil, err
		}
		r, err := DecodeResponse(resp.Body)
		if err != nil {
			class := gateway.Ambiguous
			if method == http.MethodGet {
				class = gateway.Retryable
			}
			return nil, &gateway.Error{Class: class, Gateway: Name, Op: op, Status: resp.Status,
				Message: "success answer could not be read", TransactionAPIID: apiID, Err: err}
		}
		return r, nil
	}
}

// notSent reclassifies a failed login: the call it was for never left.
// Refused credentials stay Rejected (trying again will not help).
func notSent(op, apiID string, err error) error {
	var ge *gateway.Error
	if errors.As(err, &ge) && ge.Class == gateway.Rejected {
		return err
	}
	return &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: op, TransactionAPIID: apiID,
		Message: "not sent: login failed", Err: err}
}

func (c *Client) statusError(op, method, apiID string, resp *gateway.Response) error {
	s := resp.Status
	if s >= 200 && s < 300 {
		return nil
	}
	msg := ""
	if r, err := DecodeResponse(resp.Body); err == nil {
		msg = r.Messages.Text()
	}
	e := &gateway.Error{Gateway: Name, Op: op, Status: s, TransactionAPIID: apiID}
	reason := ""
	switch {
	case s == http.StatusUnauthorized:
		e.Class, e.Kind, reason = gateway.Rejected, gateway.ErrUnauthorized, "credentials refused: check subdomain and key"
	case s == http.StatusNotFound:
		e.Class, e.Kind, reason = gateway.Rejected, gateway.ErrNotFound, "no such record"
	case s == http.StatusTooManyRequests:
		e.Class, e.RetryAfter, reason = gateway.Retryable, gateway.RetryAfter(resp.Header), "rate limited; not processed"
	case method == http.MethodGet:
		e.Class, reason = gateway.Retryable, "request failed"
	case s >= 400 && s < 500:
		e.Class, reason = gateway.Rejected, "request refused"
	default:
		e.Class, reason = gateway.Ambiguous, "server error; the request may have been committed: resolve by lookup"
	}
	e.Message = reason
	if msg != "" {
		e.Message += ": " + msg
	}
	return e
}

// transactionBody is what the client sends for sale/auth/capture/void/refund.
type transactionBody struct {
	Amount       *json.Number  `json:"amount,omitempty"`
	Type         string        `json:"type"`
	CreditCard   *cardRef      `json:"credit_card,omitempty"`
	ExternalID   string        `json:"external_id,omitempty"`
	CustomFields []CustomField `json:"custom_fields,omitempty"`
	OrderID      string        `json:"order_id,omitempty"`
	Comments     string        `json:"comments,omitempty"`
	Billing      *address      `json:"billing_address,omitempty"`
	// Receipts (seed 003, Transaction): send_receipt mails the receipt to
	// email; mobile_phone is "for sms receipt".
	Email       string `json:"email,omitempty"`
	MobilePhone string `json:"mobile_phone,omitempty"`
	SendReceipt bool   `json:"send_receipt,omitempty"`
}

type cardRef struct {
	Token string `json:"token"`
}

type address struct {
	Address string `json:"address,omitempty"`
	Postal  string `json:"postal,omitempty"`
}

func amountJSON(a gateway.Amount) *json.Number {
	n := json.Number(a.String())
	return &n
}

// Do implements gateway.Gateway.
func (c *Client) Do(ctx context.Context, req gateway.Request) (*gateway.Result, error) {
	a := req.Action
	fail := func(msg string, kind error, fields ...gateway.FieldError) (*gateway.Result, error) {
		return nil, &gateway.Error{Class: gateway.Invalid, Kind: kind, Gateway: Name, Op: string(a), Message: msg, Fields: fields}
	}
	if req.Read != nil {
		return nil, &gateway.Error{Class: gateway.Invalid, Kind: gateway.ErrUnsupported, Gateway: Name, Op: string(a),
			Message: "card-present read refused", Err: ErrCardPresent}
	}
	if !c.Capabilities().Supports(a) {
		return fail("action "+strconv.Quote(string(a))+" is not in the PaidYET v3 API", gateway.ErrUnsupported)
	}
	if req.ACH != nil {
		return fail("PaidYET v3 takes no ACH", gateway.ErrUnsupported)
	}
	if errs := req.CardDataFields(); len(errs) > 0 {
		return fail("request refused: a text field holds card data", nil, errs...)
	}
	if len(req.TransactionAPIID) > 64 {
		return fail("", nil, gateway.FieldError{Field: "transaction_api_id", Message: "at most 64 characters"})
	}
	body := transactionBody{}
	if a.CreatesTransaction() && req.TransactionAPIID != "" {
		body.ExternalID = req.TransactionAPIID
		body.CustomFields = []CustomField{{Key: customFieldAPIID, Value: req.TransactionAPIID}}
	}
	method, path := http.MethodPost, "/transaction"
	switch a {
	case gateway.ActionSale, gateway.ActionAuthOnly:
		if req.Amount <= 0 {
			// An amount of 0 would silently turn a sale into an auth.
			return fail("", nil, gateway.FieldError{Field: "amount", Message: "must be greater than zero"})
		}
		if req.Token == "" {
			return fail("", nil, gateway.FieldError{Field: "credit_card.token", Message: "a card token is required (tokenize the card first)"})
		}
		body.Type = "sale"
		if a == gateway.ActionAuthOnly {
			body.Type = "auth"
		}
		body.Amount = amountJSON(req.Amount)
		body.CreditCard = &cardRef{Token: req.Token}
		body.OrderID = req.OrderNum
		body.Comments = req.Description
		if req.ReceiptEmail != "" || req.ReceiptPhone != "" {
			body.Email, body.MobilePhone, body.SendReceipt = req.ReceiptEmail, req.ReceiptPhone, true
		}
		if req.Billing != (gateway.Billing{}) {
			body.Billing = &address{Address: req.Billing.Street, Postal: req.Billing.Zip}
		}
	case gateway.ActionAuthComplete, gateway.ActionVoid, gateway.ActionRefund:
		if err := checkID(req.TransactionID); err != nil {
			return fail("", nil, gateway.FieldError{Field: "id", Message: err.Error()})
		}
		path = "/transaction/" + url.PathEscape(req.TransactionID)
		switch a {
		case gateway.ActionAuthComplete:
			method, body.Type = http.MethodPut, "capture"
			if req.Amount < 0 {
				return fail("", nil, gateway.FieldError{Field: "amount", Message: "must not be negative"})
			}
			if req.Amount > 0 { // none: capture the authorized amount
				body.Amount = amountJSON(req.Amount)
			}
		case gateway.ActionVoid:
			method, body.Type = http.MethodPatch, "void"
		case gateway.ActionRefund:
			if req.Amount <= 0 {
				return fail("", nil, gateway.FieldError{Field: "amount", Message: "must be greater than zero"})
			}
			body.Type, body.Amount = "refund", amountJSON(req.Amount)
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fail("cannot encode request", nil)
	}
	resp, err := c.call(ctx, string(a), method, path, nil, b, req.TransactionAPIID)
	if err != nil {
		return nil, err
	}
	var txs []Transaction
	if err := resp.items(&txs); err != nil || len(txs) == 0 || txs[0].ID == "" {
		if err == nil {
			err = fmt.Errorf("%w: no transaction in the answer", ErrDecode)
		}
		return nil, &gateway.Error{Class: gateway.Ambiguous, Gateway: Name, Op: string(a),
			Message: "success answer holds no readable transaction; resolve by lookup", TransactionAPIID: req.TransactionAPIID, Err: err}
	}
	r := txs[0].Normalize()
	r.Action = a
	if r.TransactionAPIID == "" {
		r.TransactionAPIID = req.TransactionAPIID
	}
	switch r.Outcome {
	case gateway.OutcomeDeclined:
		msg := "status " + r.Status
		if t := resp.Messages.Text(); t != "" {
			msg += ": " + t
		}
		return r, &gateway.Error{Class: gateway.Declined, Gateway: Name, Op: string(a), Result: r, Message: msg, TransactionAPIID: r.TransactionAPIID}
	case gateway.OutcomeError:
		return r, &gateway.Error{Class: gateway.Ambiguous, Gateway: Name, Op: string(a), Result: r,
			Message: "unknown status " + strconv.Quote(r.Status), TransactionAPIID: r.TransactionAPIID}
	}
	return r, nil
}

func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("required")
	case len(id) > 64:
		return errors.New("at most 64 characters")
	case strings.ContainsAny(id, "/?#%"):
		return errors.New("invalid characters")
	}
	return nil
}

// GetTransaction fetches GET /transaction/:id.
func (c *Client) GetTransaction(ctx context.Context, id string) (*Transaction, error) {
	if err := checkID(id); err != nil {
		return nil, &gateway.Error{Class: gateway.Invalid, Gateway: Name, Op: "lookup", Fields: []gateway.FieldError{{Field: "id", Message: err.Error()}}}
	}
	resp, err := c.call(ctx, "lookup", http.MethodGet, "/transaction/"+url.PathEscape(id), nil, nil, "")
	if err != nil {
		return nil, err
	}
	var txs []Transaction
	if err := resp.items(&txs); err != nil || len(txs) == 0 {
		if err == nil {
			err = fmt.Errorf("%w: empty payload", ErrDecode)
		}
		return nil, &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: "lookup", Message: "unreadable answer", Err: err}
	}
	return &txs[0], nil
}

// Lookup implements gateway.Gateway.
func (c *Client) Lookup(ctx context.Context, id string) (*gateway.Result, error) {
	t, err := c.GetTransaction(ctx, id)
	if err != nil {
		return nil, err
	}
	return t.Normalize(), nil
}

// Search is a transaction search. Zero fields are not sent.
type Search struct {
	Date   string // yyyy-mm-dd
	Amount gateway.Amount
	Status string // approved, declined, scheduled
	Type   string // sale, auth, refund, void (comma separated)
	// Custom filters on custom fields, e.g. {"transaction_api_id": "..."}.
	Custom  map[string]string
	Page    int
	PerPage int
}

// Page describes one page of a search.
type Page struct{ Count, Pages, Page, PerPage int }

// SearchTransactions runs GET /transaction/search.
func (c *Client) SearchTransactions(ctx context.Context, s Search) ([]Transaction, Page, error) {
	q := url.Values{}
	if s.Date != "" {
		q.Set("date", s.Date)
	}
	if s.Amount != 0 {
		q.Set("amount", s.Amount.String())
	}
	if s.Status != "" {
		q.Set("status", s.Status)
	}
	if s.Type != "" {
		q.Set("type", s.Type)
	}
	for k, v := range s.Custom {
		q.Set(k, v)
	}
	if s.Page > 0 {
		q.Set("page", strconv.Itoa(s.Page))
	}
	if s.PerPage > 0 {
		q.Set("per_page", strconv.Itoa(s.PerPage))
	}
	resp, err := c.call(ctx, "search", http.MethodGet, "/transaction/search", q, nil, s.Custom[customFieldAPIID])
	if err != nil {
		return nil, Page{}, err
	}
	pg := Page{Count: resp.Payload.Count, Pages: resp.Payload.Pages, Page: resp.Payload.Page, PerPage: resp.Payload.PerPage}
	var txs []Transaction
	if len(resp.Payload.Items) == 0 || string(resp.Payload.Items) == "null" {
		return nil, pg, nil // nothing matched
	}
	if err := resp.items(&txs); err != nil {
		return nil, Page{}, &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: "search", Message: "unreadable answer", Err: err}
	}
	return txs, pg, nil
}

// Resolve implements gateway.Gateway: a search on the transaction_api_id
// custom field, every hit checked for an exact match.
func (c *Client) Resolve(ctx context.Context, transactionAPIID string) (*gateway.Result, error) {
	if transactionAPIID == "" || len(transactionAPIID) > 64 {
		return nil, &gateway.Error{Class: gateway.Invalid, Gateway: Name, Op: "resolve",
			Fields: []gateway.FieldError{{Field: "transaction_api_id", Message: "1 to 64 characters"}}}
	}
	s := Search{Custom: map[string]string{customFieldAPIID: transactionAPIID}, PerPage: resolvePerPage}
	for page := 1; page <= maxResolvePages; page++ {
		s.Page = page
		txs, pg, err := c.SearchTransactions(ctx, s)
		if err != nil {
			return nil, err
		}
		for i := range txs {
			if txs[i].APIID() == transactionAPIID {
				return txs[i].Normalize(), nil
			}
		}
		if len(txs) < resolvePerPage || pg.Pages <= page {
			return nil, &gateway.Error{Class: gateway.Rejected, Kind: gateway.ErrNotFound, Gateway: Name, Op: "resolve",
				TransactionAPIID: transactionAPIID, Message: "no transaction with this transaction_api_id"}
		}
	}
	return nil, &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: "resolve", TransactionAPIID: transactionAPIID,
		Message: fmt.Sprintf("more than %d pages of hits; cannot prove absence", maxResolvePages)}
}

// TokenizeCard stores a card with POST /card and returns its token. The
// number is for keyed entry and tests: it goes into the request body only,
// never into a log or an error.
func (c *Client) TokenizeCard(ctx context.Context, number, exp, externalID string) (*CreditCard, error) {
	var fields []gateway.FieldError
	if !card.Luhn(number) {
		fields = append(fields, gateway.FieldError{Field: "number", Message: "not a card number (13-19 digits, Luhn)"})
	}
	if len(exp) != 5 || exp[2] != '/' || exp[:2] < "01" || exp[:2] > "12" || !digits(exp[:2]+exp[3:]) {
		fields = append(fields, gateway.FieldError{Field: "exp", Message: "must be MM/YY"})
	}
	if len(fields) > 0 {
		return nil, &gateway.Error{Class: gateway.Invalid, Gateway: Name, Op: "tokenize", Fields: fields}
	}
	b, _ := json.Marshal(struct {
		Number     string `json:"number"`
		Exp        string `json:"exp"`
		ExternalID string `json:"external_id,omitempty"`
	}{number, exp, externalID})
	resp, err := c.call(ctx, "tokenize", http.MethodPost, "/card", nil, b, "")
	if err != nil {
		return nil, err
	}
	return firstCard(resp, "tokenize")
}

// GetCard fetches GET /card/:token.
func (c *Client) GetCard(ctx context.Context, token string) (*CreditCard, error) {
	return c.getCard(ctx, token)
}

// GetCardByExternalID fetches GET /card/external-:id.
func (c *Client) GetCardByExternalID(ctx context.Context, externalID string) (*CreditCard, error) {
	return c.getCard(ctx, "external-"+externalID)
}

func (c *Client) getCard(ctx context.Context, ref string) (*CreditCard, error) {
	if err := checkID(ref); err != nil {
		return nil, &gateway.Error{Class: gateway.Invalid, Gateway: Name, Op: "card", Fields: []gateway.FieldError{{Field: "token", Message: err.Error()}}}
	}
	resp, err := c.call(ctx, "card", http.MethodGet, "/card/"+url.PathEscape(ref), nil, nil, "")
	if err != nil {
		return nil, err
	}
	return firstCard(resp, "card")
}

func firstCard(resp *Response, op string) (*CreditCard, error) {
	var cards []CreditCard
	if err := resp.items(&cards); err != nil || len(cards) == 0 || cards[0].Token == "" {
		if err == nil {
			err = fmt.Errorf("%w: no card token in the answer", ErrDecode)
		}
		return nil, &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: op, Message: "unreadable answer", Err: err}
	}
	cc := cards[0]
	// Keep nothing but the masked form of whatever number came back.
	cc.Number = string(cc.masked())
	return &cc, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
