package engine

import (
	"sync"

	"github.com/posagent/posagent/internal/card"
)

// ksnGuard remembers the last DUKPT counter seen per reader key. A read
// whose counter is not higher than the last one from the same key is a
// replay (the same ciphertext again) or a reader whose counter went
// backwards — either way a sign of tampering, refused and reported. It is
// kept in memory only: the journal never holds a KSN counter.
type ksnGuard struct {
	mu   sync.Mutex
	last map[string]uint32
}

func newKSNGuard() *ksnGuard { return &ksnGuard{last: map[string]uint32{}} }

// check returns "" if the KSN is fresh (and records it), else why not.
func (g *ksnGuard) check(k card.KSN) string {
	dev := string(k.Device())
	c := k.Counter()
	g.mu.Lock()
	defer g.mu.Unlock()
	if last, ok := g.last[dev]; ok && c <= last {
		if c == last {
			return "this exact card read was already used (same KSN): a replayed read is refused"
		}
		return "the reader's key counter went backwards: the read is refused — check the reader for tampering"
	}
	g.last[dev] = c
	return ""
}
