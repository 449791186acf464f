package bridge

import (
	"context"
	"log/slog"
	"time"

	"github.com/posagent/posagent/internal/card"
	"github.com/posagent/posagent/internal/engine"
	"github.com/posagent/posagent/internal/sale"
)

// Engine is what the bridge needs of the sale engine. *engine.Engine
// satisfies it; tests use bridgetest.Engine.
type Engine interface {
	StartSale(ctx context.Context, req engine.SaleRequest) (sale.Result, error)
	Cancel(ctx context.Context, origin, clientID, apiID string) (sale.Result, error)
	FollowUp(ctx context.Context, req engine.FollowUpRequest) (sale.Result, error)
	Subscribe() (<-chan sale.Update, func())
	// Unacked returns up to limit of origin's finished results not
	// acknowledged yet, newest first, and how many there are.
	Unacked(origin string, limit int) ([]sale.Result, int, error)
	// UnackedByClient returns origin's unacknowledged results asked for
	// with the request id clientID.
	UnackedByClient(origin, clientID string) ([]sale.Result, error)
	Ack(apiID string) error
	Get(apiID string) (sale.Result, bool, error)
	ReaderInfos() []sale.Reader
	Active() []sale.Result
}

// Simulator reads a test card on a simulated reader. The composition root
// adapts the sim reader's driver to it, and wires one only when the gateway
// is the sandbox: the card number is a public sandbox test card.
// scenario is "" for a good read, or one of the Scenario* misbehaviours.
type Simulator interface {
	Simulate(ctx context.Context, readerID, pan string, mode card.EntryMode, scenario string) error
}

// SimulatorFunc adapts a function to Simulator.
type SimulatorFunc func(ctx context.Context, readerID, pan string, mode card.EntryMode, scenario string) error

// Simulate calls f.
func (f SimulatorFunc) Simulate(ctx context.Context, readerID, pan string, mode card.EntryMode, scenario string) error {
	return f(ctx, readerID, pan, mode, scenario)
}

// Scenarios the simulate request stages, so that a POS developer can
// rehearse what real readers and gateways do (docs/protocol.md#simulate).
const (
	// ScenarioUnplug pulls the simulated reader's cable; it comes back
	// after a few seconds. No card is read.
	ScenarioUnplug = "unplug"
	// ScenarioBadRead sends a damaged read (wrong LRC or CRC).
	ScenarioBadRead = "bad_read"
	// ScenarioClearTrackData sends the card unencrypted, as a reader with
	// encryption turned off does: the agent refuses it.
	ScenarioClearTrackData = "clear_track_data"
	// ScenarioGatewayTimeout reads the card, and the sandbox gateway
	// commits the sale but its answer never arrives: the sale is unknown
	// until the agent's lookup resolves it.
	ScenarioGatewayTimeout = "gateway_timeout"
)

// scenarios lists the Scenario* values (the simulate request checks them).
var scenarios = []string{ScenarioUnplug, ScenarioBadRead, ScenarioClearTrackData, ScenarioGatewayTimeout}

// PairingDecision is the cashier's answer to a pairing request.
type PairingDecision int

// Decisions.
const (
	// PairDeny refuses the origin; it may ask again after a cool-down.
	PairDeny PairingDecision = iota
	// PairOnce approves the origin until the agent restarts: its token is
	// kept in memory only.
	PairOnce
	// PairAlways approves the origin for good: its token's hash is written
	// to the pairing store until revoked.
	PairAlways
)

func (d PairingDecision) String() string {
	switch d {
	case PairOnce:
		return "once"
	case PairAlways:
		return "always"
	}
	return "deny"
}

// PairingRequest describes who asks to pair.
type PairingRequest struct {
	// Origin is the page's web origin, e.g. "https://pos.example.com", or
	// "native" for a client that sent no Origin header.
	Origin string
	// UserAgent is the client's User-Agent header, for the dialog only: it
	// is not proof of anything.
	UserAgent string
}

// Pairer asks the cashier whether an unknown origin may use the agent. The
// UI implements it with a dialog; RequestPairing blocks until the cashier
// answers or ctx ends (then the answer is PairDeny).
type Pairer interface {
	RequestPairing(ctx context.Context, req PairingRequest) (PairingDecision, error)
}

// PairerFunc adapts a function to Pairer.
type PairerFunc func(ctx context.Context, req PairingRequest) (PairingDecision, error)

// RequestPairing calls f.
func (f PairerFunc) RequestPairing(ctx context.Context, req PairingRequest) (PairingDecision, error) {
	return f(ctx, req)
}

// AutoApprove is a Pairer for tests and scripted demos: it approves the
// listed origins with decision and denies every other one, without asking
// anyone. Never wire it in a production agent.
func AutoApprove(decision PairingDecision, origins ...string) Pairer {
	ok := map[string]bool{}
	for _, o := range origins {
		if n, err := NormalizeOrigin(o); err == nil {
			ok[n] = true
		}
	}
	return PairerFunc(func(_ context.Context, req PairingRequest) (PairingDecision, error) {
		if ok[req.Origin] {
			return decision, nil
		}
		return PairDeny, nil
	})
}

// Options configure a Bridge.
type Options struct {
	// Engine runs the sales. Required.
	Engine Engine
	// Pairings is the pairing store (OpenPairings). Nil: only the agent's
	// own page and AllowedOrigins are admitted.
	Pairings *Pairings
	// Pairer asks the cashier about unknown origins. Nil: unknown origins
	// get not_paired with PairHint's advice.
	Pairer Pairer
	// PairHint says what admits origin to this agent, e.g. "ask the cashier
	// to run `posagent pair --demo --origin ORIGIN`": the agent knows how it
	// was started, the bridge does not. Nil: the advice for `posagent run`.
	PairHint func(origin string) string
	// AllowedOrigins are pre-approved origins (config allowed_origins):
	// they are admitted without a token (unless the listener is not
	// loopback). Listing the own page (http://127.0.0.1:PORT) trusts it as
	// TrustOwnPage does.
	AllowedOrigins []string
	// TrustOwnPage admits the agent's own page (http://127.0.0.1:PORT and
	// its localhost / [::1] spellings) without a token: posagent demo.
	// Off, the own page pairs like any other origin: its Origin is a
	// header any local process can send, and in production a token is
	// what keeps other processes out (docs/security.md).
	TrustOwnPage bool
	// Simulator, when set, serves the simulate request. Wire it only
	// together with SandboxGateway.
	Simulator Simulator
	// SandboxGateway says the gateway is the embedded sandbox; simulate is
	// refused (not_simulated) unless it is set.
	SandboxGateway bool
	// InsecureListenAny allows Serve on a non-loopback address. The Host
	// check still applies.
	InsecureListenAny bool
	// Version is reported in welcome and /healthz.
	Version string
	// Log receives the bridge's logs (default: discard).
	Log *slog.Logger
	// SendQueue is each connection's outgoing queue length (default
	// sendQueueLen). A client that lets it fill up is disconnected.
	SendQueue int
	// MaxClients bounds concurrent websocket connections of known origins
	// (default maxClients); origins that can only pair have maxStrangers.
	MaxClients int
	// Now replaces time.Now (tests).
	Now func() time.Time
}
