package bridge

import (
	"context"
	"encoding/json"

	"github.com/posagent/posagent/internal/sale"
)

// ownerKey names a sale by who asked: the origin and the request id the
// client chose. Engine updates carry both.
type ownerKey struct {
	origin, clientID string
}

// hub routes engine updates to connections until ctx ends or the engine
// closes the subscription.
func (b *Bridge) hub(ctx context.Context, updates <-chan sale.Update) {
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-updates:
			if !ok {
				return
			}
			b.route(u)
		}
	}
}

// route sends one update: reader events to every admitted client; updates
// about a sale to the connections that own it (the one that started it,
// plus one that cancelled it), or — when they are gone, e.g. the page was
// reloaded — to every connection of the sale's origin. Updates about the
// cashier's own sales (origin "ui") reach no web page.
func (b *Bridge) route(u sale.Update) {
	msg, ok := updateMsg(u)
	if !ok {
		return
	}
	data, err := json.Marshal(msg)
	if err != nil {
		b.log.Error("encoding an update", "kind", u.Kind, "error", err)
		return
	}
	now := b.now()
	switch u.Kind {
	case sale.UpdateCard:
		b.mu.Lock()
		b.cardAt[u.TransactionAPIID] = now
		b.mu.Unlock()
	case sale.UpdateResult:
		b.metrics.result(u.Result.Action, string(u.Result.Outcome))
		b.mu.Lock()
		if t, ok := b.cardAt[u.TransactionAPIID]; ok {
			delete(b.cardAt, u.TransactionAPIID)
			b.mu.Unlock()
			b.metrics.observeCardToResult(now.Sub(t))
		} else {
			b.mu.Unlock()
		}
	case sale.UpdateWarning:
		b.metrics.errorReply(u.Code)
	}
	for _, c := range b.targets(u) {
		c.enqueue(data)
	}
}

func (b *Bridge) targets(u sale.Update) []*conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*conn
	if u.Kind == sale.UpdateReader || (u.Kind == sale.UpdateWarning && u.Origin == "") {
		for c := range b.conns {
			if c.admitted.Load() {
				out = append(out, c)
			}
		}
		return out
	}
	key := ownerKey{u.Origin, u.ClientID}
	for _, c := range b.owners[key] {
		if _, alive := b.conns[c]; alive && c.admitted.Load() {
			out = append(out, c)
		}
	}
	if u.Kind == sale.UpdateResult {
		delete(b.owners, key)
	}
	if len(out) > 0 {
		return out
	}
	for c := range b.conns {
		if c.origin == u.Origin && c.admitted.Load() {
			out = append(out, c)
		}
	}
	return out
}

// claimOwner makes c the owner of a new sale's key; false when a live
// connection already owns a sale in progress under that key.
func (b *Bridge) claimOwner(key ownerKey, c *conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range b.owners[key] {
		if _, alive := b.conns[o]; alive {
			return false
		}
	}
	b.owners[key] = []*conn{c}
	return true
}

// addOwner lets c receive a sale's updates too; it reports whether c was
// added (false: it was an owner already).
func (b *Bridge) addOwner(key ownerKey, c *conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range b.owners[key] {
		if o == c {
			return false
		}
	}
	b.owners[key] = append(b.owners[key], c)
	return true
}

// releaseOwner undoes claimOwner/addOwner for c.
func (b *Bridge) releaseOwner(key ownerKey, c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropOwnerLocked(key, c)
}

func (b *Bridge) dropOwnerLocked(key ownerKey, c *conn) {
	list := b.owners[key]
	for i, o := range list {
		if o == c {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(b.owners, key)
	} else {
		b.owners[key] = list
	}
}

// adopt gives a reconnected page the sales of its origin whose owners are
// gone, so that their updates come to it alone.
func (b *Bridge) adopt(key ownerKey, c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range b.owners[key] {
		if _, alive := b.conns[o]; alive {
			return
		}
	}
	b.owners[key] = []*conn{c}
}

// forget removes a closed connection from every sale it owned; a sale left
// without owners is routed to its origin's connections.
func (b *Bridge) forget(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conns, c)
	b.releaseLocked(c.slot)
	for key, list := range b.owners {
		for _, o := range list {
			if o == c {
				b.dropOwnerLocked(key, c)
				break
			}
		}
	}
}
