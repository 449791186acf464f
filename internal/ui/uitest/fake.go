package uitest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/ui"
)

// Call is one recorded command.
type Call struct {
	Method, Action, ID, Amount, PAN, EntryMode string
	Fields                                     ui.SaleFields // Sale's optional fields
	// CardAction's fields beside the card.
	AuthCode, BillingZip, BillingStreet string
}

// Backend is a fake ui.Backend. The zero value is not usable: use New.
type Backend struct {
	mu      sync.Mutex
	status  ui.Status
	events  chan ui.Event
	calls   []Call
	history []ui.HistoryItem
	// historyCalls records History's requests (not in calls: the window
	// reads history on its own, and tests count commands).
	historyCalls []HistoryCall
	settings     ui.SettingsModel
	paired       []string
	seq          int
	emitted      atomic.Int64

	// SaveErr, when set, is what SaveSettings returns (e.g. a
	// *ui.ValidationError); nil saves.
	SaveErr error
	// SaleErr, when set, is what Sale returns.
	SaleErr error
	// Locations is what DiscoverLocation returns.
	Locations []ui.Location
	// HistoryPageSize is how many items one History page holds; 0: all.
	HistoryPageSize int
	// Simulated makes Simulator return the fake itself.
	Simulated bool
}

// New returns a fake with one healthy simulated reader and a reachable
// sandbox gateway.
func New() *Backend {
	return &Backend{
		events: make(chan ui.Event, 256),
		status: ui.Status{
			Readers:  []sale.Reader{{ID: "sim-1", Device: card.DeviceInfo{Model: "Simulated reader", Serial: "SIM0001", Transport: "sim"}, Status: sale.ReaderOK}},
			Gateway:  ui.Gateway{Kind: "sandbox", URL: "http://127.0.0.1:7380/v2", Reachable: true},
			AgentURL: "http://127.0.0.1:7380/",
		},
		settings: ui.SettingsModel{GatewayKind: "sandbox", GatewayURL: "http://127.0.0.1:7380/v2", Reader: "auto",
			ReaderChoices: []string{"auto", "sim"}, LogLevel: "info"},
	}
}

// Emit sends an agent event to the window.
func (b *Backend) Emit(ev ui.Event) {
	b.emitted.Add(1)
	b.events <- ev
}

// Emitted is the number of events sent so far; compare it with what the
// window reports as handled to know it has caught up.
func (b *Backend) Emitted() int64 { return b.emitted.Load() }

// SetStatus replaces the status snapshot.
func (b *Backend) SetStatus(s ui.Status) { b.mu.Lock(); b.status = s; b.mu.Unlock() }

// SetHistory replaces the history.
func (b *Backend) SetHistory(items []ui.HistoryItem) { b.mu.Lock(); b.history = items; b.mu.Unlock() }

// SetSettings replaces the stored settings.
func (b *Backend) SetSettings(s ui.SettingsModel) { b.mu.Lock(); b.settings = s; b.mu.Unlock() }

// SetPaired replaces the paired origins.
func (b *Backend) SetPaired(o []string) { b.mu.Lock(); b.paired = o; b.mu.Unlock() }

// Calls returns the recorded commands.
func (b *Backend) Calls() []Call { b.mu.Lock(); defer b.mu.Unlock(); return slices.Clone(b.calls) }

// LastSaved is the last model SaveSettings received.
func (b *Backend) LastSaved() ui.SettingsModel { b.mu.Lock(); defer b.mu.Unlock(); return b.settings }

func (b *Backend) record(c Call) { b.mu.Lock(); b.calls = append(b.calls, c); b.mu.Unlock() }

// Status implements ui.Backend.
func (b *Backend) Status() ui.Status { b.mu.Lock(); defer b.mu.Unlock(); return b.status }

// Updates implements ui.Backend: one subscriber at a time.
func (b *Backend) Updates() (<-chan ui.Event, func()) { return b.events, func() {} }

// Sale implements ui.Backend; ids are s1, s2, ...
func (b *Backend) Sale(_ context.Context, action, amount string, f ui.SaleFields) (string, error) {
	if b.SaleErr != nil {
		return "", b.SaleErr
	}
	b.mu.Lock()
	b.seq++
	id := fmt.Sprintf("s%d", b.seq)
	b.mu.Unlock()
	b.record(Call{Method: "Sale", Action: action, ID: id, Amount: amount, Fields: f})
	return id, nil
}

// CardAction implements ui.Backend; ids are s1, s2, ... like Sale's.
func (b *Backend) CardAction(_ context.Context, req ui.CardActionRequest) (string, error) {
	if b.SaleErr != nil {
		return "", b.SaleErr
	}
	b.mu.Lock()
	b.seq++
	id := fmt.Sprintf("s%d", b.seq)
	b.mu.Unlock()
	b.record(Call{Method: "CardAction", Action: req.Action, ID: id, Amount: req.Amount, AuthCode: req.AuthCode,
		BillingZip: req.BillingZip, BillingStreet: req.BillingStreet})
	return id, nil
}

// Cancel implements ui.Backend.
func (b *Backend) Cancel(_ context.Context, id string) error {
	b.record(Call{Method: "Cancel", ID: id})
	return nil
}

// FollowUp implements ui.Backend; ids are f1, f2, ...
func (b *Backend) FollowUp(_ context.Context, action, txn, amount string) (string, error) {
	if txn == "" {
		return "", errors.New("no transaction")
	}
	b.mu.Lock()
	b.seq++
	id := fmt.Sprintf("f%d", b.seq)
	b.mu.Unlock()
	b.record(Call{Method: "FollowUp", Action: action, ID: txn, Amount: amount})
	return id, nil
}

// History implements ui.Backend: a case-insensitive substring match on the
// transaction id, last four, amount and auth code, in pages of
// HistoryPageSize (0: one page). Its cursor is the last listed sale's id.
func (b *Backend) History(query string, before sale.Cursor) ui.HistoryPage {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.historyCalls = append(b.historyCalls, HistoryCall{Query: query, Before: before})
	q := strings.ToLower(query)
	var match []ui.HistoryItem
	for _, it := range b.history {
		r := it.Result
		hay := strings.ToLower(strings.Join([]string{r.TransactionID, r.LastFour, r.Amount, r.AuthCode, it.SaleID}, " "))
		if q == "" || strings.Contains(hay, q) {
			match = append(match, it)
		}
	}
	if !before.IsZero() {
		i := slices.IndexFunc(match, func(it ui.HistoryItem) bool { return it.SaleID == before.ID })
		match = match[i+1:] // an unknown cursor (-1) starts over, visibly in a test
	}
	if n := b.HistoryPageSize; n <= 0 || len(match) <= n {
		return ui.HistoryPage{Items: match}
	}
	page := match[:b.HistoryPageSize]
	last := page[len(page)-1]
	return ui.HistoryPage{Items: page, Next: sale.Cursor{Created: last.Result.Created, ID: last.SaleID}, More: true}
}

// HistoryCall is one History request.
type HistoryCall struct {
	Query  string
	Before sale.Cursor
}

// HistoryCalls returns the History requests so far.
func (b *Backend) HistoryCalls() []HistoryCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.historyCalls)
}

// Simulator implements ui.Backend.
func (b *Backend) Simulator() ui.Simulator {
	if b.Simulated {
		return b
	}
	return nil
}

// Simulate implements ui.Simulator.
func (b *Backend) Simulate(_ context.Context, pan, mode string) error {
	b.record(Call{Method: "Simulate", PAN: pan, EntryMode: mode})
	return nil
}

// SetPaused implements ui.Backend.
func (b *Backend) SetPaused(p bool) error {
	b.mu.Lock()
	b.status.Paused = p
	b.mu.Unlock()
	b.record(Call{Method: "SetPaused", Action: fmt.Sprint(p)})
	return nil
}

// PairedOrigins implements ui.Backend.
func (b *Backend) PairedOrigins() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.paired)
}

// RevokeOrigin implements ui.Backend.
func (b *Backend) RevokeOrigin(o string) error {
	b.mu.Lock()
	b.paired = slices.DeleteFunc(b.paired, func(p string) bool { return p == o })
	b.mu.Unlock()
	b.record(Call{Method: "RevokeOrigin", ID: o})
	return nil
}

// Settings implements ui.Backend; the API key never comes back.
func (b *Backend) Settings() ui.SettingsModel {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.settings
	s.APIKey = ""
	return s
}

// SaveSettings implements ui.Backend.
func (b *Backend) SaveSettings(s ui.SettingsModel) error {
	b.record(Call{Method: "SaveSettings"})
	if b.SaveErr != nil {
		return b.SaveErr
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.APIKey != "" {
		s.APIKeySet = true
	} else {
		s.APIKeySet = b.settings.APIKeySet
	}
	b.settings = s
	return nil
}

// DiscoverLocation implements ui.Backend.
func (b *Backend) DiscoverLocation(context.Context) ([]ui.Location, error) {
	return b.Locations, nil
}

var _ ui.Backend = (*Backend)(nil)
