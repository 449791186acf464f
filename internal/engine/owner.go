package engine

// MayAct is the ownership rule for acting on a transaction someone made:
// cancelling it, feeding it a simulated card, refunding, voiding or
// completing it. caller is who asks (a web origin, or OriginUI for the
// cashier's window); ownPage says the caller is the agent's own page;
// owner is the Origin journaled with the transaction.
//
//   - The cashier's window may act on every transaction: the cashier is the
//     person at the counter the agent serves.
//   - An origin may act on its own transactions.
//   - The agent's own page may also act on the counter's transactions (made
//     in the window, or journaled with no origin): it is served by the
//     agent to the same cashier.
//   - Nobody else: a paired page must not refund, void, complete or finish
//     another page's sale, nor learn anything of it.
func MayAct(caller string, ownPage bool, owner string) bool {
	switch {
	case caller == OriginUI || caller == owner:
		return true
	case ownPage:
		return owner == OriginUI || owner == ""
	}
	return false
}
