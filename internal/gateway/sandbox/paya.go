package sandbox

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/gateway/payaconnect/payarules"
)

func (s *Sandbox) handleTransactions(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.listTransactions(w, r)
	case http.MethodPost:
		s.postTransaction(w, r)
	default:
		methodNotAllowed(w, "GET, POST")
	}
}

func (s *Sandbox) handleTransaction(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.mu.Lock()
		rec, status := s.lookup(id)
		var v payaTxn
		if rec != nil {
			v = rec.view(r)
		}
		s.mu.Unlock()
		if rec == nil {
			recordError(w, status)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"transaction": v})
	case http.MethodPut:
		// The seed's field table has checked the action: it is one that
		// changes a transaction.
		q, ok := s.readPaya(w, r, true)
		if !ok {
			return
		}
		s.update(w, r, id, q.str("action"), q)
	default:
		methodNotAllowed(w, "GET, PUT")
	}
}

// lookup finds a transaction; the int is the HTTP status when it is not
// usable (404 unknown, 409 deleted). Call with s.mu held.
func (s *Sandbox) lookup(id string) (*record, int) {
	rec, ok := s.txns[id]
	switch {
	case !ok:
		return nil, http.StatusNotFound
	case rec.deleted:
		return nil, http.StatusConflict
	}
	return rec, http.StatusOK
}

func recordError(w http.ResponseWriter, status int) {
	if status == http.StatusConflict {
		payaError(w, status, "id", "Gone - The record has been deleted.")
		return
	}
	payaError(w, http.StatusNotFound, "id", "The record does not exist.")
}

// MarkDeleted marks a transaction deleted, so that the API answers 409 for
// it, as the real one does for deleted records; conformance suites use it.
// It reports whether the transaction existed.
func (s *Sandbox) MarkDeleted(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.txns[id]
	if ok {
		rec.deleted = true
	}
	return ok
}

// readPaya reads, decodes and checks a v2 body against the field table
// (put: a PUT on an existing transaction), answering 400/413/422 itself.
func (s *Sandbox) readPaya(w http.ResponseWriter, r *http.Request, put bool) (payaReq, bool) {
	body, err := readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			payaError(w, http.StatusRequestEntityTooLarge, "body", "The request body is too large.")
		} else {
			payaError(w, http.StatusBadRequest, "body", "The request body could not be read.")
		}
		return payaReq{}, false
	}
	q, ferrs, err := decodePaya(body)
	if err != nil {
		payaError(w, http.StatusBadRequest, "body", "Invalid JSON data in request body.")
		return payaReq{}, false
	}
	if len(ferrs) == 0 {
		ferrs = checkPaya(put, q)
	}
	if len(ferrs) > 0 {
		payaErrors(w, http.StatusUnprocessableEntity, ferrs)
		return payaReq{}, false
	}
	return q, true
}

func (s *Sandbox) postTransaction(w http.ResponseWriter, r *http.Request) {
	// The field table has checked the action: it creates a transaction.
	// authcomplete and void are PUTs on the id (seed 002); the integration
	// guide's POST samples for them name no transaction at all, and the
	// table marks previous_transaction_id N for both (docs/sandbox.md).
	q, ok := s.readPaya(w, r, false)
	if !ok {
		return
	}
	s.create(w, r, q.str("action"), q)
}

// pending is a transaction being created: validated and priced, not yet
// stored.
type pending struct {
	rec   *record
	out   outcome
	prev  string // previous_transaction_id to link (refund/credit/reuse)
	apiID string
}

func (s *Sandbox) create(w http.ResponseWriter, r *http.Request, action string, q payaReq) {
	errs := fieldErrors{}
	now := s.now()
	p := pending{rec: &record{}, apiID: q.str("transaction_api_id")}
	v := &p.rec.v

	method := q.str("payment_method") // the table: required, exactly cc or ach
	switch {
	case (action == "debit" || action == "credit") && method != "ach",
		(action == "sale" || action == "authonly" || action == "force" || action == "avsonly") && method != "cc":
		errs.add("payment_method", "The Product's method (cc/ach) has to match the action.")
	}
	p.rec.ach = method == "ach"

	var amount int64
	if action != "avsonly" {
		f := q.get("transaction_amount")
		if !f.present() {
			errs.add("transaction_amount", "Transaction Amount cannot be blank.")
		} else if a, err := parseAmount(f.str()); err != nil {
			errs.add("transaction_amount", "Transaction Amount "+err.Error()+".")
		} else if a <= 0 {
			errs.add("transaction_amount", "Transaction Amount must be greater than 0.")
		} else {
			amount = a
		}
	}
	s.commonFields(q, method, errs, v)

	var (
		cd      cardData
		haveCrd bool
		encErr  error
	)
	switch {
	case p.rec.ach:
		s.achFields(action, q, errs, p.rec)
	case action == "refund" && q.has("previous_transaction_id"):
		// Card details come from the transaction refunded.
	default:
		cd, haveCrd, encErr = s.cardSource(q, errs, v)
	}
	if q.has("previous_transaction_id") {
		p.prev = q.str("previous_transaction_id")
	}
	if p, ok := productByID(v.ProductTransactionID); ok && len(errs) == 0 {
		// The merchant's settings on the product (merchant.go).
		p.checkSettings(action, q, amount, q.has("previous_transaction_id"), errs)
	}
	if action == "force" {
		if ac := q.str("auth_code"); ac == "" {
			errs.add("auth_code", "Auth Code cannot be blank.")
		} else if len(ac) != 6 {
			errs.add("auth_code", "Auth Code should contain 6 characters.")
		}
	}
	if len(errs) > 0 {
		payaErrors(w, http.StatusUnprocessableEntity, errs)
		return
	}

	// Price the transaction: card, expiry, AVS, CVV, amount table.
	p.out = outcome{approve: true, reason: reasonApproved}
	if haveCrd {
		p.rec.card = cd.ref()
	}
	s.fillCard(p.rec, now, amount)
	switch action {
	case "sale", "authonly":
		av := checkAVS(q.str("billing_street"), q.str("billing_zip"), false)
		v.AVS, v.AVSEnhanced = av.avs, av.enhanced
		switch {
		case encErr != nil:
		case haveCrd && !card.Mod10(cd.pan):
			p.out = outcome{reason: reasonAccountErr}
			v.ResponseMessage = ptr("card number fails the Luhn check")
		case haveCrd && cd.expired(keyed(q), now):
			// Keyed or read: a card past its expiry month declines 1622.
			p.out = outcome{reason: reasonExpired}
		case av.decline:
			p.out = outcome{reason: reasonDeny}
			v.ResponseMessage = ptr("declined by AVS")
		default:
			p.out = amountOutcome(amount, q.get("allow_partial_authorization_override").flag())
		}
	case "avsonly":
		av := checkAVS(q.str("billing_street"), q.str("billing_zip"), true)
		v.AVS, v.AVSEnhanced = av.avs, av.enhanced
		if av.decline {
			p.out = outcome{reason: reasonDeny}
		}
	case "force":
		p.out = outcome{approve: true, reason: reasonForced}
	}
	if encErr != nil {
		// Whatever the action, a read the gateway cannot open declines.
		p.out = outcome{reason: reasonEncryption}
		v.ResponseMessage = ptr(encErr.Error())
	}
	if !p.rec.ach && v.CVVResponse == nil {
		v.CVVResponse = ptr(cvvResult(q.str("cvv"), p.rec.card.Brand))
	}

	s.mu.Lock()
	status, ferrs := s.commit(&p, action, amount, now, r)
	var view payaTxn
	if status == http.StatusOK {
		view = p.rec.view(r)
	}
	s.mu.Unlock()
	if status != http.StatusOK {
		payaErrors(w, status, ferrs)
		return
	}
	s.log.Info("sandbox: paya transaction", "id", view.ID, "action", action, "status_id", view.StatusID,
		"reason_code_id", view.ReasonCodeID, "amount", view.TransactionAmount, "card", maskedRef(p.rec.card))

	if p.out.delay > 0 {
		// The transaction is committed before the delay, as at a real
		// gateway: a client that times out finds it by transaction_api_id.
		if err := s.opts.Sleep(r.Context(), p.out.delay); err != nil {
			return // the client is gone
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"transaction": view})
}

// keyed reports whether the card of q is a keyed number: the card source
// cardSource picks when no track data is sent.
func keyed(q payaReq) bool {
	return !q.has("e_track_data") && !q.has("track_data") && q.has("account_number")
}

// maskedRef is the loggable form of a card: first six, asterisks, last four.
func maskedRef(c cardRef) string {
	if c.LastFour == "" {
		return ""
	}
	return c.FirstSix + "******" + c.LastFour
}

// commonFields validates and copies the fields every action may carry.
func (s *Sandbox) commonFields(q payaReq, method string, errs fieldErrors, v *payaTxn) {
	if id := q.str("location_id"); id != "" && id != LocationID {
		errs.add("location_id", "Location Id is invalid.")
	}
	v.LocationID = LocationID
	v.ProductTransactionID = ProductCCID
	if method == "ach" {
		v.ProductTransactionID = ProductACHID
	}
	if pt := q.str("product_transaction_id"); pt != "" {
		p, known := productByID(pt)
		switch {
		case !known:
			errs.add("product_transaction_id", "Product Transaction Id is invalid.")
		case (p.method == "ach") != (method == "ach"):
			errs.add("product_transaction_id", "The Product's method (cc/ach) has to match the action.")
		default:
			v.ProductTransactionID = pt
		}
	}
	// Lengths, formats and enums are the field table's (checkPaya).
	v.EntryModeID = q.str("entry_mode_id")
	if t := q.get("tax"); t.present() {
		if c, err := parseAmount(t.str()); err != nil {
			errs.add("tax", "Tax "+err.Error()+".")
		} else {
			v.Tax = money(c)
		}
	}
	v.TransactionAPIID = optStr(q.str("transaction_api_id"))
	v.OrderNum = q.str("order_num")
	v.Description = optStr(q.str("description"))
	v.TerminalSerialNumber = optStr(q.str("terminal_serial_number"))
	v.BillingStreet = optStr(q.str("billing_street"))
	v.BillingZip = optStr(q.str("billing_zip"))
	v.BillingCity = optStr(q.str("billing_city"))
	v.BillingState = optStr(q.str("billing_state"))
	v.BillingPhone = optStr(q.str("billing_phone"))
	v.ClerkNumber = optStr(q.str("clerk_number"))
	v.PONumber = optStr(q.str("po_number"))
	v.CustomerID = optStr(q.str("customer_id"))
	v.CustomerIP = optStr(q.str("customer_ip"))
	v.ContactID = optStr(q.str("contact_id"))
	v.TransactionC1 = optStr(q.str("transaction_c1"))
	v.TransactionC2 = optStr(q.str("transaction_c2"))
	v.TransactionC3 = optStr(q.str("transaction_c3"))
	v.NotificationEmailAddress = optStr(q.str("notification_email_address"))
	v.CustomData = q.customData
	v.PaymentMethod = method
	v.CheckinDate = optStr(q.str("checkin_date"))
	v.CheckoutDate = optStr(q.str("checkout_date"))
	v.RoomNum = optStr(q.str("room_num"))
	if f := q.get("room_rate"); f.present() {
		if c, err := parseAmount(f.str()); err == nil {
			v.RoomRate = money(c)
		}
	}
}

// cardSource finds the card of a credit card request: encrypted track data,
// clear track data, a keyed number, or a previous transaction's card. An
// encrypted read that cannot be opened is not a validation error but a
// decline (reason 1621): encErr carries why.
func (s *Sandbox) cardSource(q payaReq, errs fieldErrors, v *payaTxn) (cd cardData, ok bool, encErr error) {
	entry := ""
	switch {
	case q.has("e_track_data"):
		entry = "S"
		f := card.Format(q.str("e_format")) // exact: checked by the field table
		sealed, err := cutEnvelope(f, q.get("e_track_data").V, q.str("e_serial_number"))
		if err == nil {
			cd, err = sealed.open()
		}
		if err != nil {
			s.log.Info("sandbox: encrypted track data declined", "e_format", string(f), "reason", err.Error())
			encErr = err
		} else {
			ok = true
		}
	case q.has("track_data"):
		entry = "S"
		t := q.str("track_data")
		i := strings.IndexByte(t, ';')
		if i < 0 {
			i = len(t)
		}
		var good bool
		if cd, good = readTracks([]byte(t[:i]), []byte(t[i:]), false); !good {
			errs.add("track_data", "Track Data is invalid.")
			return cardData{}, false, nil
		}
		ok = true
	case q.has("account_number"):
		entry = "K"
		pan := q.str("account_number")
		if !validPAN(pan) || len(pan) > 19 {
			errs.add("account_number", "Account Number is invalid.")
		}
		switch exp := q.str("exp_date"); {
		case exp == "":
			errs.add("exp_date", "Exp Date cannot be blank.")
		case !validMMYY(exp):
			errs.add("exp_date", "Exp Date must be in MMYY format.")
		}
		cd = cardData{pan: pan, name: q.str("account_holder_name"), exp: q.str("exp_date")}
		ok = len(errs) == 0
	case q.has("account_vault_id") || q.has("account_vault_api_id"):
		errs.add("account_vault_id", "Account Vault Id is invalid (the sandbox keeps no account vaults).")
	case q.has("previous_transaction_id"):
		entry = "K" // the card comes from that transaction, in commit
	default:
		errs.add("account_number", "Account Number, Track Data, E Track Data or Previous Transaction Id is required.")
	}
	if v.EntryModeID == "" {
		v.EntryModeID = entry
	}
	return cd, ok, encErr
}

// achFields validates an ACH debit, credit or refund.
func (s *Sandbox) achFields(action string, q payaReq, errs fieldErrors, rec *record) {
	v := &rec.v
	if action == "debit" || action == "credit" {
		switch sec := strings.ToUpper(q.str("ach_sec_code")); sec {
		case "PPD", "CCD", "WEB", "TEL", "POP", "C21":
			v.ACHSecCode = ptr(sec)
		case "":
			errs.add("ach_sec_code", "Ach Sec Code cannot be blank.")
		default:
			errs.add("ach_sec_code", "Ach Sec Code must be one of PPD, CCD, WEB, TEL, POP, C21.")
		}
	}
	if v.EntryModeID == "" {
		v.EntryModeID = "K"
	}
	if q.has("previous_transaction_id") {
		return // account details come from the previous debit, in commit
	}
	if action == "refund" {
		errs.add("previous_transaction_id", "Previous Transaction Id cannot be blank for an ACH refund; use action credit.")
		return
	}
	acct := q.str("account_number")
	if !digitsOnly(acct) || len(acct) < 4 || len(acct) > 17 {
		errs.add("account_number", "Account Number must be 4 to 17 digits.")
	}
	if !validRouting(q.str("routing")) {
		errs.add("routing", "Routing is invalid.")
	}
	if q.str("account_holder_name") == "" {
		errs.add("account_holder_name", "Account Holder Name cannot be blank.")
	}
	at := strings.ToLower(q.str("account_type"))
	if at != "checking" && at != "savings" {
		errs.add("account_type", "Account Type must be checking or savings.")
	}
	if len(errs) > 0 {
		return
	}
	v.LastFour = ptr(acct[len(acct)-4:])
	v.Routing = ptr(q.str("routing"))
	v.AccountType = ptr(at)
	v.AccountHolderName = ptr(q.str("account_holder_name"))
}

// validRouting checks an ABA routing number: nine digits and the
// 3-7-1 checksum.
func validRouting(s string) bool {
	if len(s) != 9 || !digitsOnly(s) {
		return false
	}
	w := [3]int{3, 7, 1}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(s[i]-'0') * w[i%3]
	}
	return sum%10 == 0
}

// fillCard sets the fields every new transaction starts with.
func (s *Sandbox) fillCard(rec *record, now time.Time, amount int64) {
	v := &rec.v
	c := rec.card
	if c.LastFour != "" {
		v.FirstSix, v.LastFour = ptr(c.FirstSix), ptr(c.LastFour)
		v.AccountType = optStr(string(c.Brand))
		if v.AccountHolderName == nil {
			v.AccountHolderName = optStr(c.Name)
		}
	}
	v.TransactionAmount = money(amount)
	v.AuthAmount = money(amount)
	if v.Tax == "" {
		v.Tax = "0.00"
	}
	v.TipAmount = "0.00"
	if v.RoomRate == "" {
		v.RoomRate = "0.00"
	}
	v.CreatedTS, v.ModifiedTS = now.Unix(), now.Unix()
	v.CreatedUserID, v.ModifiedUserID = sandboxUserRecord, sandboxUserRecord
	v.TrxSourceID = trxSourceIntegration
	v.NotificationEmailSent = v.NotificationEmailAddress != nil
	rec.amount, rec.base = amount, amount
}

// commit applies the state rules that need the store (uniqueness of
// transaction_api_id, the previous transaction's state), sets the result
// fields and stores the transaction. Call with s.mu held. It returns 200 or
// the error status and messages.
func (s *Sandbox) commit(p *pending, action string, amount int64, now time.Time, r *http.Request) (int, fieldErrors) {
	rec, v := p.rec, &p.rec.v
	if p.apiID != "" {
		if _, dup := s.byAPIID[p.apiID]; dup {
			return http.StatusUnprocessableEntity, fieldErrors{"transaction_api_id": {
				"Transaction Api Id has already been taken. GET /v2/transactions?transaction_api_id=... returns the first transaction."}}
		}
	}
	if pr, _ := productByID(v.ProductTransactionID); pr.OrderNumCheck && v.OrderNum != "" && s.orderNumTaken(pr.id, v.OrderNum) {
		return http.StatusUnprocessableEntity, fieldErrors{"order_num": {
			"Order Num has already been used in the current batch: the deposit account's duplicate check uses it."}}
	}
	if p.prev != "" {
		prev, st := s.lookup(p.prev)
		if prev == nil {
			msg := "Previous Transaction Id is invalid."
			if st == http.StatusConflict {
				msg = "Previous Transaction Id names a deleted transaction."
			}
			return http.StatusUnprocessableEntity, fieldErrors{"previous_transaction_id": {msg}}
		}
		if errs := linkPrevious(rec, prev, action, amount); errs != nil {
			return http.StatusUnprocessableEntity, errs
		}
	}

	v.ID = newID()
	if v.OrderNum == "" {
		s.orderSeq++
		v.OrderNum = fmt.Sprintf("%012d", uint64(now.Unix())%1e8*1e4+s.orderSeq%1e4)
	}
	out := p.out
	switch {
	case !out.approve:
		v.StatusID, v.ReasonCodeID = statusDeclined, out.reason
		v.Verbiage = reasonText[out.reason]
		if out.timeout {
			v.Verbiage = "TIMEOUT"
		}
		rec.captured = 0
	default:
		v.ReasonCodeID = out.reason
		v.Verbiage = reasonText[out.reason]
		v.AuthCode = newAuthCode()
		switch action {
		case "sale", "force":
			v.StatusID, rec.captured = statusSale, amount
		case "authonly":
			v.StatusID = statusAuthOnly
		case "avsonly":
			v.StatusID = statusAVSOnly
		case "refund":
			v.StatusID = statusRefunded
		case "debit", "credit":
			v.StatusID, rec.captured = statusACHSubmit, amount
			v.AuthCode = "AUTH NUM " + v.AuthCode[:3] + "-" + v.AuthCode[3:]
		}
		if rec.ach && action == "refund" {
			v.StatusID = statusACHSubmit
		}
		if out.partial > 0 {
			v.AuthAmount = money(out.partial)
			rec.amount = out.partial
			if action == "sale" {
				rec.captured = out.partial
			}
		}
	}
	switch action {
	case "avsonly":
		v.TypeID = typeAVSOnly
		v.TransactionAmount, v.AuthAmount = "0.00", "0.00"
	case "refund":
		v.TypeID = typeRefund
	case "debit":
		v.TypeID = typeDebit
	case "credit":
		v.TypeID = typeCredit
	default:
		v.TypeID = typeSale
	}
	if v.StatusID == statusDeclined {
		v.AuthCode = ""
		v.AuthAmount = "0.00"
	}
	if rec.prev != nil && v.StatusID != statusDeclined && (action == "refund" || action == "credit") {
		rec.prev.refunded += amount
		rec.prev.v.ModifiedTS = now.Unix()
	}
	s.txns[v.ID] = rec
	s.order = append(s.order, rec)
	if p.apiID != "" {
		s.byAPIID[p.apiID] = v.ID
	}
	return http.StatusOK, nil
}

// linkPrevious applies the rules of a transaction made from an earlier one:
// a refund or ACH credit may not exceed what was captured minus what was
// already refunded; a sale may reuse a card. Call with s.mu held.
func linkPrevious(rec, prev *record, action string, amount int64) fieldErrors {
	pv := &prev.v
	bad := func(field, msg string) fieldErrors { return fieldErrors{field: {msg}} }
	if prev.ach != rec.ach {
		return bad("payment_method", "The Product's method (cc/ach) has to match the previous transaction.")
	}
	switch action {
	case "refund", "credit":
		switch {
		case action == "credit" && pv.TypeID != typeDebit:
			return bad("previous_transaction_id", "An ACH credit can only be made from a debit.")
		case action == "refund" && pv.TypeID != typeSale && pv.TypeID != typeDebit:
			return bad("previous_transaction_id", "Only a sale or a debit can be refunded.")
		case pv.StatusID == statusVoided:
			return bad("previous_transaction_id", "A voided transaction cannot be refunded.")
		case pv.StatusID == statusDeclined:
			return bad("previous_transaction_id", "A declined transaction cannot be refunded.")
		case pv.StatusID == statusAuthOnly:
			return bad("previous_transaction_id", "An authorization that was not completed cannot be refunded; void it instead.")
		case amount > prev.captured-prev.refunded:
			return bad("transaction_amount", fmt.Sprintf(
				"Refund amount cannot exceed the amount captured minus the amount already refunded (%s).",
				money(prev.captured-prev.refunded)))
		}
	default:
		if pv.StatusID == statusDeclined && pv.FirstSix == nil {
			return bad("previous_transaction_id", "The previous transaction has no card to reuse.")
		}
	}
	rec.prev = prev
	v := &rec.v
	v.PreviousTransactionID = ptr(pv.ID)
	if rec.ach {
		v.LastFour, v.Routing, v.AccountType, v.AccountHolderName = pv.LastFour, pv.Routing, pv.AccountType, pv.AccountHolderName
		return nil
	}
	rec.card = prev.card
	v.FirstSix, v.LastFour, v.AccountType = pv.FirstSix, pv.LastFour, pv.AccountType
	if v.AccountHolderName == nil {
		v.AccountHolderName = pv.AccountHolderName
	}
	if action == "refund" {
		v.EntryModeID = pv.EntryModeID
	}
	return nil
}

// update applies a PUT action (or its POST form) to transaction id.
func (s *Sandbox) update(w http.ResponseWriter, r *http.Request, id, action string, q payaReq) {
	var amount int64
	amt := q.get("transaction_amount")
	if amt.present() {
		a, err := parseAmount(amt.str())
		if err != nil {
			payaError(w, http.StatusUnprocessableEntity, "transaction_amount", "Transaction Amount "+err.Error()+".")
			return
		}
		amount = a
	}
	now := s.now()
	s.mu.Lock()
	rec, st := s.lookup(id)
	if rec == nil {
		s.mu.Unlock()
		recordError(w, st)
		return
	}
	errs := s.applyUpdate(rec, action, q, amount, amt.present(), now)
	var view payaTxn
	if errs == nil {
		rec.v.ModifiedTS = now.Unix()
		view = rec.view(r)
	}
	s.mu.Unlock()
	if errs != nil {
		payaErrors(w, http.StatusUnprocessableEntity, errs)
		return
	}
	s.log.Info("sandbox: paya update", "id", id, "action", action, "status_id", view.StatusID)
	writeJSON(w, http.StatusOK, map[string]any{"transaction": view})
}

// applyUpdate is the state machine of existing transactions. Call with s.mu
// held; it changes rec only when it returns nil.
func (s *Sandbox) applyUpdate(rec *record, action string, q payaReq, amount int64, hasAmount bool, now time.Time) fieldErrors {
	v := &rec.v
	bad := func(field, msg string) fieldErrors { return fieldErrors{field: {msg}} }
	needAmount := func() fieldErrors {
		switch {
		case !hasAmount:
			return bad("transaction_amount", "Transaction Amount cannot be blank.")
		case amount <= 0:
			return bad("transaction_amount", "Transaction Amount must be greater than 0.")
		}
		return nil
	}
	switch action {
	case "void":
		switch v.StatusID {
		case statusSale, statusAuthOnly, statusRefunded, statusACHSubmit:
		case statusVoided:
			return bad("id", "The transaction is already voided.")
		default:
			return bad("id", "Only an approved sale, authorization, refund or pending ACH transaction can be voided.")
		}
		if rec.refunded > 0 {
			return bad("id", "The transaction has refunds; void them first.")
		}
		if rec.prev != nil && (v.TypeID == typeRefund || v.TypeID == typeCredit) {
			rec.prev.refunded -= rec.amount
		}
		v.StatusID, v.ReasonCodeID, v.Verbiage = statusVoided, reasonVoided, reasonText[reasonVoided]
		v.TransactionAmount = "0.00"
		v.VoidDate = ptr(now.UTC().Format("2006-01-02"))
		rec.captured = 0
	case "authcomplete":
		if v.StatusID != statusAuthOnly {
			return bad("id", "Only an authonly transaction (status_id 102) can be completed.")
		}
		if hasAmount {
			if e := needAmount(); e != nil {
				return e
			}
		} else {
			amount = rec.amount
		}
		if p, ok := productByID(v.ProductTransactionID); ok {
			errs := fieldErrors{}
			if p.checkSettings(action, q, amount, true, errs); len(errs) > 0 {
				return errs
			}
		}
		v.StatusID, v.ReasonCodeID, v.Verbiage = statusSale, reasonCompleted, reasonText[reasonCompleted]
		v.TransactionAmount = money(amount)
		rec.captured, rec.base = amount, amount
	case "authincrement":
		if v.StatusID != statusAuthOnly {
			return bad("id", "Only an authonly transaction (status_id 102) can be incremented.")
		}
		if e := needAmount(); e != nil {
			return e
		}
		// transaction_amount is "the desired settle amount" (seed 002; its
		// authincrement example answers with the amount it was sent): the
		// new authorized total, which must be more than the current one.
		if amount <= rec.amount {
			return bad("transaction_amount", "Transaction Amount must be more than the current authorization ("+money(rec.amount)+"): it is the new total.")
		}
		rec.amount = amount
		rec.base = rec.amount
		v.TransactionAmount, v.AuthAmount = money(rec.amount), money(rec.amount)
		v.ReasonCodeID, v.Verbiage = reasonApproved, reasonText[reasonApproved]
	case "partialreversal":
		if v.StatusID != statusSale && v.StatusID != statusAuthOnly || rec.ach {
			return bad("id", "Only an approved card sale or authorization can be partially reversed.")
		}
		if e := needAmount(); e != nil {
			return e
		}
		cur := rec.amount
		if v.StatusID == statusSale {
			cur = rec.captured
		}
		if amount >= cur {
			return bad("transaction_amount", "Transaction Amount must be less than the current amount ("+money(cur)+"); it is the amount the transaction is reduced to.")
		}
		if amount < rec.refunded {
			return bad("transaction_amount", "Transaction Amount cannot be less than the amount already refunded.")
		}
		rec.amount, rec.base = amount, amount
		if v.StatusID == statusSale {
			rec.captured = amount
		}
		v.TransactionAmount, v.AuthAmount = money(amount), money(amount)
	case "tipadjust":
		if v.StatusID != statusSale || rec.ach {
			return bad("id", "Only an approved card sale (status_id 101) can be tip adjusted.")
		}
		total := amount
		// transaction_amount (required by the table) is the new total.
		if total < rec.base {
			return bad("transaction_amount", "Transaction Amount cannot be less than the amount before the tip ("+money(rec.base)+").")
		}
		if total < rec.refunded || total > maxAmount {
			return bad("transaction_amount", "Transaction Amount is out of range.")
		}
		rec.captured = total
		v.TransactionAmount = money(total)
		v.TipAmount = money(total - rec.base)
	case "edit":
		// The table's Edit column allows description and tags (and moves
		// of account vaults, which the sandbox does not keep).
		if q.has("description") {
			v.Description = optStr(q.str("description"))
		}
	}
	return nil
}

// listTransactions serves GET /v2/transactions with filters and paging.
func (s *Sandbox) listTransactions(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	page, perPage := 1, 20
	for name, dst := range map[string]*int{"page": &page, "page_size": &perPage, "per-page": &perPage} {
		if v := qs.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				payaError(w, http.StatusUnprocessableEntity, name, payarules.Label(name)+" must be a positive integer.")
				return
			}
			*dst = n
		}
	}
	perPage = min(perPage, 100)
	match, errs := buildFilter(qs, s.now())
	if errs != nil {
		payaErrors(w, http.StatusUnprocessableEntity, errs)
		return
	}
	s.mu.Lock()
	var hits []*record
	for i := len(s.order) - 1; i >= 0; i-- { // newest first: sort id desc
		if rec := s.order[i]; !rec.deleted && match(&rec.v) {
			hits = append(hits, rec)
		}
	}
	total := len(hits)
	from := min((page-1)*perPage, total)
	to := min(from+perPage, total)
	items := make([]payaTxn, 0, to-from)
	for _, rec := range hits[from:to] {
		items = append(items, rec.view(r))
	}
	s.mu.Unlock()

	pages := (total + perPage - 1) / perPage
	pageURL := func(p int) map[string]string {
		u := *r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("page_size", strconv.Itoa(perPage))
		u.RawQuery = q.Encode()
		return map[string]string{"href": baseURL(r) + u.RequestURI()}
	}
	links := map[string]any{"self": pageURL(page)}
	if page < pages {
		links["next"] = pageURL(page + 1)
	}
	if pages > 0 {
		links["last"] = pageURL(pages)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"transactions": items,
		"meta": map[string]any{
			"pagination": map[string]any{"links": links, "totalCount": total, "pageCount": pages,
				"currentPage": page - 1, "perPage": perPage},
			"sort": map[string]any{"attributes": map[string]string{"id": "desc"}},
		},
	})
}

// Count returns how many Paya Connect transactions the sandbox holds. Chaos
// and crash tests reconcile it with the agent's journal: every sale
// attempted must appear at most once.
func (s *Sandbox) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// Summary is what reconciliation needs of a stored transaction.
type Summary struct {
	ID, TransactionAPIID, OrderNum string
	StatusID                       int
}

// Summaries lists the Paya Connect transactions in creation order.
func (s *Sandbox) Summaries() []Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Summary, 0, len(s.order))
	for _, r := range s.order {
		v := &r.v
		sum := Summary{ID: v.ID, OrderNum: v.OrderNum, StatusID: v.StatusID}
		if v.TransactionAPIID != nil {
			sum.TransactionAPIID = *v.TransactionAPIID
		}
		out = append(out, sum)
	}
	return out
}
