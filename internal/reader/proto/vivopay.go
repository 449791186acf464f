package proto

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/emv"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// IDG commands and response statuses (card-formats.md §3.2).
const (
	idgCmdActivate = 0x02
	idgSubActivate = 0x01
	idgCmdResult   = 0x03
	idgCmdCancel   = 0x05
	idgSubCancel   = 0x01
	idgCmdSerial   = 0x12
	idgSubSerial   = 0x01
	idgCmdPing     = 0x18
	idgSubPing     = 0x01
	// Contact EMV L2 (NEO 2 guide §8.4.2, §8.4.18-8.4.20).
	idgCmdContact      = 0x60
	idgSubAuthenticate = 0x11
	idgSubHostResp     = 0x12

	idgOK       = 0x00
	idgTimeout  = 0x08
	idgNACK     = 0x0A
	idgGoOnline = 0x23
)

// Timing of IDG exchanges.
const (
	// ReplyTimeout is how long a command waits for its reply. The reader
	// answers ping, serial and cancel at once; a second covers USB and a
	// busy reader.
	ReplyTimeout = 2 * time.Second
	// defaultCardTimeout is the activate timeout when the transaction
	// names none.
	defaultCardTimeout = 30 * time.Second
	// staleWindow is how long after a cancel an 08/0A answer is taken for
	// the cancelled transaction's. A new transaction cannot time out that
	// fast (its timeout is at least a second).
	staleWindow = 500 * time.Millisecond
	// DefaultHostResponseTimeout is how long a contact card that went
	// online waits for the host response before the handler tells it
	// "unable to go online" itself, so that no card is left in the slot
	// if the engine never answers. It is longer than a gateway request's
	// timeout (30 s), after which the engine answers "unable to go online"
	// anyway.
	DefaultHostResponseTimeout = 60 * time.Second
	// completionTimeout bounds the Apply Host Response exchange: External
	// Authenticate, scripts and the second GENERATE AC take a card a
	// second or two.
	completionTimeout = 10 * time.Second
)

// HID report IDs of IDG over HID: 01 a single report; 02 first, 03 middle
// and 04 last of several (card-formats.md §3.1, from an older ViVOpay
// driver: unverified on a VP3300 for frames longer than one report).
const (
	reportSingle = 0x01
	reportFirst  = 0x02
	reportMiddle = 0x03
	reportLast   = 0x04
)

// ErrNoReply is wrapped when an IDG command gets no answer in time.
var ErrNoReply = errors.New("the reader did not answer")

// Errors of a transaction that ended without a card.
var (
	ErrCardTimeout = errors.New("the reader timed out waiting for a card")
	// ErrNotWaiting is returned by a Completion when its card no longer
	// waits for a host response (already told, or timed out).
	ErrNotWaiting = errors.New("the card is no longer waiting for a host response")
	// ErrCompleting is returned by Arm while the previous chip card still
	// waits for its host response.
	ErrCompleting = errors.New("the reader is still finishing the previous chip sale (waiting for its host response)")
)

var (
	tagAmount    = emv.MustTag("9F02")
	tagTxnType   = emv.MustTag("9C")
	tagCurrency  = emv.MustTag("5F2A")
	tagDate      = emv.MustTag("9A")
	tagTime      = emv.MustTag("9F21")
	tagError     = emv.MustTag("FFEE1F")
	tagARC       = emv.MustTag("8A")
	tagIssuerAu  = emv.MustTag("91")
	tagCID       = emv.MustTag("9F27")
	tagEntryMode = emv.MustTag("9F39")
	// tagResponseCodes (DFEE1B) tells ID TECH's kernel which 8A values mean
	// approved, referral and declined (ID TECH KB "Why is Tag 8A giving a Z3
	// response code?"): "00", "01", "05", 2 bytes RFU.
	tagResponseCodes = emv.MustTag("DFEE1B")
	responseCodes    = []byte{'0', '0', '0', '1', '0', '5', 0, 0}
	currencyUSD      = []byte{0x08, 0x40}
)

// vivopayHandler speaks the IDG protocol 2 of the VP3300 family: ping and
// serial number at open, Activate Transaction on Arm, Cancel Transaction on
// Cancel, card reads from the activate response.
type vivopayHandler struct {
	r          *Reader
	split      IDGSplitter
	reportSize int // > 0: IDG over HID reports with a report ID

	mu      sync.Mutex
	armed   bool
	waiters map[byte]chan decrypt.IDGFrame
	// staleUntil: a cancelled Activate may still answer (08 or 0A) after
	// the cancel reply; such an answer arriving before this time belongs to
	// the old transaction, not to one armed right after the cancel.
	staleUntil time.Time
	// answered: the cancelled Activate already answered (before the
	// cancel reply), so no stale answer is due.
	answered bool
	// authenticating: the start answer asked for Authenticate Transaction
	// (60-11) and its answer is due.
	authenticating bool
	// host is the contact card waiting for its host response, nil when
	// none does.
	host        *hostWait
	hostTimeout time.Duration
}

// hostWait is one contact card waiting for Apply Host Response.
type hostWait struct {
	used  bool          // a completion was started (by the engine or the timer)
	done  chan struct{} // closed when the card was told, or given up
	timer *time.Timer
}

func (v *vivopayHandler) open(ctx context.Context) error {
	if f, err := v.exchange(ctx, idgCmdPing, idgSubPing, nil); err != nil {
		return fmt.Errorf("ping the reader (is it an ID TECH IDG reader, at the right baud rate?): %w", err)
	} else if f.Sub != idgOK {
		return fmt.Errorf("%w: ping answered with status %02X", ErrProtocol, f.Sub)
	}
	f, err := v.exchange(ctx, idgCmdSerial, idgSubSerial, nil)
	switch {
	case err != nil:
		v.r.log.Info("reader did not report its serial number", "err", err)
	case f.Sub != idgOK:
		v.r.log.Info("reader did not report its serial number", "status", f.Sub)
	default:
		if s := cleanSerial(f.Data); s != "" {
			v.r.setSerial(s)
		}
	}
	return nil
}

// exchange sends a command and waits for the response with the same command
// byte. Before Run starts it reads the transport itself; while Run runs, Run
// reads and hands the response over.
func (v *vivopayHandler) exchange(ctx context.Context, cmd, sub byte, data []byte) (decrypt.IDGFrame, error) {
	return v.exchangeWithin(ctx, cmd, sub, data, ReplyTimeout)
}

// exchangeWithin is exchange with its own reply timeout.
func (v *vivopayHandler) exchangeWithin(ctx context.Context, cmd, sub byte, data []byte, wait time.Duration) (decrypt.IDGFrame, error) {
	ch := make(chan decrypt.IDGFrame, 1)
	v.mu.Lock()
	v.waiters[cmd] = ch
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		if v.waiters[cmd] == ch {
			delete(v.waiters, cmd)
		}
		v.mu.Unlock()
	}()
	if err := v.send(decrypt.AppendIDG(nil, cmd, sub, data)); err != nil {
		return decrypt.IDGFrame{}, err
	}
	deadline := time.Now().Add(wait)
	if v.r.readMu.TryLock() {
		defer v.r.readMu.Unlock()
		buf := make([]byte, readBufSize)
		for time.Now().Before(deadline) {
			select {
			case f := <-ch:
				return f, nil
			default:
			}
			if err := ctx.Err(); err != nil {
				return decrypt.IDGFrame{}, err
			}
			n, err := v.r.conn.Read(buf)
			if n > 0 {
				v.input(buf[:n], v.r.now())
			}
			if err != nil {
				return decrypt.IDGFrame{}, fmt.Errorf("%w: %w", reader.ErrDetached, err)
			}
		}
		select {
		case f := <-ch:
			return f, nil
		default:
		}
		return decrypt.IDGFrame{}, fmt.Errorf("%w: command %02X-%02X, %v", ErrNoReply, cmd, sub, wait)
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case f := <-ch:
		return f, nil
	case <-ctx.Done():
		return decrypt.IDGFrame{}, ctx.Err()
	case <-t.C:
		return decrypt.IDGFrame{}, fmt.Errorf("%w: command %02X-%02X, %v", ErrNoReply, cmd, sub, wait)
	}
}

// send writes a frame, wrapped in HID reports when the transport is HID.
func (v *vivopayHandler) send(frame []byte) error {
	if v.reportSize <= 0 {
		return v.r.write(frame)
	}
	// One Write per report: a HID write sends exactly one report.
	reps := appendReports(nil, frame, v.reportSize)
	for len(reps) > 0 {
		if err := v.r.write(reps[:v.reportSize]); err != nil {
			return err
		}
		reps = reps[v.reportSize:]
	}
	return nil
}

// appendReports cuts frame into zero-filled output reports of size bytes
// (report ID included).
func appendReports(dst, frame []byte, size int) []byte {
	per := size - 1
	for i := 0; i < len(frame) || i == 0; i += per {
		id := byte(reportMiddle)
		switch {
		case len(frame) <= per:
			id = reportSingle
		case i == 0:
			id = reportFirst
		case i+per >= len(frame):
			id = reportLast
		}
		rep := make([]byte, size)
		rep[0] = id
		copy(rep[1:], frame[i:min(i+per, len(frame))])
		dst = append(dst, rep...)
	}
	return dst
}

func (v *vivopayHandler) input(b []byte, t time.Time) {
	if v.reportSize > 0 && len(b) > 0 {
		b = b[1:] // report ID; the zero fill is skipped by the splitter
	}
	v.split.Feed(b, func(u Unit) { v.unit(u, t) })
}

func (v *vivopayHandler) stale(t time.Time) { v.split.Stale(func(u Unit) { v.unit(u, t) }) }

func (v *vivopayHandler) unit(u Unit, t time.Time) {
	if u.Err != nil {
		// A damaged response while a transaction waits is a failed read;
		// otherwise it is noise on the line.
		if v.isArmed() {
			v.r.refuse(u.Err, t)
		} else {
			v.r.log.Info("dropped a damaged IDG frame", "err", u.Err)
		}
		return
	}
	f, _, err := decrypt.ParseIDG(u.Frame)
	if err != nil { // the splitter checked it; keep the guard cheap
		return
	}
	v.mu.Lock()
	ch := v.waiters[f.Cmd]
	if ch != nil {
		delete(v.waiters, f.Cmd)
	}
	v.mu.Unlock()
	if ch != nil {
		f.Data = append([]byte(nil), f.Data...) // Data aliases the splitter's buffer
		ch <- f
		return
	}
	switch f.Cmd {
	case idgCmdActivate, idgCmdResult:
		v.response(f, u.Frame, t)
	case idgCmdContact:
		// The answer to Authenticate Transaction ends the first half of a
		// contact transaction like an Activate answer does.
		v.mu.Lock()
		auth := v.authenticating
		v.authenticating = false
		v.mu.Unlock()
		if auth {
			v.response(f, u.Frame, t)
			return
		}
		v.r.log.Debug("unsolicited IDG contact frame", "status", f.Sub)
	default:
		v.r.log.Debug("unsolicited IDG frame", "cmd", f.Cmd, "status", f.Sub)
	}
}

// response handles the answer to Activate Transaction: it ends the
// transaction either way.
func (v *vivopayHandler) response(f decrypt.IDGFrame, frame []byte, t time.Time) {
	v.mu.Lock()
	if (f.Sub == idgTimeout || f.Sub == idgNACK) && t.Before(v.staleUntil) {
		v.staleUntil = time.Time{}
		v.mu.Unlock()
		v.r.log.Debug("answer of the cancelled transaction", "status", f.Sub)
		return
	}
	v.staleUntil = time.Time{}
	armed := v.armed
	v.armed = false
	v.answered = true
	v.mu.Unlock()
	switch f.Sub {
	case idgOK, idgGoOnline:
		if !armed {
			// The sale was cancelled: a read that arrives now has no sale
			// to go to, and charging it would surprise everyone.
			v.r.log.Warn("card read arrived after the transaction was cancelled: dropped")
			return
		}
		v.read(f, frame, t)
	case idgTimeout:
		if armed {
			v.r.prompt(sale.PromptRetry, t, ErrCardTimeout)
		}
	case idgNACK:
		if armed {
			v.r.refuse(nackError(f.Data), t)
		}
	default:
		if armed {
			v.r.refuse(fmt.Errorf("%w: the reader ended the transaction with IDG status %02X", ErrProtocol, f.Sub), t)
		}
	}
}

// read handles a card answer (status 00 or 23) to a start or an
// authenticate. Swipe, fallback swipe and contactless end here (one step).
// A contact chip card either needs Authenticate Transaction first (the
// start answered without a cryptogram: auto-authenticate is off), declined
// by itself (AAC), approved offline (TC), or asks to go online (status 23,
// ARQC): then the read carries a Completion and the card waits for the
// host response.
func (v *vivopayHandler) read(f decrypt.IDGFrame, frame []byte, t time.Time) {
	read, err := decrypt.ParseVivopay(frame)
	if err != nil {
		v.r.refuse(err, t)
		if f.Sub == idgGoOnline && contactAnswer(f.Data) {
			// The card waits for a host response although its read is
			// unusable (e.g. not encrypted): decline it now. Run is
			// calling us, and the answer comes through Run.
			complete := v.awaitHost()
			go func() {
				if _, err := complete(context.Background(), reader.HostResponse{ARC: reader.ARCDeclined}); err != nil {
					v.r.log.Warn("could not release the chip card of a refused read", "err", err)
				}
			}()
		}
		return
	}
	contact := read.EntryMode == card.EntryChip
	switch {
	case contact && f.Cmd != idgCmdContact && f.Sub == idgOK && read.Receipt.CryptogramType == "":
		v.mu.Lock()
		v.armed, v.authenticating = true, true
		v.mu.Unlock()
		if err := v.send(decrypt.AppendIDG(nil, idgCmdContact, idgSubAuthenticate, nil)); err != nil {
			v.mu.Lock()
			v.armed, v.authenticating = false, false
			v.mu.Unlock()
			v.r.refuse(fmt.Errorf("send Authenticate Transaction: %w", err), t)
		}
		return
	case contact && read.Receipt.CryptogramType == "AAC":
		v.r.prompt(sale.PromptRemoveCard, t, nil)
		v.r.refuse(errors.New("the chip card declined the transaction itself (AAC at the first GENERATE AC): nothing was sent to the gateway; try another card"), t)
		return
	}
	v.r.prompt(sale.PromptProcessing, t, nil)
	if !contact || f.Sub != idgGoOnline {
		v.r.deliver(read, nil, t)
		return
	}
	v.r.deliverCard(read, t, v.awaitHost())
}

// contactAnswer reports whether an answer's TLVs say contact chip (9F39
// 05), with or without an attribution byte first.
func contactAnswer(data []byte) bool {
	for _, d := range [][]byte{data, data[min(1, len(data)):]} {
		if tlvs, _, err := emv.Decode(d); err == nil {
			if e, ok := emv.Find(tlvs, tagEntryMode); ok {
				return len(e.Value) == 1 && e.Value[0] == 0x05
			}
		}
	}
	return false
}

// awaitHost marks the card as waiting for its host response and returns
// the Completion that gives it. If nobody calls it within hostTimeout, the
// card is told "unable to go online".
func (v *vivopayHandler) awaitHost() reader.Completion {
	hw := &hostWait{done: make(chan struct{})}
	v.mu.Lock()
	v.host = hw
	hw.timer = time.AfterFunc(v.hostTimeout, func() {
		d, err := v.complete(context.Background(), hw, reader.HostResponse{ARC: reader.ARCUnableOnline})
		switch {
		case errors.Is(err, ErrNotWaiting):
		case err != nil:
			v.r.log.Warn("no host response came for the chip card; telling it \"unable to go online\" failed", "err", err)
		default:
			v.r.log.Warn("no host response came for the chip card: told it \"unable to go online\"", "card_approved", d.Approved, "cryptogram", d.Cryptogram)
		}
	})
	v.mu.Unlock()
	return func(ctx context.Context, hr reader.HostResponse) (reader.CardDecision, error) {
		return v.complete(ctx, hw, hr)
	}
}

// complete sends Apply Host Response (60-12) for hw and reads the card's
// decision from the answer.
func (v *vivopayHandler) complete(ctx context.Context, hw *hostWait, hr reader.HostResponse) (reader.CardDecision, error) {
	if len(hr.ARC) != 2 {
		return reader.CardDecision{}, fmt.Errorf("host response code %q: want two characters", hr.ARC)
	}
	v.mu.Lock()
	if v.host != hw || hw.used {
		v.mu.Unlock()
		return reader.CardDecision{}, ErrNotWaiting
	}
	hw.used = true
	hw.timer.Stop()
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		if v.host == hw {
			v.host = nil
		}
		v.mu.Unlock()
		close(hw.done)
	}()
	f, err := v.exchangeWithin(ctx, idgCmdContact, idgSubHostResp, hostResponseData(hr), completionTimeout)
	if err != nil {
		return reader.CardDecision{}, fmt.Errorf("apply host response: %w", err)
	}
	if f.Sub != idgOK {
		if f.Sub == idgNACK {
			return reader.CardDecision{}, fmt.Errorf("apply host response: %w", nackError(f.Data))
		}
		return reader.CardDecision{}, fmt.Errorf("%w: apply host response answered with status %02X (the reader no longer waited for it)", ErrProtocol, f.Sub)
	}
	d, err := cardDecision(f.Data)
	v.r.prompt(sale.PromptRemoveCard, v.r.now(), nil)
	return d, err
}

// hostResponseData is 60-12's data: 8A, 91 and the scripts when present,
// and DFEE1B so that the kernel knows "05" for a decline.
func hostResponseData(hr reader.HostResponse) []byte {
	d := emv.AppendTLV(nil, tagARC, []byte(hr.ARC))
	if len(hr.IssuerAuth) > 0 {
		d = emv.AppendTLV(d, tagIssuerAu, hr.IssuerAuth)
	}
	d = append(d, hr.Scripts...)
	return emv.AppendTLV(d, tagResponseCodes, responseCodes)
}

// cardDecision reads 9F27 (cryptogram information: 40 TC, 00 AAC) and 8A
// from the completion answer.
func cardDecision(data []byte) (reader.CardDecision, error) {
	tlvs, _, err := emv.Decode(data)
	if (err != nil || len(tlvs) == 0) && len(data) > 1 {
		tlvs, _, err = emv.Decode(data[1:]) // an attribution byte first
	}
	if err != nil {
		return reader.CardDecision{}, fmt.Errorf("%w: the completion answer is not TLV data", ErrProtocol)
	}
	var d reader.CardDecision
	if a, ok := emv.Find(tlvs, tagARC); ok {
		d.ARC = string(a.Value)
	}
	c, ok := emv.Find(tlvs, tagCID)
	if !ok || len(c.Value) != 1 {
		return d, fmt.Errorf("%w: the completion answer does not say what the card decided (no 9F27)", ErrProtocol)
	}
	switch c.Value[0] & 0xC0 {
	case 0x40:
		d.Approved, d.Cryptogram = true, "TC"
	case 0x00:
		d.Cryptogram = "AAC"
	default:
		return d, fmt.Errorf("%w: the card answered the second GENERATE AC with cryptogram type %02X", ErrProtocol, c.Value[0])
	}
	return d, nil
}

// nackError explains a status 0A response. Its data is the error code, SW1,
// SW2 and RF state, bare or inside FFEE1F when encryption is on (§3.2); none
// of them is card data.
func nackError(data []byte) error {
	if tlvs, _, err := emv.Decode(data); err == nil {
		if t, ok := emv.Find(tlvs, tagError); ok {
			data = t.Value
		}
	}
	switch {
	case len(data) >= 3:
		return fmt.Errorf("the reader refused the transaction (IDG status 0A, error code %02X, SW %02X%02X)", data[0], data[1], data[2])
	case len(data) >= 1:
		return fmt.Errorf("the reader refused the transaction (IDG status 0A, error code %02X)", data[0])
	}
	return errors.New("the reader refused the transaction (IDG status 0A)")
}

func (v *vivopayHandler) isArmed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.armed
}

// arm sends Activate Transaction (02-01): timeout byte, then amount,
// transaction type, currency (USD), date and time.
func (v *vivopayHandler) arm(ctx context.Context, t reader.Transaction) error {
	// The previous chip card must be told first: the reader refuses a new
	// transaction while one waits for its host response.
	v.mu.Lock()
	hw := v.host
	v.mu.Unlock()
	if hw != nil {
		wait := time.NewTimer(completionTimeout + ReplyTimeout)
		defer wait.Stop()
		select {
		case <-hw.done:
		case <-ctx.Done():
			return ctx.Err()
		case <-wait.C:
			return ErrCompleting
		}
	}
	if v.isArmed() {
		if err := v.cancel(ctx); err != nil {
			return fmt.Errorf("cancel the transaction in progress: %w", err)
		}
	}
	amount, err := emv.AmountN12(t.AmountCents)
	if err != nil {
		return err
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = defaultCardTimeout
	}
	secs := min(max(int(timeout/time.Second), 1), 255)
	now := v.r.now()
	data := []byte{byte(secs)}
	data = emv.AppendTLV(data, tagAmount, amount)
	data = emv.AppendTLV(data, tagTxnType, []byte{t.Type})
	data = emv.AppendTLV(data, tagCurrency, currencyUSD)
	data = emv.AppendTLV(data, tagDate, bcd(now.Year()%100, int(now.Month()), now.Day()))
	data = emv.AppendTLV(data, tagTime, bcd(now.Hour(), now.Minute(), now.Second()))
	v.mu.Lock()
	v.armed = true
	v.mu.Unlock()
	// Queue the prompt before the command: a fast reader's answer must not
	// overtake it.
	v.r.prompt(sale.PromptPresentCard, now, nil)
	if err := v.send(decrypt.AppendIDG(nil, idgCmdActivate, idgSubActivate, data)); err != nil {
		v.mu.Lock()
		v.armed = false
		v.mu.Unlock()
		return err
	}
	return nil
}

func bcd(vals ...int) []byte {
	b := make([]byte, len(vals))
	for i, x := range vals {
		b[i] = byte(x/10%10<<4 | x%10)
	}
	return b
}

// cancel sends Cancel Transaction (05-01) and waits for its reply, as the
// reader wants before any other command (§3.2).
func (v *vivopayHandler) cancel(ctx context.Context) error {
	v.mu.Lock()
	armed := v.armed
	v.armed = false
	v.authenticating = false
	v.answered = false
	hw := v.host
	v.mu.Unlock()
	if hw != nil {
		// A card waiting for its host response is not cancelled by 05-01:
		// it is told that the host could not be reached.
		if _, err := v.complete(ctx, hw, reader.HostResponse{ARC: reader.ARCUnableOnline}); err != nil && !errors.Is(err, ErrNotWaiting) {
			return fmt.Errorf("finish the chip card: %w", err)
		}
	}
	if !armed {
		return nil
	}
	f, err := v.exchange(ctx, idgCmdCancel, idgSubCancel, nil)
	if err != nil {
		return fmt.Errorf("cancel transaction: %w", err)
	}
	if f.Sub != idgOK {
		return fmt.Errorf("%w: cancel transaction answered with status %02X", ErrProtocol, f.Sub)
	}
	v.mu.Lock()
	if !v.answered {
		v.staleUntil = v.r.now().Add(staleWindow)
	}
	v.mu.Unlock()
	return nil
}
