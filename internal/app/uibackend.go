package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/posagent/posagent/internal/bridge"
	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/gateway"
	"github.com/posagent/posagent/internal/reader"
	"github.com/posagent/posagent/internal/reader/sim"
	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/secrets"
	"github.com/posagent/posagent/internal/ui"
)

// UIBackend adapts the running agent to the cashier window's interface.
// The window only ever sees masked card data: records and updates carry
// nothing else.
func (a *App) UIBackend() ui.Backend { return uiBackend{a} }

type uiBackend struct{ a *App }

// UIPairer adapts the window's pairing dialog to the bridge.
func UIPairer(ask func(ctx context.Context, origin string) (ui.Decision, error)) bridge.Pairer {
	return bridge.PairerFunc(func(ctx context.Context, req bridge.PairingRequest) (bridge.PairingDecision, error) {
		d, err := ask(ctx, req.Origin)
		switch {
		case err != nil:
			return bridge.PairDeny, err
		case d == ui.DecisionAlways:
			return bridge.PairAlways, nil
		case d == ui.DecisionOnce:
			return bridge.PairOnce, nil
		}
		return bridge.PairDeny, nil
	})
}

func (b uiBackend) Status() ui.Status {
	a := b.a
	st := ui.Status{AgentURL: a.url, Paused: a.engine.Paused(), Version: a.o.Version, Readers: a.engine.ReaderInfos()}
	g := a.o.Config.Gateway
	st.Gateway = ui.Gateway{Kind: g.Kind, URL: g.URL, Reachable: true}
	if g.Kind == config.GatewaySandbox {
		st.Gateway.URL = a.sandboxURL
	}
	st.SaleRequires = a.saleRequires()
	return st
}

func (b uiBackend) Updates() (<-chan ui.Event, func()) {
	src, stop := b.a.engine.Subscribe()
	out := make(chan ui.Event, 64)
	if n := b.a.notice; n != "" {
		out <- ui.Event{Kind: ui.EventWarning, Message: n} // each window learns it when it opens
	}
	go func() {
		defer close(out)
		for u := range src {
			if ev, ok := uiEvent(u); ok {
				out <- ev
				b.ackShown(u.Result)
			}
		}
	}()
	return out, stop
}

func uiEvent(u sale.Update) (ui.Event, bool) {
	ev := ui.Event{SaleID: u.TransactionAPIID}
	switch u.Kind {
	case sale.UpdatePrompt:
		ev.Kind, ev.Prompt = ui.EventPrompt, u.Prompt
	case sale.UpdateCard:
		ev.Kind = ui.EventCard
		ev.Card = u.Card
	case sale.UpdateResult:
		r := uiResult(*u.Result)
		ev.Kind, ev.Result = ui.EventResult, &r
	case sale.UpdateReader:
		r := u.Reader.Reader
		if u.Reader.Kind == string(reader.EventDetached) {
			r.Status = sale.ReaderDetached
		}
		ev.Kind, ev.Reader = ui.EventReader, &r
	case sale.UpdateWarning:
		ev.Kind, ev.Message = ui.EventWarning, card.RedactPANs(u.Warning)
	default:
		return ev, false
	}
	return ev, true
}

// uiResult is r as the window shows it: a completion by its one name, and
// an outcome while the gateway's answer is still awaited.
func uiResult(r sale.Result) sale.Result {
	if r.Action == "authcomplete" {
		r.Action = "complete"
	}
	if r.State != sale.StateDone && r.Outcome == "" {
		r.Outcome = sale.OutcomeUnknown
	}
	return r
}

func (b uiBackend) Sale(ctx context.Context, action, amount string, f ui.SaleFields) (string, error) {
	rec, err := b.a.engine.StartSale(ctx, engine.SaleRequest{ClientID: "ui", Origin: engine.OriginUI, Action: action, Amount: amount,
		OrderNum: f.OrderNum, SubtotalAmount: f.SubtotalAmount, SurchargeAmount: f.SurchargeAmount, Tax: f.Tax,
		CheckinDate: f.CheckinDate, CheckoutDate: f.CheckoutDate, RoomRate: f.RoomRate})
	return rec.TransactionAPIID, uiError(err)
}

func (b uiBackend) Cancel(ctx context.Context, saleID string) error {
	_, err := b.a.engine.Cancel(ctx, engine.OriginUI, "", saleID)
	return uiError(err)
}

func (b uiBackend) FollowUp(ctx context.Context, action, txID, amount string) (string, error) {
	rec, err := b.a.engine.FollowUp(ctx, engine.FollowUpRequest{ClientID: "ui", Origin: engine.OriginUI, Action: action, TransactionID: txID, Amount: amount})
	return rec.TransactionAPIID, uiError(err)
}

func (b uiBackend) CardAction(ctx context.Context, req ui.CardActionRequest) (string, error) {
	rec, err := b.a.engine.StartSale(ctx, engine.SaleRequest{ClientID: "ui", Origin: engine.OriginUI, Action: req.Action, Amount: req.Amount,
		AuthCode: req.AuthCode, BillingZip: req.BillingZip, BillingStreet: req.BillingStreet})
	return rec.TransactionAPIID, uiError(err)
}

// uiError shows the engine's message without its code prefix.
func uiError(err error) error {
	var ee *engine.Error
	if errors.As(err, &ee) {
		return errors.New(ee.Message)
	}
	return err
}

// historyPage is how many sales one page of the window's history holds;
// the window's "Show older sales" loads the next.
const historyPage = 100

// History reads one page of the journal through its indexes, never a
// scan: the text is one indexed query (historyQuery) paged by the journal's
// cursor. One query, not a merge of several: a merged list has no cursor
// that continues it without gaps or repeats.
func (b uiBackend) History(query string, before sale.Cursor) ui.HistoryPage {
	text := strings.TrimSpace(query)
	eng := b.a.engine
	jq := historyQuery(text, time.Local)
	jq.Before, jq.Limit = before, historyPage
	p, err := eng.History(jq)
	if err != nil {
		b.a.log.Error("journal read failed", "error", err)
		return ui.HistoryPage{}
	}
	recs := p.Results
	// The text may be a sale's own id (transaction_api_id, as a POS page
	// or a receipt shows it): that one sale heads the first page, unless
	// the query lists it anyway, which would show it twice.
	if text != "" && before.IsZero() {
		if r, ok, err := eng.Get(text); err == nil && ok && !jq.Matches(r.TransactionID, r.LastFour, r.Amount, r.Created) {
			recs = append([]sale.Result{r}, recs...)
		}
	}
	out := ui.HistoryPage{Items: make([]ui.HistoryItem, 0, len(recs)), Next: p.Next, More: p.More}
	for i, r := range recs {
		out.Items = append(out.Items, ui.HistoryItem{SaleID: r.TransactionAPIID, State: r.State, Result: uiResult(r)})
		b.ackShown(&recs[i])
	}
	return out
}

// historyQuery maps the window's search text to one journal query. Text
// that could be two kinds is the first that fits, in this order:
//   - empty: every sale;
//   - a date 2006-01-02: the sales created that day in loc;
//   - four digits: the card's last four ("$1200" or "1200.00" is the
//     amount);
//   - an amount, "$" optional: "12.34", "$12", "7"; without "$" or a
//     dot at most six digits, so that a numeric gateway id stays an id;
//   - anything else: the gateway's transaction id, exactly.
//
// Auth codes, outcomes and order numbers have no index and are not
// searched: the detail of a listed sale shows them.
func historyQuery(text string, loc *time.Location) sale.Query {
	digits := text != "" && strings.Trim(text, "0123456789") == ""
	switch {
	case text == "":
		return sale.Query{}
	case len(text) == len("2006-01-02"):
		if day, err := time.ParseInLocation("2006-01-02", text, loc); err == nil {
			return sale.Query{Since: day, Until: day.AddDate(0, 0, 1)}
		}
	case len(text) == 4 && digits:
		return sale.Query{LastFour: text}
	}
	num, dollar := strings.CutPrefix(text, "$")
	if (dollar || strings.Contains(num, ".") || (digits && len(num) <= 6)) && !strings.HasPrefix(num, "-") {
		if amt, err := gateway.ParseAmount(num); err == nil {
			return sale.Query{Amount: amt.String()}
		}
	}
	return sale.Query{TransactionID: text}
}

// ackShown acknowledges the result of a sale the window started once the
// window has it (its result event, or its line in History): the window is
// that sale's client, and an unacknowledged result stays in the journal
// for good (retention keeps it, and it would wait for a client forever).
func (b uiBackend) ackShown(r *sale.Result) {
	if r == nil || r.Origin != engine.OriginUI || r.State != sale.StateDone || r.Acked {
		return
	}
	if err := b.a.engine.Ack(r.TransactionAPIID); err != nil {
		b.a.log.Warn("could not acknowledge a window sale's result", "transaction_api_id", r.TransactionAPIID, "error", err)
	}
}

func (b uiBackend) Simulator() ui.Simulator {
	if b.a.sim == nil {
		return nil
	}
	return simAdapter{b.a.sim}
}

type simAdapter struct{ d *sim.Driver }

func (s simAdapter) Simulate(ctx context.Context, pan, mode string) error {
	return s.d.Simulate(ctx, sim.SimCard{PAN: pan, EntryMode: card.EntryMode(mode)})
}

func (b uiBackend) SetPaused(p bool) error { b.a.engine.SetPaused(p); return nil }

func (b uiBackend) PairedOrigins() []string {
	if b.a.pairings == nil {
		return nil
	}
	list, err := b.a.pairings.List()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, p := range list {
		out = append(out, p.Origin)
	}
	return out
}

func (b uiBackend) RevokeOrigin(origin string) error {
	if b.a.bridge == nil {
		return errors.New("the browser bridge is not running")
	}
	return b.a.bridge.Revoke(origin)
}

func (b uiBackend) Settings() ui.SettingsModel {
	c := b.a.o.Config
	m := ui.SettingsModel{GatewayKind: c.Gateway.Kind, GatewayURL: c.Gateway.URL, DeveloperID: c.Gateway.DeveloperID,
		UserID: c.Gateway.UserID, LocationID: c.Gateway.LocationID, ProductTransactionID: c.Gateway.ProductTransactionID,
		AllowedOrigins: append([]string(nil), c.AllowedOrigins...), LogLevel: c.LogLevel,
		ReaderChoices: []string{config.ReaderAuto, config.ReaderSim}, Reader: config.ReaderAuto,
		APIKeySet: c.Gateway.UserAPIKey != ""}
	if len(c.Readers) > 0 {
		m.Reader = c.Readers[0].Kind
	}
	return m
}

// SaveSettings validates the model as a config, stores the API key in the
// keyring or the state directory's secret file (never in the config file)
// and writes the file. It takes effect at the next start, which reads the
// key back before validating (ResolveAPIKey).
func (b uiBackend) SaveSettings(m ui.SettingsModel) error {
	a := b.a
	if a.o.ConfigPath == "" {
		return &ui.ValidationError{Problems: []ui.Problem{{Message: "The demo does not save settings: run posagent run with a configuration file to change them."}}}
	}
	c := *a.o.Config
	c.Gateway.Kind, c.Gateway.URL, c.Gateway.DeveloperID, c.Gateway.UserID = m.GatewayKind, m.GatewayURL, m.DeveloperID, m.UserID
	c.Gateway.LocationID, c.Gateway.ProductTransactionID = m.LocationID, m.ProductTransactionID
	c.AllowedOrigins, c.LogLevel = m.AllowedOrigins, m.LogLevel
	if m.Reader != "" && (len(c.Readers) == 0 || c.Readers[0].Kind != m.Reader) {
		c.Readers = []config.Reader{{Kind: m.Reader}}
	}
	key := c.Gateway.UserAPIKey // from the file, the environment or the secret store
	if m.APIKey != "" {
		key = m.APIKey
	}
	c.Gateway.UserAPIKey = key
	// The check run and --check-config make: what the window saves starts.
	if err := ValidateConfig(&c, a.o.StateDir, a.o.InsecureListenAny); err != nil {
		var ve *config.ValidationError
		if errors.As(err, &ve) {
			out := &ui.ValidationError{}
			for _, p := range ve.Problems {
				field := p.Field
				if strings.HasPrefix(field, "readers") {
					field = ui.FieldReader
				}
				out.Problems = append(out.Problems, ui.Problem{Field: field, Message: p.Message})
			}
			return out
		}
		return err
	}
	// The file is written without the key, so the key must be where the
	// next start looks (ResolveAPIKey): the store — unless the environment
	// gives it, which the next start reads again.
	if key != "" && key != strings.TrimSpace(os.Getenv("POSAGENT_USER_API_KEY")) {
		if _, err := secrets.New(a.o.StateDir).Set("user_api_key", key); err != nil {
			return fmt.Errorf("the API key could not be stored: %w", err)
		}
	}
	c.Gateway.UserAPIKey = "" // the key lives in the keyring, not in the file
	if err := os.MkdirAll(filepath.Dir(a.o.ConfigPath), 0o700); err != nil {
		return err
	}
	tmp := a.o.ConfigPath + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := toml.NewEncoder(f).Encode(c); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	a.log.Info("settings saved; they take effect at the next start", "file", a.o.ConfigPath)
	return os.Rename(tmp, a.o.ConfigPath)
}

func (b uiBackend) DiscoverLocation(ctx context.Context) ([]ui.Location, error) {
	if b.a.paya == nil {
		return nil, errors.New("location discovery needs the Paya Connect gateway")
	}
	locs, err := b.a.paya.LocationInfos(ctx)
	if err != nil {
		return nil, fmt.Errorf("the gateway did not list your locations: %w", err)
	}
	// The discover button also reads the product's settings again (a
	// merchant may have changed them): from now on sales are checked
	// against them.
	settingsErr := b.a.loadSettings(ctx)
	out := make([]ui.Location, 0, len(locs))
	for _, l := range locs {
		loc := ui.Location{ID: l.ID, Name: l.Name}
		if settingsErr == nil && l.ID == b.a.paya.LocationID() {
			loc.SaleRequires = b.a.saleRequires()
		}
		out = append(out, loc)
	}
	return out, nil
}
