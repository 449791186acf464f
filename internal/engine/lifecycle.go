package engine

import (
	"context"
	"sync"
	"time"
)

// lifecycle counts the engine's work that may write the journal: every
// call from outside that can (a sale, a card read, a cancel, an ack) and
// every goroutine the engine starts (a send, a lookup, telling a chip card,
// the background resolver). Close ends it only when the count is back to
// zero, so the journal the caller closes afterwards has no writer left.
type lifecycle struct {
	mu    sync.Mutex
	n     int
	ended bool
	idle  chan struct{} // closed while n == 0
}

func newLifecycle() *lifecycle {
	idle := make(chan struct{})
	close(idle)
	return &lifecycle{idle: idle}
}

// enter counts a call from outside; false once the engine has ended: the
// caller must then not touch the journal.
func (l *lifecycle) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return false
	}
	l.addLocked()
	return true
}

// add counts work started by work already counted, so it is never refused:
// the wait for zero that follows the end covers it.
func (l *lifecycle) add() {
	l.mu.Lock()
	l.addLocked()
	l.mu.Unlock()
}

func (l *lifecycle) addLocked() {
	if l.n == 0 {
		l.idle = make(chan struct{})
	}
	l.n++
}

func (l *lifecycle) leave() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.n == 0 {
		close(l.idle)
	}
}

// idleCh is closed when no counted work is running (at the time of the call
// or later).
func (l *lifecycle) idleCh() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.idle
}

// end refuses every later enter.
func (l *lifecycle) end() {
	l.mu.Lock()
	l.ended = true
	l.mu.Unlock()
}

// goBackground runs f in a goroutine under the engine's context, counted:
// Close cancels ctx after its grace and returns only once f has returned.
// Call it only from counted work (an entered call or another background
// goroutine). f must return soon after ctx is done: every wait in it
// selects on ctx.
func (e *Engine) goBackground(f func(ctx context.Context)) {
	e.life.add()
	go func() {
		defer e.life.leave()
		f(e.ctx)
	}()
}

// sleep waits d or until ctx ends; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// stoppingMessage is the result of a transaction whose request was not sent
// because the agent began to stop first (a card read queued behind the
// shutdown, a follow-up that raced it).
const stoppingMessage = "the agent is stopping: this transaction was not sent to the gateway and the card was not charged; start it again once the agent is running"

// stopping reports whether Close has begun.
func (e *Engine) stopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}
