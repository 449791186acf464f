package sandbox

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// pyCard is a tokenized card: masked number, expiry, name and the test-card
// behaviour, never the number.
type pyCard struct {
	ID         int
	Token      string
	ref        cardRef
	Exp        string
	Name       string
	ExternalID string
	behaviour  pyTestCard
	testCard   bool
}

// pyCardView is the CreditCard object. number shows first six and last four.
type pyCardView struct {
	ID         int    `json:"id"`
	Token      string `json:"token"`
	Number     string `json:"number"`
	Exp        string `json:"exp"`
	Name       string `json:"name"`
	ExternalID string `json:"external_id"`
	Type       string `json:"type"`
}

func (c *pyCard) view() pyCardView {
	return pyCardView{ID: c.ID, Token: c.Token, Number: c.ref.FirstSix + "******" + c.ref.LastFour,
		Exp: c.Exp, Name: c.Name, ExternalID: c.ExternalID, Type: string(c.ref.Brand)}
}

type pyAddress struct {
	Address string `json:"address"`
	City    string `json:"city"`
	State   string `json:"state"`
	Postal  string `json:"postal"`
}

type pyCustomField struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type pyCustomer struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

type pyBatch struct {
	ID     int    `json:"id"`
	Status string `json:"status"`
}

// pyTxnView is the Transaction object of seed 003. decline_code (from the
// test-card table) and parent_id (the transaction a refund refunds) are
// the sandbox's additions; captured_amount and refunded_amount likewise
// let a client check the refund limit.
type pyTxnView struct {
	ID             int             `json:"id"`
	Amount         float64         `json:"amount"`
	Fees           []any           `json:"fees"`
	CreditCard     pyCardView      `json:"credit_card"`
	InputMethod    string          `json:"input_method"`
	Type           string          `json:"type"`
	Status         string          `json:"status"`
	CustomFields   []pyCustomField `json:"custom_fields"`
	Source         string          `json:"source"`
	AVSResult      bool            `json:"avs_result"`
	IP             string          `json:"ip"`
	BillingAddress *pyAddress      `json:"billing_address"`
	Email          string          `json:"email"`
	MobilePhone    string          `json:"mobile_phone"`
	DateCreated    string          `json:"date_created"`
	Customer       *pyCustomer     `json:"customer"`
	OrderID        string          `json:"order_id"`
	Invoice        string          `json:"invoice"`
	Ponum          string          `json:"ponum"`
	Comments       string          `json:"comments"`
	Error          bool            `json:"error"`
	Result         string          `json:"result"`
	DeclineCode    int             `json:"decline_code"`
	Batch          *pyBatch        `json:"batch"`
	SendReceipt    bool            `json:"send_receipt"`
	ExternalID     string          `json:"external_id"`
	ParentID       *int            `json:"parent_id"`
	Captured       float64         `json:"captured_amount"`
	Refunded       float64         `json:"refunded_amount"`
}

type pyTxn struct {
	v        pyTxnView
	created  time.Time
	amount   int64
	captured int64
	refunded int64
	parent   *pyTxn
}

func (t *pyTxn) view() pyTxnView {
	v := t.v
	v.Amount = float64(t.amount) / 100
	v.Captured = float64(t.captured) / 100
	v.Refunded = float64(t.refunded) / 100
	return v
}

// pyTxnReq is the body of POST /v3/transaction and of the capture, refund
// and void calls on /v3/transaction/:id.
type pyTxnReq struct {
	Amount     field `json:"amount"`
	Type       field `json:"type"`
	CreditCard *struct {
		Token      field `json:"token"`
		Number     field `json:"number"`
		Exp        field `json:"exp"`
		Name       field `json:"name"`
		CVV        field `json:"cvv"`
		ExternalID field `json:"external_id"`
	} `json:"credit_card"`
	InputMethod    field                                         `json:"input_method"`
	CustomFields   []struct{ Key, Value field }                  `json:"custom_fields"`
	BillingAddress *struct{ Address, City, State, Postal field } `json:"billing_address"`
	Email          field                                         `json:"email"`
	MobilePhone    field                                         `json:"mobile_phone"`
	OrderID        field                                         `json:"order_id"`
	Invoice        field                                         `json:"invoice"`
	Ponum          field                                         `json:"ponum"`
	Comments       field                                         `json:"comments"`
	ExternalID     field                                         `json:"external_id"`
	SendReceipt    field                                         `json:"send_receipt"`
	Customer       *struct {
		FirstName field `json:"first_name"`
		LastName  field `json:"last_name"`
	} `json:"customer"`
	Schedule any `json:"schedule"`
	// Number and Exp at the top level are the POST /v3/card body.
	Number field `json:"number"`
	Exp    field `json:"exp"`
	Name   field `json:"name"`
}

// validExpSlash checks a "MM/YY" expiry.
func validExpSlash(s string) bool {
	m, y, ok := strings.Cut(s, "/")
	return ok && len(y) == 2 && digitsOnly(y) && validMMYY(m+y)
}

// tokenize validates a card number and expiry and stores a token. Call with
// p.mu held. A number from the test-card table is taken even when it fails
// Luhn (one approving PaidYET test card does).
func (p *paidyet) tokenize(number, exp, name, ext string) (*pyCard, string) {
	number = strings.ReplaceAll(strings.TrimSpace(number), " ", "")
	beh, isTest := pyTestCards[panHash(number)]
	switch {
	case number == "":
		return nil, "credit_card.number is required"
	case !isTest && (!validPAN(number) || len(number) > 19):
		return nil, "credit_card.number is not a valid card number"
	case !validExpSlash(exp):
		return nil, "credit_card.exp must be MM/YY"
	case len(name) > 64 || len(ext) > 64:
		return nil, "credit_card.name and external_id may have at most 64 characters"
	}
	if ext != "" {
		if _, dup := p.byExt[ext]; dup {
			return nil, "credit_card.external_id is already used by another card"
		}
	}
	p.nextID++
	c := &pyCard{ID: p.nextID, Token: randToken("tok_"), ref: cardData{pan: number}.ref(), Exp: exp,
		Name: name, ExternalID: ext, behaviour: beh, testCard: isTest}
	p.cards[c.Token] = c
	if ext != "" {
		p.byExt[ext] = c.Token
	}
	return c, ""
}

func (s *Sandbox) handlePYCards(w http.ResponseWriter, r *http.Request) {
	p := &s.py
	switch r.Method {
	case http.MethodGet:
		page, perPage, ok := pageParams(r)
		if !ok {
			pyError(w, http.StatusUnprocessableEntity, "page and per_page must be positive integers")
			return
		}
		p.mu.Lock()
		all := make([]pyCardView, 0, len(p.cards))
		for _, c := range p.cards {
			all = append(all, c.view())
		}
		p.mu.Unlock()
		sortCards(all)
		pyOK(w, "CreditCard", pageOf(all, page, perPage), len(all), page, perPage)
	case http.MethodPost:
		var req pyTxnReq
		if !readPYBody(w, r, &req) {
			return
		}
		p.mu.Lock()
		c, msg := p.tokenize(req.Number.V, req.Exp.str(), req.Name.str(), req.ExternalID.str())
		var v pyCardView
		if c != nil {
			v = c.view()
		}
		p.mu.Unlock()
		if c == nil {
			pyError(w, http.StatusUnprocessableEntity, strings.TrimPrefix(msg, "credit_card."))
			return
		}
		pyOne(w, "CreditCard", v)
	default:
		pyMethodNotAllowed(w, "GET, POST")
	}
}

func sortCards(c []pyCardView) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j].ID < c[j-1].ID; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}

func (s *Sandbox) handlePYCard(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		pyMethodNotAllowed(w, "GET")
		return
	}
	key := r.PathValue("token")
	p := &s.py
	p.mu.Lock()
	if ext, ok := strings.CutPrefix(key, "external-"); ok {
		key = p.byExt[ext]
	}
	c := p.cards[key]
	var v pyCardView
	if c != nil {
		v = c.view()
	}
	p.mu.Unlock()
	if c == nil {
		pyError(w, http.StatusNotFound, "card not found")
		return
	}
	pyOne(w, "CreditCard", v)
}

// handlePYTransactions serves POST /v3/transaction (sale or auth) and GET
// (the list).
func (s *Sandbox) handlePYTransactions(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.pySearch(w, r, false)
	case http.MethodPost:
		s.pyCreate(w, r)
	default:
		pyMethodNotAllowed(w, "GET, POST")
	}
}

func (s *Sandbox) handlePYSearch(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		pyMethodNotAllowed(w, "GET")
		return
	}
	s.pySearch(w, r, true)
}

func (s *Sandbox) pyCreate(w http.ResponseWriter, r *http.Request) {
	var req pyTxnReq
	if !readPYBody(w, r, &req) {
		return
	}
	if req.Schedule != nil {
		pyError(w, http.StatusUnprocessableEntity, "scheduled transactions are not emulated by the sandbox")
		return
	}
	if !req.Amount.present() {
		pyError(w, http.StatusUnprocessableEntity, "amount is required")
		return
	}
	amount, err := parseAmount(req.Amount.str())
	if err != nil {
		pyError(w, http.StatusUnprocessableEntity, "amount "+err.Error()+" and must be 0 or greater")
		return
	}
	typ := strings.ToLower(req.Type.str())
	if typ == "" {
		typ = "sale"
		if amount == 0 {
			typ = "auth"
		}
	}
	if typ != "sale" && typ != "auth" {
		pyError(w, http.StatusUnprocessableEntity, "type must be sale or auth; capture, refund and void go to /v3/transaction/:id")
		return
	}
	if typ == "sale" && amount == 0 {
		pyError(w, http.StatusUnprocessableEntity, "a sale needs an amount greater than 0")
		return
	}
	if req.CreditCard == nil {
		pyError(w, http.StatusUnprocessableEntity, "credit_card is required")
		return
	}
	if im := req.InputMethod.str(); len(im) > 16 {
		pyError(w, http.StatusUnprocessableEntity, "input_method may have at most 16 characters")
		return
	}
	s.pyRecord(r, &req, amount, typ).write(w)
}

// pyReply is an answer computed under the lock and written after it, so
// that a slow client cannot hold up other requests.
type pyReply struct {
	status int
	msg    string
	item   any
}

func (rp pyReply) write(w http.ResponseWriter) {
	if rp.status != http.StatusOK {
		pyError(w, rp.status, rp.msg)
		return
	}
	pyOne(w, "Transaction", rp.item)
}

func pyFail(status int, msg string) pyReply { return pyReply{status: status, msg: msg} }

// pyRecord runs and stores a validated sale or auth.
func (s *Sandbox) pyRecord(r *http.Request, req *pyTxnReq, amount int64, typ string) pyReply {
	now := s.now()
	p := &s.py
	p.mu.Lock()
	defer p.mu.Unlock()
	var c *pyCard
	if tok := req.CreditCard.Token.str(); tok != "" {
		if c = p.cards[tok]; c == nil {
			return pyFail(http.StatusUnprocessableEntity, "credit_card.token is unknown")
		}
	} else {
		var msg string
		if c, msg = p.tokenize(req.CreditCard.Number.V, req.CreditCard.Exp.str(), req.CreditCard.Name.str(),
			req.CreditCard.ExternalID.str()); c == nil {
			return pyFail(http.StatusUnprocessableEntity, msg)
		}
	}
	p.nextID++
	t := &pyTxn{created: now, amount: amount}
	v := &t.v
	v.ID = p.nextID
	v.Fees = []any{}
	v.CreditCard = c.view()
	v.InputMethod = req.InputMethod.str()
	if v.InputMethod == "" {
		v.InputMethod = "keyed"
	}
	v.Type = typ
	v.Source = "api"
	v.IP = clientIP(r)
	v.DateCreated = now.UTC().Format(time.DateTime)
	v.CustomFields = []pyCustomField{}
	for _, cf := range req.CustomFields {
		v.CustomFields = append(v.CustomFields, pyCustomField{Key: cf.Key.str(), Value: cf.Value.str()})
	}
	if a := req.BillingAddress; a != nil {
		v.BillingAddress = &pyAddress{Address: a.Address.str(), City: a.City.str(), State: a.State.str(), Postal: a.Postal.str()}
		v.AVSResult = normAddr(a.Address.str()) == normAddr(avsGoodStreet) && a.Postal.str() == avsGoodZip
	}
	if cu := req.Customer; cu != nil {
		v.Customer = &pyCustomer{FirstName: cu.FirstName.str(), LastName: cu.LastName.str()}
	}
	v.Email, v.MobilePhone, v.OrderID = req.Email.str(), req.MobilePhone.str(), req.OrderID.str()
	v.Invoice, v.Ponum, v.Comments = req.Invoice.str(), req.Ponum.str(), req.Comments.str()
	v.ExternalID, v.SendReceipt = req.ExternalID.str(), req.SendReceipt.flag()
	if c.testCard && !c.behaviour.approve {
		v.Status, v.Result, v.DeclineCode = "declined", c.behaviour.message, c.behaviour.code
	} else {
		v.Status, v.Result = "approved", "Approved"
		// Seed 003: a sale is "immediately placed into the batch"; an auth
		// is "not placed in a batch" until it is captured.
		if typ == "sale" {
			t.captured = amount
			v.Batch = &pyBatch{ID: 1, Status: "open"}
		}
	}
	p.txns[v.ID] = t
	p.order = append(p.order, t)
	s.log.Info("sandbox: paidyet transaction", "id", v.ID, "type", typ, "status", v.Status, "card", v.CreditCard.Number)
	return pyReply{status: http.StatusOK, item: t.view()}
}

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// handlePYTransaction serves /v3/transaction/:id: GET the transaction, PUT
// capture, PATCH void, POST refund.
func (s *Sandbox) handlePYTransaction(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	p := &s.py
	lookup := func() *pyTxn {
		if err != nil {
			return nil
		}
		return p.txns[id]
	}
	switch r.Method {
	case http.MethodGet:
		p.mu.Lock()
		t := lookup()
		var v pyTxnView
		if t != nil {
			v = t.view()
		}
		p.mu.Unlock()
		if t == nil {
			pyError(w, http.StatusNotFound, "transaction not found")
			return
		}
		pyOne(w, "Transaction", v)
		return
	case http.MethodPut, http.MethodPatch, http.MethodPost:
	default:
		pyMethodNotAllowed(w, "GET, PUT, PATCH, POST")
		return
	}
	var req pyTxnReq
	if !readPYBody(w, r, &req) {
		return
	}
	want := map[string]string{http.MethodPut: "capture", http.MethodPatch: "void", http.MethodPost: "refund"}[r.Method]
	if typ := strings.ToLower(req.Type.str()); typ != want {
		pyError(w, http.StatusUnprocessableEntity, r.Method+" /v3/transaction/:id takes type '"+want+"'")
		return
	}
	var amount int64
	hasAmount := req.Amount.present()
	if hasAmount {
		a, err := parseAmount(req.Amount.str())
		if err != nil || a <= 0 {
			pyError(w, http.StatusUnprocessableEntity, "amount must be a number greater than 0 with at most two decimals")
			return
		}
		amount = a
	}
	p.mu.Lock()
	rp := s.pyChange(r, lookup(), want, amount, hasAmount)
	p.mu.Unlock()
	rp.write(w)
}

// pyChange captures, voids or refunds t. Call with s.py.mu held.
func (s *Sandbox) pyChange(r *http.Request, t *pyTxn, want string, amount int64, hasAmount bool) pyReply {
	p := &s.py
	now := s.now()
	if t == nil {
		return pyFail(http.StatusNotFound, "transaction not found")
	}
	v := &t.v
	switch want {
	case "capture":
		switch {
		case v.Type != "auth" || v.Status != "approved":
			return pyFail(http.StatusUnprocessableEntity, "only an approved auth that was not captured can be captured")
		case !hasAmount:
			amount = t.amount
		case amount > t.amount:
			return pyFail(http.StatusUnprocessableEntity, "capture amount exceeds the authorized amount; this merchant account may not capture more")
		}
		v.Type, t.amount, t.captured = "sale", amount, amount
		v.Batch = &pyBatch{ID: 1, Status: "open"} // "moves an authorized transaction into the current batch"
	case "void":
		switch {
		case v.Status == "voided":
			return pyFail(http.StatusUnprocessableEntity, "transaction is already voided")
		case v.Status != "approved":
			return pyFail(http.StatusUnprocessableEntity, "only an approved transaction can be voided")
		case t.refunded > 0:
			return pyFail(http.StatusUnprocessableEntity, "transaction has refunds; void them first")
		}
		if t.parent != nil {
			t.parent.refunded -= t.amount
		}
		v.Status, v.Result, t.captured = "voided", "Voided", 0
	case "refund":
		switch {
		case !hasAmount:
			return pyFail(http.StatusUnprocessableEntity, "amount is required")
		case v.Type != "sale" || v.Status != "approved":
			return pyFail(http.StatusUnprocessableEntity, "only an approved sale or captured auth can be refunded")
		case amount > t.captured-t.refunded:
			return pyFail(http.StatusUnprocessableEntity, "refund amount exceeds the amount captured minus the amount already refunded ("+money(t.captured-t.refunded)+")")
		}
		p.nextID++
		rf := &pyTxn{created: now, amount: amount, parent: t}
		rv := &rf.v
		*rv = pyTxnView{ID: p.nextID, Fees: []any{}, CreditCard: v.CreditCard, InputMethod: v.InputMethod,
			Type: "refund", Status: "approved", Result: "Approved", CustomFields: []pyCustomField{}, Source: "api",
			IP: clientIP(r), DateCreated: now.UTC().Format(time.DateTime), Batch: &pyBatch{ID: 1, Status: "open"},
			ParentID: ptr(v.ID), Customer: v.Customer}
		t.refunded += amount
		p.txns[rv.ID] = rf
		p.order = append(p.order, rf)
		return pyReply{status: http.StatusOK, item: rf.view()}
	}
	return pyReply{status: http.StatusOK, item: t.view()}
}

// pySearch serves GET /v3/transaction[/search]: date (yyyy-mm-dd, UTC),
// amount, status, type (comma-separated), first_name, last_name (prefix,
// case-insensitive) and any other key as a custom field.
func (s *Sandbox) pySearch(w http.ResponseWriter, r *http.Request, search bool) {
	page, perPage, ok := pageParams(r)
	if !ok {
		pyError(w, http.StatusUnprocessableEntity, "page and per_page must be positive integers")
		return
	}
	qs := r.URL.Query()
	var amount int64 = -1
	if a := qs.Get("amount"); a != "" {
		c, err := parseAmount(a)
		if err != nil {
			pyError(w, http.StatusUnprocessableEntity, "amount must be a decimal with no currency symbol")
			return
		}
		amount = c
	}
	if d := qs.Get("date"); d != "" {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			pyError(w, http.StatusUnprocessableEntity, "date must be formatted yyyy-mm-dd")
			return
		}
	}
	types := map[string]bool{}
	for _, t := range strings.Split(qs.Get("type"), ",") {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
			types[t] = true
		}
	}
	match := func(t *pyTxn) bool {
		v := &t.v
		if !search {
			return true
		}
		if d := qs.Get("date"); d != "" && !strings.HasPrefix(v.DateCreated, d) {
			return false
		}
		if amount >= 0 && t.amount != amount {
			return false
		}
		if st := strings.ToLower(qs.Get("status")); st != "" && v.Status != st {
			return false
		}
		if len(types) > 0 && !types[v.Type] && !(types["void"] && v.Status == "voided") {
			return false
		}
		for key, field := range map[string]func(*pyCustomer) string{
			"first_name": func(c *pyCustomer) string { return c.FirstName },
			"last_name":  func(c *pyCustomer) string { return c.LastName },
		} {
			if want := qs.Get(key); want != "" {
				if v.Customer == nil || !strings.HasPrefix(strings.ToLower(field(v.Customer)), strings.ToLower(want)) {
					return false
				}
			}
		}
		for key := range qs {
			switch key {
			case "date", "amount", "status", "type", "first_name", "last_name", "page", "per_page":
				continue
			}
			found := false
			for _, cf := range v.CustomFields {
				if strings.EqualFold(cf.Key, key) && strings.EqualFold(cf.Value, qs.Get(key)) {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	p := &s.py
	p.mu.Lock()
	var hits []pyTxnView
	for _, t := range p.order {
		if match(t) {
			hits = append(hits, t.view())
		}
	}
	p.mu.Unlock()
	pyOK(w, "Transaction", pageOf(hits, page, perPage), len(hits), page, perPage)
}
