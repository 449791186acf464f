package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Class sorts gateway failures by what the caller may do next.
type Class int

// Classes. The zero value is deliberately Ambiguous: an error nobody
// classified must be treated as "may have been committed".
const (
	Ambiguous Class = iota // may have been committed: resolve by lookup, never re-send blind
	Retryable              // provably not committed: safe to send again
	Declined               // the gateway answered no
	Rejected               // the gateway refused the request (4xx); same request, same answer
	Invalid                // failed client-side validation; nothing was sent
)

func (c Class) String() string {
	switch c {
	case Ambiguous:
		return "ambiguous"
	case Retryable:
		return "retryable"
	case Declined:
		return "declined"
	case Rejected:
		return "rejected"
	case Invalid:
		return "invalid"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Sentinels for errors.Is. Every *Error matches the sentinel of its class;
// ErrNotFound, ErrUnsupported, ErrDuplicate and ErrUnauthorized narrow it down.
var (
	ErrAmbiguous    = errors.New("outcome unknown: the request may have been committed")
	ErrRetryable    = errors.New("request not sent")
	ErrDeclined     = errors.New("declined")
	ErrRejected     = errors.New("refused by the gateway")
	ErrInvalid      = errors.New("invalid request")
	ErrNotFound     = errors.New("no such transaction")
	ErrUnsupported  = errors.New("not supported by this gateway")
	ErrDuplicate    = errors.New("duplicate transaction_api_id")
	ErrUnauthorized = errors.New("gateway credentials refused")
	// ErrMissingField narrows Invalid: the merchant's account settings
	// require a field the request lacks (its Fields name them).
	ErrMissingField = errors.New("a field the merchant's settings require is missing")
)

// FieldError names one request field and what is wrong with it.
type FieldError struct {
	Field   string
	Message string
}

func (f FieldError) String() string { return f.Field + ": " + f.Message }

// Error is a classified gateway failure. Messages never contain card data:
// text that comes from a gateway goes through card.RedactPANs first.
type Error struct {
	Class   Class
	Gateway string
	Op      string // the action or call, e.g. "sale", "lookup"
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Message is the gateway's (redacted) message or this client's reason.
	Message string
	Fields  []FieldError
	// Result is the transaction of a decline.
	Result *Result
	// RetryAfter is the server's hint on a 429, zero if none.
	RetryAfter time.Duration
	// TransactionAPIID names the transaction to resolve on an Ambiguous error.
	TransactionAPIID string
	// Kind narrows the class: ErrNotFound, ErrUnsupported, ErrDuplicate,
	// ErrUnauthorized, ErrMissingField or nil.
	Kind error
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Gateway != "" {
		b.WriteString(e.Gateway)
		b.WriteString(": ")
	}
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Class.String())
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the class sentinel and the Kind.
func (e *Error) Is(target error) bool {
	if target == nil {
		return false
	}
	if e.Kind != nil && target == e.Kind {
		return true
	}
	switch target {
	case ErrAmbiguous:
		return e.Class == Ambiguous
	case ErrRetryable:
		return e.Class == Retryable
	case ErrDeclined:
		return e.Class == Declined
	case ErrRejected:
		return e.Class == Rejected
	case ErrInvalid:
		return e.Class == Invalid
	}
	return false
}

// ClassOf is the class of err: the class of the *Error in its chain, else
// Ambiguous, because an unknown failure of a money-moving call must be
// resolved, not repeated. ClassOf(nil) is Ambiguous too: test err != nil
// first (the Is* helpers do).
func ClassOf(err error) Class {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Class
	}
	return Ambiguous
}

// IsAmbiguous reports an outcome that must be resolved by lookup.
func IsAmbiguous(err error) bool { return err != nil && ClassOf(err) == Ambiguous }

// IsRetryable reports a request that provably never reached the gateway
// (or was refused unprocessed) and may be sent again.
func IsRetryable(err error) bool { return err != nil && ClassOf(err) == Retryable }

// IsDeclined reports a decline.
func IsDeclined(err error) bool { return err != nil && ClassOf(err) == Declined }

// IsRejected reports a request the gateway refused (4xx).
func IsRejected(err error) bool { return err != nil && ClassOf(err) == Rejected }

// IsInvalid reports a request refused before sending.
func IsInvalid(err error) bool { return err != nil && ClassOf(err) == Invalid }

// NeedsResolve reports whether the caller must resolve the outcome by
// lookup before anything else: an ambiguous failure, or a duplicate
// transaction_api_id (an earlier attempt was committed).
func NeedsResolve(err error) bool {
	return IsAmbiguous(err) || errors.Is(err, ErrDuplicate)
}

// FieldErrors returns the field errors in err's chain.
func FieldErrors(err error) []FieldError {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Fields
	}
	return nil
}
