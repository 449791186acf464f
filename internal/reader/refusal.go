package reader

import (
	"time"

	"github.com/posagent/posagent/internal/decrypt"
	"github.com/posagent/posagent/internal/sale"
)

// Refused turns a read that internal/decrypt would not accept into the
// events a reader emits: an EventRefused carrying err and, when the read was
// merely damaged (LRC, checksum, CRC, a length or the structure), a
// sale.PromptRetry so that the customer swipes or taps again. A reader that is not
// encrypting, or that reports an error status, gets no retry prompt: reading
// the card again cannot help. Every transport uses it so that a simulated,
// replayed and real reader refuse alike.
func Refused(err error, at time.Time) []Event {
	evs := []Event{{Kind: EventRefused, Err: err, Time: at}}
	if Damaged(err) {
		evs = append(evs, Event{Kind: EventPrompt, Prompt: sale.PromptRetry, Time: at})
	}
	return evs
}

// Damaged reports whether err says a read arrived damaged, so that reading
// the card again may work.
func Damaged(err error) bool {
	switch decrypt.CodeOf(err) {
	case decrypt.CodeBadLRC, decrypt.CodeBadChecksum, decrypt.CodeBadCRC, decrypt.CodeBadLength, decrypt.CodeMalformed:
		return true
	}
	return false
}
