package sim

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/decrypt/dukpt"
	"github.com/posagent/posagent/internal/emv"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/sale"
)

// The simulated device.
const (
	DriverName = "sim"
	DeviceID   = "sim:1"
	// DefaultSerial is the serial number the simulated reader reports.
	DefaultSerial = "SIM00001"
	// requestTimeout bounds how long Simulate, Arm and Cancel wait for the
	// reader's Run to take the request: a reader nobody runs must not hang
	// the caller.
	requestTimeout = 5 * time.Second
)

// Initial KSNs (counter 0) of the public test key: ID TECH demo units use the
// 629949 prefix, MagTek's manuals FFFF9876543210E0. The first read uses
// counter 1.
const (
	IDTechInitialKSN = "62994900730004200000"
	MagTekInitialKSN = "FFFF9876543210E00000"
)

// Model is a simulated reader model.
type Model string

// The models the simulator plays.
const (
	ModelSecureMag Model = "ID TECH SecureMag" // swipe, enhanced binary frames (HID)
	ModelDynamag   Model = "MagTek Dynamag"    // swipe, V5 HID reports
	ModelVP3300    Model = "ID TECH VP3300"    // swipe, chip and tap over IDG; needs Arm
)

// Models lists the models in a stable order.
var Models = []Model{ModelSecureMag, ModelDynamag, ModelVP3300}

// ParseModel accepts a model's full name or its last word (securemag,
// dynamag, vp3300), in any case.
func ParseModel(s string) (Model, error) {
	for _, m := range Models {
		full := string(m)
		short := full[strings.LastIndexByte(full, ' ')+1:]
		if strings.EqualFold(s, full) || strings.EqualFold(s, short) {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown simulated model %q: want securemag, dynamag or vp3300", s)
}

func (m Model) emv() bool { return m == ModelVP3300 }

func (m Model) vendor() (vendor, model string) {
	full := string(m)
	i := strings.LastIndexByte(full, ' ')
	return full[:i], full[i+1:]
}

// Fault makes the simulated reader misbehave the way real ones do.
type Fault int

// Faults.
const (
	FaultNone Fault = iota
	// FaultNotEncrypting sends clear track data, as a reader with
	// encryption off does; the agent must refuse it (clear_track_data).
	FaultNotEncrypting
	// FaultBadRead damages the read: a wrong LRC (SecureMag), a wrong CRC
	// (VP3300) or a report cut one byte short (Dynamag, whose HID report
	// has no LRC). The agent refuses it and prompts a retry.
	FaultBadRead
)

func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultNotEncrypting:
		return "not-encrypting"
	case FaultBadRead:
		return "bad-read"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Errors of the simulated reader.
var (
	ErrNotAttached = errors.New("the simulated reader is not attached")
	ErrNotArmed    = errors.New("arm the reader first: chip and tap reads need a transaction (start a sale)")
	ErrSwipeOnly   = errors.New("this reader model reads swipes only: use entry mode S")
	ErrNotRunning  = errors.New("the simulated reader is not running")
	// ErrAwaitingHost refuses a transaction or a card while a chip card
	// waits for its host response, as the VP3300 does.
	ErrAwaitingHost = errors.New("the reader is waiting for the host response of the chip card in the slot")
	// ErrNotWaiting is returned by a Completion whose card no longer waits
	// (already told, timed out, or cancelled).
	ErrNotWaiting = errors.New("the card is no longer waiting for a host response")
)

// DefaultHostResponseTimeout is how long a simulated chip card waits for
// its host response before the reader gives up and the card declines by
// itself (the agent's own IDG handler waits as long).
const DefaultHostResponseTimeout = 60 * time.Second

// replugAfter is how long a reader unplugged at completion
// (PANUnplugsAtCompletion) stays away: long enough for the manager to see
// it gone (it polls every 500 ms).
const replugAfter = time.Second

// Options configure the simulator. Zero values pick the defaults.
type Options struct {
	// Model defaults to the VP3300, which takes swipe, chip and tap.
	Model Model
	// KSN is the initial KSN (20 hex digits, counter 0 or any later value);
	// each read moves to the next counter. The default is the vendor's
	// test-key KSN.
	KSN string
	// Serial is the reader's serial number, up to 8 printable characters.
	Serial string
	Fault  Fault
	// Now replaces time.Now (tests).
	Now func() time.Time
	// HostResponseTimeout: see DefaultHostResponseTimeout (0 picks it).
	HostResponseTimeout time.Duration
}

// Driver is the "sim" transport with its one device. It holds the device's
// state — KSN counter, transaction counter, fault, plugged or not — so that
// it survives the reader being closed and opened again, as a real device's
// does.
type Driver struct {
	model       Model
	serial      string
	now         func() time.Time
	hostTimeout time.Duration

	mu      sync.Mutex
	ksn     []byte // the last KSN used; the next read uses NextKSN(ksn)
	atc     uint16
	fault   Fault
	present bool
	cur     *Reader
}

// NewDriver returns the simulator's driver with its device plugged in.
func NewDriver(o Options) (*Driver, error) {
	if o.Model == "" {
		o.Model = ModelVP3300
	}
	if _, err := ParseModel(string(o.Model)); err != nil {
		return nil, err
	}
	if o.KSN == "" {
		o.KSN = IDTechInitialKSN
		if o.Model == ModelDynamag {
			o.KSN = MagTekInitialKSN
		}
	}
	ksn, err := hex.DecodeString(o.KSN)
	if err != nil || len(ksn) != dukpt.KSNLen {
		return nil, fmt.Errorf("simulator KSN %q: want 20 hex digits", o.KSN)
	}
	if o.Serial == "" {
		o.Serial = DefaultSerial
	}
	if len(o.Serial) > 8 || !printable(o.Serial) {
		return nil, fmt.Errorf("simulator serial %q: want up to 8 printable characters", o.Serial)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HostResponseTimeout <= 0 {
		o.HostResponseTimeout = DefaultHostResponseTimeout
	}
	return &Driver{model: o.Model, serial: o.Serial, now: o.Now, hostTimeout: o.HostResponseTimeout, ksn: ksn, fault: o.Fault, present: true}, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}

// Name is "sim".
func (d *Driver) Name() string { return DriverName }

// Model is the simulated model.
func (d *Driver) Model() Model { return d.model }

// Info describes the simulated reader.
func (d *Driver) Info() sale.Reader {
	vendor, model := d.model.vendor()
	return sale.Reader{
		ID:        DeviceID,
		Device:    card.DeviceInfo{Vendor: vendor, Model: model, Serial: d.serial, Transport: DriverName, Path: DeviceID},
		Status:    sale.ReaderOK,
		EMV:       d.model.emv(),
		Simulated: true,
	}
}

// Scan lists the device while it is plugged in.
func (d *Driver) Scan(context.Context) ([]reader.Device, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.present {
		return nil, nil
	}
	return []reader.Device{{ID: DeviceID, Device: d.Info().Device}}, nil
}

// Open opens the device.
func (d *Driver) Open(_ context.Context, dev reader.Device) (reader.Reader, error) {
	if dev.ID != DeviceID {
		return nil, fmt.Errorf("sim: no device %q", dev.ID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.present {
		return nil, fmt.Errorf("open %s: %w", DeviceID, ErrNotAttached)
	}
	if d.cur != nil {
		return nil, fmt.Errorf("open %s: the device is already open", DeviceID)
	}
	r := &Reader{d: d, info: d.Info(), reqs: make(chan request), gone: make(chan struct{})}
	d.cur = r
	return r, nil
}

// Unplug takes the device away: Scan stops listing it and the open reader's
// Run returns an error wrapping reader.ErrDetached, as a real reader's read
// fails when its cable is pulled.
func (d *Driver) Unplug() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.present = false
	if d.cur != nil {
		d.cur.unplugged.Store(true)
		d.cur.end()
		d.cur = nil
	}
}

// Replug plugs the device back in; the next scan lists it again.
func (d *Driver) Replug() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.present = true
}

// SetFault changes the fault mode for the reads that follow.
func (d *Driver) SetFault(f Fault) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fault = f
}

// Simulate reads c on the open reader (see Reader.Simulate).
func (d *Driver) Simulate(ctx context.Context, c SimCard) error {
	d.mu.Lock()
	r := d.cur
	d.mu.Unlock()
	if r == nil {
		return ErrNotAttached
	}
	return r.Simulate(ctx, c)
}

// next takes the KSN and transaction counter of the next read.
func (d *Driver) next(emvRead bool) (ksn []byte, atc uint16, fault Fault, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k, err := dukpt.NextKSN(d.ksn)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("the simulated reader's keys are exhausted: %w", err)
	}
	d.ksn = k
	if emvRead {
		d.atc++
	}
	return append([]byte(nil), k...), d.atc, d.fault, nil
}

// Reader is the open simulated device.
type Reader struct {
	d    *Driver
	info sale.Reader
	// reqs carries Simulate, Arm and Cancel to Run, which owns the
	// transaction state and the emit function.
	reqs      chan request
	gone      chan struct{} // closed by Close or Unplug
	goneOnce  sync.Once
	unplugged atomic.Bool
	running   atomic.Bool
}

type requestKind int

const (
	reqSimulate requestKind = iota
	reqArm
	reqCancel
	reqComplete
)

type request struct {
	kind  requestKind
	card  SimCard
	tx    reader.Transaction
	reply chan error
	// reqComplete: the card it is for, the host response, and where Run
	// writes the card's decision before replying.
	host     uint64
	hr       reader.HostResponse
	decision *reader.CardDecision
}

// simHost is the chip card in the slot waiting for its host response.
type simHost struct {
	id       uint64
	declines bool // at the second GENERATE AC, even after an approval
	unplug   bool // the reader is unplugged before the completion
}

// decide is the card's answer to a host response: an approval gives a TC
// unless the card declines at completion; a decline or "unable to go
// online" gives an AAC (the simulated card's issuer action codes decline
// offline).
func (h simHost) decide(arc string) reader.CardDecision {
	if arc == reader.ARCApproved && !h.declines {
		return reader.CardDecision{Approved: true, Cryptogram: "TC", ARC: arc}
	}
	return reader.CardDecision{Cryptogram: "AAC", ARC: arc}
}

func (r *Reader) end() { r.goneOnce.Do(func() { close(r.gone) }) }

// Info names the reader.
func (r *Reader) Info() sale.Reader { return r.info }

// Close releases the device.
func (r *Reader) Close() error {
	r.end()
	r.d.mu.Lock()
	if r.d.cur == r {
		r.d.cur = nil
	}
	r.d.mu.Unlock()
	return nil
}

// Arm starts a transaction. The VP3300 asks for a card (present_card) and
// waits up to t.Timeout; a timeout is reported as the reader does, a
// refused read with the IDG timeout status. Swipe models accept and ignore
// it.
func (r *Reader) Arm(ctx context.Context, t reader.Transaction) error {
	if !r.info.EMV {
		return nil
	}
	if t.AmountCents < 0 || t.AmountCents > emv.MaxN12 {
		return fmt.Errorf("arm: amount %d cents is out of range", t.AmountCents)
	}
	return r.do(ctx, request{kind: reqArm, tx: t})
}

// Cancel ends the transaction in progress without a card read.
func (r *Reader) Cancel(ctx context.Context) error {
	if !r.info.EMV {
		return nil
	}
	return r.do(ctx, request{kind: reqCancel})
}

// Simulate presents a card. The read is built in the model's native format,
// encrypted with the test BDK and parsed through internal/decrypt by Run,
// which emits it (or its refusal) like any reader's. Simulate returns once
// Run has accepted the card; chip and tap on the VP3300 need Arm first.
// A PAN field that names a brand ("visa", "mc", "amex", "disc") instead of
// giving a number gets a fresh test number of that brand (TestPAN).
func (r *Reader) Simulate(ctx context.Context, c SimCard) error {
	if c.PAN != "" && (c.PAN[0] < '0' || c.PAN[0] > '9') {
		pan, err := card.TestPAN(c.PAN)
		if err != nil {
			return err
		}
		c.PAN = pan
	}
	return r.do(ctx, request{kind: reqSimulate, card: c})
}

func (r *Reader) do(ctx context.Context, req request) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req.reply = make(chan error, 1)
	select {
	case r.reqs <- req:
	case <-r.gone:
		return ErrNotAttached
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNotRunning, ctx.Err())
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run serves requests until ctx ends (nil), the reader is closed (nil) or
// unplugged (ErrDetached).
func (r *Reader) Run(ctx context.Context, emit func(reader.Event)) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("sim: Run called twice")
	}
	defer r.running.Store(false)
	var (
		armed   *reader.Transaction
		timer   *time.Timer
		timeout <-chan time.Time
		// The VP3300's contact flow: a chip card that went online waits
		// for Apply Host Response; nothing else starts meanwhile.
		host      *simHost
		hosts     uint64
		hostTimer *time.Timer
		hostGone  <-chan time.Time
	)
	endHost := func() {
		host, hostGone = nil, nil
		if hostTimer != nil {
			hostTimer.Stop()
		}
		emit(reader.Event{Kind: reader.EventPrompt, Prompt: sale.PromptRemoveCard, Time: r.d.now()})
	}
	defer func() {
		if hostTimer != nil {
			hostTimer.Stop()
		}
	}()
	disarm := func() {
		armed, timeout = nil, nil
		if timer != nil {
			timer.Stop()
		}
	}
	defer disarm()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.gone:
			if r.unplugged.Load() {
				return fmt.Errorf("sim reader unplugged: %w", reader.ErrDetached)
			}
			return nil
		case <-hostGone:
			// No host response: the reader gives up and the card declines
			// by itself.
			endHost()
		case <-timeout:
			disarm()
			// What a VP3300 answers when nobody presents a card in time.
			_, err := decrypt.ParseVivopay(idgResponse(idgStatusTimeout, nil, false))
			for _, ev := range reader.Refused(err, r.d.now()) {
				emit(ev)
			}
		case req := <-r.reqs:
			switch req.kind {
			case reqArm:
				if host != nil {
					req.reply <- ErrAwaitingHost
					continue
				}
				disarm()
				t := req.tx
				armed = &t
				if t.Timeout > 0 {
					timer = time.NewTimer(t.Timeout)
					timeout = timer.C
				}
				req.reply <- nil
				emit(reader.Event{Kind: reader.EventPrompt, Prompt: sale.PromptPresentCard, Time: r.d.now()})
			case reqCancel:
				disarm()
				if host != nil {
					endHost() // told "unable to go online": it declines
				}
				req.reply <- nil
			case reqComplete:
				if host == nil || host.id != req.host {
					req.reply <- ErrNotWaiting
					continue
				}
				if host.unplug {
					req.reply <- fmt.Errorf("the host response could not be sent: %w", reader.ErrDetached)
					go func() {
						r.d.Unplug()
						time.Sleep(replugAfter)
						r.d.Replug()
					}()
					continue
				}
				*req.decision = host.decide(req.hr.ARC)
				endHost()
				req.reply <- nil
			case reqSimulate:
				if host != nil {
					req.reply <- ErrAwaitingHost
					continue
				}
				raw, mode, err := r.build(req.card, armed)
				req.reply <- err
				if err != nil {
					continue
				}
				if armed != nil {
					emit(reader.Event{Kind: reader.EventPrompt, Prompt: sale.PromptProcessing, Time: r.d.now()})
				}
				var cents int64
				if armed != nil { // a chip read needs it (build)
					cents = armed.AmountCents % 100
				}
				evs, done := r.parse(raw, mode)
				clearBytes(raw)
				if done {
					disarm()
				}
				if mode == card.EntryChip && len(evs) == 1 && evs[0].Kind == reader.EventCard {
					hosts++
					host = &simHost{id: hosts, declines: req.card.DeclinesAtCompletion || cents == CentsDeclinesAtCompletion,
						unplug: cents == CentsUnplugsAtCompletion}
					hostTimer = time.NewTimer(r.d.hostTimeout)
					hostGone = hostTimer.C
					evs[0].Complete = r.completion(host.id)
				}
				for _, ev := range evs {
					emit(ev)
				}
			}
		}
	}
}

// completion is the Completion of chip card id: it hands the host response
// to Run, which owns the card.
func (r *Reader) completion(id uint64) reader.Completion {
	return func(ctx context.Context, hr reader.HostResponse) (reader.CardDecision, error) {
		var d reader.CardDecision
		if err := r.do(ctx, request{kind: reqComplete, host: id, hr: hr, decision: &d}); err != nil {
			return reader.CardDecision{}, err
		}
		return d, nil
	}
}

// build checks the request against the model and the transaction state and
// builds the raw bytes the model would send.
func (r *Reader) build(c SimCard, armed *reader.Transaction) ([]byte, card.EntryMode, error) {
	c, err := c.normalize(r.d.now())
	if err != nil {
		return nil, "", err
	}
	mode := c.EntryMode
	model := r.d.model
	switch {
	case !model.emv() && mode != card.EntrySwiped:
		return nil, "", fmt.Errorf("%s: %w", model, ErrSwipeOnly)
	case model.emv() && (mode == card.EntryChip || mode == card.EntryProximity) && armed == nil:
		return nil, "", ErrNotArmed
	}
	chip := mode == card.EntryChip || mode == card.EntryProximity
	ksn, atc, fault, err := r.d.next(chip)
	if err != nil {
		return nil, "", err
	}
	t := makeTracks(c, model != ModelDynamag)
	defer clearBytes(t.t1)
	defer clearBytes(t.t2)
	notEnc, bad := fault == FaultNotEncrypting, fault == FaultBadRead
	var raw []byte
	switch model {
	case ModelSecureMag:
		raw, err = idtechFrame(t, frameOpts{serial: r.d.serial, ksn: ksn, clear: notEnc, badLRC: bad})
	case ModelDynamag:
		raw, err = magtekReport(t, reportOpts{serial: r.d.serial, ksn: ksn, clear: notEnc, truncated: bad})
	case ModelVP3300:
		o := emvOpts{serial: r.d.serial, ksn: ksn, clear: notEnc, badCRC: bad, atc: atc, now: r.d.now()}
		if armed != nil {
			o.tx = txn{amountCents: armed.AmountCents, kind: armed.Type}
		}
		if chip {
			raw, err = vp3300Chip(t, mode, o)
		} else {
			raw, err = vp3300Swipe(t, mode, o)
		}
	}
	return raw, mode, err
}

// parse runs raw through internal/decrypt as a real reader's bytes would
// be, and returns the events plus whether the transaction is over (a
// damaged read leaves it armed, so that the customer can try again).
func (r *Reader) parse(raw []byte, mode card.EntryMode) ([]reader.Event, bool) {
	var (
		read card.Read
		err  error
	)
	switch r.d.model {
	case ModelSecureMag:
		read, err = decrypt.ParseIDTech(raw)
	case ModelDynamag:
		read, err = decrypt.ParseMagTekHID(raw)
	default:
		read, err = decrypt.ParseVivopay(raw)
	}
	now := r.d.now()
	if err != nil {
		return reader.Refused(err, now), !reader.Damaged(err)
	}
	dev := r.info.Device
	if read.Device.Serial != "" {
		dev.Serial = read.Device.Serial
	}
	read.Device = dev
	if read.EntryMode != mode {
		// The parser derives the entry mode from the reader's own data;
		// a mismatch is a simulator bug worth telling.
		read.Warnings = append(read.Warnings, fmt.Sprintf("simulated entry mode %s came out as %s", mode, read.EntryMode))
	}
	return []reader.Event{{Kind: reader.EventCard, Read: &read, Time: now}}, true
}
