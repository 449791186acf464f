package reader

import "context"

// Authorisation response codes (EMV tag 8A, two ASCII characters) the host
// hands back to a contact chip card.
const (
	ARCApproved = "00"
	ARCDeclined = "05"
	// ARCUnableOnline is "Z3", the EMV code for "the terminal could not go
	// online": the card then decides by its own issuer action codes. ID
	// TECH's kernel also turns any code it does not know into Z3.
	ARCUnableOnline = "Z3"
)

// HostResponse is what the host tells a contact chip card after the gateway
// answered: the IDG Apply Host Response (60-12) of the NEO 2 guide.
type HostResponse struct {
	// ARC is tag 8A: ARCApproved, ARCDeclined or ARCUnableOnline.
	ARC string
	// IssuerAuth is tag 91, issuer authentication data; nil when the
	// gateway returned none (Paya Connect v2 never does).
	IssuerAuth []byte
	// Scripts are issuer script templates, whole 71/72 TLVs; nil when none.
	Scripts []byte
}

// CardDecision is the card's final answer at the second GENERATE AC.
type CardDecision struct {
	// Approved: the card produced a TC; false: an AAC (the card declined).
	Approved bool
	// Cryptogram is "TC" or "AAC" (from 9F27), "" when the reader did not say.
	Cryptogram string
	// ARC is tag 8A as the reader reported it after completion, when it did.
	ARC string
}

// Completion hands the host response to the reader still holding the card
// and returns the card's decision. A card event carries one (Event.Complete)
// only when the read waits for it: a contact chip read that asked to go
// online. Call it at most once, after the gateway answered.
type Completion func(ctx context.Context, hr HostResponse) (CardDecision, error)
