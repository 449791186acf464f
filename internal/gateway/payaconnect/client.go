package payaconnect

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
	"sync/atomic"
	"time"

	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/gateway/payaconnect/payarules"
)

// Name is the gateway name in results and errors.
const Name = "payaconnect"

// API paths.
const (
	pathTransactions  = "/v2/transactions"
	pathLocationInfos = "/v2/locationinfos"
)

// maxResolvePages bounds the pages Resolve reads. List filters match "like",
// so a short transaction_api_id can match others; past this many pages
// without an exact match the client cannot prove absence and says so.
const maxResolvePages = 5

// resolvePageSize is the page size Resolve asks for.
const resolvePageSize = 50

// Options configure a Client. BaseURL and the three credentials are required.
type Options struct {
	// BaseURL is the API root, e.g. https://api.sandbox.payaconnect.com.
	// Plain http is accepted only to a loopback host.
	BaseURL              string
	DeveloperID          string
	UserID               string
	UserAPIKey           string
	LocationID           string
	ProductTransactionID string
	// Timeout per request; DefaultTimeout (30 s) when zero.
	Timeout time.Duration
	// Transport overrides the HTTP transport (tests). An *http.Transport is
	// cloned and held to TLS 1.2.
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// Client talks to Paya Connect v2. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	opts    Options
	hc      *http.Client
	header  http.Header
	log     *slog.Logger
	timeout time.Duration
	// settings are the product's merchant settings once LoadSettings read
	// them; nil: unknown.
	settings atomic.Pointer[payarules.Settings]
}

var _ gateway.Gateway = (*Client)(nil)

// ErrConfig is wrapped by New's refusals.
var ErrConfig = errors.New("payaconnect: bad configuration")

// New checks the options and builds a client. It does no I/O.
func New(opts Options) (*Client, error) {
	base, err := gateway.CheckBaseURL(opts.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"developer_id", opts.DeveloperID}, {"user_id", opts.UserID}, {"user_api_key", opts.UserAPIKey},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing %s", ErrConfig, strings.Join(missing, ", "))
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("%w: negative timeout %v", ErrConfig, opts.Timeout)
	}
	c := &Client{base: base, opts: opts, hc: gateway.NewHTTPClient(opts.Transport), log: opts.Logger, timeout: opts.Timeout}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.timeout == 0 {
		c.timeout = gateway.DefaultTimeout
	}
	c.header = http.Header{
		"Content-Type": {"application/json"},
		"Accept":       {"application/json"},
		"Developer-Id": {opts.DeveloperID},
		"User-Id":      {opts.UserID},
		"User-Api-Key": {opts.UserAPIKey},
	}
	return c, nil
}

// Name implements gateway.Gateway.
func (c *Client) Name() string { return Name }

// Create POSTs a new transaction (sale, authonly, avsonly, refund, force,
// debit, credit) after validating it. It never re-sends: on an Ambiguous
// error resolve with Resolve(t.TransactionAPIID).
func (c *Client) Create(ctx context.Context, t *TransactionRequest) (*Transaction, error) {
	if !gateway.Action(t.Action).CreatesTransaction() {
		return nil, invalid(t.Action, "action "+strconv.Quote(t.Action)+" changes an existing transaction: use Update", nil)
	}
	return c.send(ctx, http.MethodPost, pathTransactions, t)
}

// Update PUTs a change to transaction id (authcomplete, authincrement, void,
// partialreversal, tipadjust, edit) after validating it.
func (c *Client) Update(ctx context.Context, id string, t *TransactionRequest) (*Transaction, error) {
	if gateway.Action(t.Action).CreatesTransaction() {
		return nil, invalid(t.Action, "action "+strconv.Quote(t.Action)+" creates a transaction: use Create", nil)
	}
	if err := checkID(id); err != nil {
		return nil, invalid(t.Action, "", []gateway.FieldError{{Field: "id", Message: err.Error()}})
	}
	return c.send(ctx, http.MethodPut, pathTransactions+"/"+url.PathEscape(id), t)
}

func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("required")
	case len(id) > 36:
		return errors.New("at most 36 characters")
	case strings.ContainsAny(id, "/?#%"):
		return errors.New("invalid characters")
	}
	return nil
}

func invalid(op, msg string, fields []gateway.FieldError) error {
	if msg == "" {
		msg = "request fails the transactions endpoint's field rules"
	}
	return &gateway.Error{Class: gateway.Invalid, Gateway: Name, Op: op, Message: msg, Fields: fields}
}

func (c *Client) send(ctx context.Context, method, path string, t *TransactionRequest) (*Transaction, error) {
	if errs, missing := c.check(t); len(errs) > 0 {
		return nil, refusal(t.Action, errs, missing)
	}
	body, err := json.Marshal(struct {
		Transaction *TransactionRequest `json:"transaction"`
	}{t})
	if err != nil {
		return nil, invalid(t.Action, "cannot encode request", nil)
	}
	resp, err := c.do(ctx, t.Action, method, path, nil, body, t.TransactionAPIID)
	if err != nil {
		return nil, err
	}
	tx, err := DecodeTransaction(resp.Body)
	if err != nil {
		// The gateway said 2xx: the transaction may well exist. Only a
		// lookup can tell.
		return nil, &gateway.Error{Class: gateway.Ambiguous, Gateway: Name, Op: t.Action, Status: resp.Status,
			Message: "success response could not be read; resolve by lookup", TransactionAPIID: t.TransactionAPIID, Err: err}
	}
	return tx, nil
}

// do sends one request and maps the HTTP status per the API reference.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body []byte, apiID string) (*gateway.Response, error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()
	resp, err := gateway.Send(ctx, c.hc, gateway.Exchange{
		Gateway: Name, Op: op, Method: method, URL: u.String(), Header: c.header, Body: body,
		APIID: apiID, Timeout: c.timeout, Logger: c.log,
	})
	if err != nil {
		return nil, err
	}
	if err := statusError(op, method, apiID, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// statusError maps the reference's response codes. 2xx is success; a 4xx
// was refused before anything was committed; a 5xx (or an unexpected
// status) on a state-changing call may have been committed.
func statusError(op, method, apiID string, resp *gateway.Response) error {
	s := resp.Status
	if s >= 200 && s < 300 {
		return nil
	}
	msg, fields := decodeErrorBody(resp.Body)
	e := &gateway.Error{Gateway: Name, Op: op, Status: s, Message: msg, Fields: fields, TransactionAPIID: apiID}
	reason := ""
	switch s {
	case http.StatusBadRequest:
		e.Class, reason = gateway.Rejected, "bad request (usually invalid JSON)"
	case http.StatusUnauthorized:
		e.Class, e.Kind, reason = gateway.Rejected, gateway.ErrUnauthorized, "credentials refused: check developer-id, user-id and user-api-key"
	case http.StatusForbidden:
		e.Class, reason = gateway.Rejected, "no access: the account is not signed up for this service"
	case http.StatusNotFound:
		e.Class, e.Kind, reason = gateway.Rejected, gateway.ErrNotFound, "endpoint or record does not exist"
	case http.StatusMethodNotAllowed:
		e.Class, reason = gateway.Rejected, "method not allowed"
	case http.StatusConflict:
		e.Class, e.Kind, reason = gateway.Rejected, gateway.ErrNotFound, "the record has been deleted"
	case http.StatusUnprocessableEntity:
		e.Class, reason = gateway.Rejected, "validation error"
		for _, f := range fields {
			if f.Field == "transaction_api_id" {
				// Our ids fit the field, so the gateway complains because
				// the id is taken: an earlier attempt was committed.
				e.Kind, reason = gateway.ErrDuplicate, "transaction_api_id already used: resolve by lookup"
			}
		}
	case http.StatusTooManyRequests:
		e.Class, e.RetryAfter, reason = gateway.Retryable, gateway.RetryAfter(resp.Header), "rate limited; not processed"
	default:
		switch {
		case method == http.MethodGet:
			e.Class = gateway.Retryable
		case s >= 500 || s < 400:
			e.Class = gateway.Ambiguous
		default:
			e.Class = gateway.Rejected
		}
		reason = "unexpected status"
		if s >= 500 {
			reason = "server error"
		}
		if e.Class == gateway.Ambiguous {
			reason += "; the request may have been committed: resolve by lookup"
		}
	}
	if e.Message == "" {
		e.Message = reason
	} else {
		e.Message = reason + ": " + e.Message
	}
	return e
}

// GetTransaction fetches GET /v2/transactions/{id}.
func (c *Client) GetTransaction(ctx context.Context, id string) (*Transaction, error) {
	if err := checkID(id); err != nil {
		return nil, invalid("lookup", "", []gateway.FieldError{{Field: "id", Message: err.Error()}})
	}
	resp, err := c.do(ctx, "lookup", http.MethodGet, pathTransactions+"/"+url.PathEscape(id), nil, nil, "")
	if err != nil {
		return nil, err
	}
	tx, err := DecodeTransaction(resp.Body)
	if err != nil {
		return nil, &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: "lookup", Status: resp.Status, Message: "unreadable response", Err: err}
	}
	return tx, nil
}

// Filter selects transactions for List. Zero fields are not sent. Most
// filters of the API match "like", not exactly.
type Filter struct {
	TransactionAPIID string
	OrderNum         string
	LocationID       string
	StatusID         int
	LastFour         string
	// CreatedTS is one of today, yesterday, "this week", "last week",
	// "last 30 days", "this month", "last month", custom.
	CreatedTS     string
	CreatedTSFrom int64
	CreatedTSTo   int64
	Page          int
	PageSize      int
	// Extra holds any other filter or expand of the API.
	Extra url.Values
}

func (f Filter) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("transaction_api_id", f.TransactionAPIID)
	set("order_num", f.OrderNum)
	set("location_id", f.LocationID)
	set("last_four", f.LastFour)
	set("created_ts", f.CreatedTS)
	if f.StatusID != 0 {
		v.Set("status_id", strconv.Itoa(f.StatusID))
	}
	if f.CreatedTSFrom != 0 {
		v.Set("created_ts_from", strconv.FormatInt(f.CreatedTSFrom, 10))
	}
	if f.CreatedTSTo != 0 {
		v.Set("created_ts_to", strconv.FormatInt(f.CreatedTSTo, 10))
	}
	if f.Page > 0 {
		v.Set("page", strconv.Itoa(f.Page))
	}
	if f.PageSize > 0 {
		v.Set("page_size", strconv.Itoa(f.PageSize))
	}
	for k, vs := range f.Extra {
		for _, s := range vs {
			v.Add(k, s)
		}
	}
	return v
}

// List fetches GET /v2/transactions with filters.
func (c *Client) List(ctx context.Context, f Filter) ([]Transaction, Pagination, error) {
	resp, err := c.do(ctx, "list", http.MethodGet, pathTransactions, f.values(), nil, f.TransactionAPIID)
	if err != nil {
		return nil, Pagination{}, err
	}
	txs, pg, err := DecodeList(resp.Body)
	if err != nil {
		return nil, Pagination{}, &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: "list", Status: resp.Status, Message: "unreadable response", Err: err}
	}
	return txs, pg, nil
}

// FindByAPIID returns the transaction whose transaction_api_id is exactly
// apiID, or an error matching gateway.ErrNotFound when the gateway's answer
// proves there is none. Filters match "like", so results are checked for
// an exact match and every page is read (up to maxResolvePages).
func (c *Client) FindByAPIID(ctx context.Context, apiID string) (*Transaction, error) {
	if apiID == "" || len(apiID) > payarules.Fields["transaction_api_id"].Max {
		return nil, invalid("resolve", "", []gateway.FieldError{{Field: "transaction_api_id", Message: "1 to 64 characters"}})
	}
	f := Filter{TransactionAPIID: apiID, LocationID: c.opts.LocationID, PageSize: resolvePageSize}
	for page := 1; page <= maxResolvePages; page++ {
		f.Page = page
		txs, pg, err := c.List(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range txs {
			if txs[i].TransactionAPIID == apiID {
				return &txs[i], nil
			}
		}
		// Done when this page was the last one: fewer rows than a page, or
		// the meta says so. Pages count from 1 in links, currentPage from 0.
		if len(txs) < resolvePageSize || pg.PageCount <= page {
			return nil, &gateway.Error{Class: gateway.Rejected, Kind: gateway.ErrNotFound, Gateway: Name, Op: "resolve",
				TransactionAPIID: apiID, Message: "no transaction with this transaction_api_id"}
		}
	}
	return nil, &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: "resolve", TransactionAPIID: apiID,
		Message: fmt.Sprintf("more than %d pages of like-matches; cannot prove absence", maxResolvePages)}
}

// Location is one entry of /v2/locationinfos: what a merchant needs to
// configure location_id and product_transaction_id.
type Location struct {
	ID                  string               `json:"id"`
	Name                string               `json:"name"`
	ProductTransactions []ProductTransaction `json:"product_transactions"`
	DefaultCC           string               `json:"default_cc"`
	DefaultACH          string               `json:"default_ach"`
}

// ProductTransaction is a deposit account of a location.
type ProductTransaction struct {
	ID            string `json:"id"`
	PaymentMethod string `json:"payment_method"` // cc or ach
	Processor     string `json:"processor"`
	Title         string `json:"title"`
	IndustryType  string `json:"industry_type"`
	// The merchant settings that make fields required (Settings).
	Surcharge          json.RawMessage `json:"surcharge"` // an object when a surcharge is configured, else null
	VTEnableSalesTax   flexBool        `json:"vt_enable_sales_tax"`
	TaxSurchargeConfig flexInt         `json:"tax_surcharge_config"`
	VTOrderNum         flexBool        `json:"vt_order_num"`
}

// LocationInfos fetches GET /v2/locationinfos.
func (c *Client) LocationInfos(ctx context.Context) ([]Location, error) {
	resp, err := c.do(ctx, "locationinfos", http.MethodGet, pathLocationInfos, nil, nil, "")
	if err != nil {
		return nil, err
	}
	locs, err := DecodeLocationInfos(resp.Body)
	if err != nil {
		return nil, &gateway.Error{Class: gateway.Retryable, Gateway: Name, Op: "locationinfos", Status: resp.Status, Message: "unreadable response", Err: err}
	}
	return locs, nil
}

// DecodeLocationInfos decodes {"locationinfos": [...]}.
func DecodeLocationInfos(b []byte) ([]Location, error) {
	var env struct {
		LocationInfos *[]Location `json:"locationinfos"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecode, jsonErr(err))
	}
	if env.LocationInfos == nil {
		return nil, fmt.Errorf(`%w: no "locationinfos" list`, ErrDecode)
	}
	return *env.LocationInfos, nil
}
