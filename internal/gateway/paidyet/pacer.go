package paidyet

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// The API's published limits.
const (
	DefaultPerMinute = 75
	DefaultPerDay    = 7000
)

// Clock is the time source of the pacer and the token expiry; tests inject
// a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done, whichever is first.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pacer keeps calls under "n per window" for several windows at once.
//
// It is a token bucket in which each spent token comes back exactly one
// window after it was spent. A classic bucket (capacity n, refilled n per
// window at a steady rate) lets up to 2n-1 calls through in one sliding
// window — a full bucket emptied, then the refill — which is exactly what
// a server counting the last 60 s refuses with 429. Remembering when each
// of the last n tokens was spent gives the hard bound, in O(1) per call.
type Pacer struct {
	clock   Clock
	mu      sync.Mutex
	windows []*window
}

type window struct {
	size  time.Duration
	times []int64 // ring of the last cap(times) call times, unix ns
	head  int     // index of the oldest once full
}

// NewPacer makes a pacer with the API's limits; zero values take defaults.
func NewPacer(clock Clock, perMinute, perDay int) *Pacer {
	if clock == nil {
		clock = realClock{}
	}
	if perMinute <= 0 {
		perMinute = DefaultPerMinute
	}
	if perDay <= 0 {
		perDay = DefaultPerDay
	}
	return &Pacer{clock: clock, windows: []*window{
		{size: time.Minute, times: make([]int64, 0, perMinute)},
		{size: 24 * time.Hour, times: make([]int64, 0, perDay)},
	}}
}

// Wait blocks until a call may be made and takes its token. A caller waits
// rather than failing; only the context ends the wait, with its error.
func (p *Pacer) Wait(ctx context.Context) error {
	for {
		p.mu.Lock()
		now := p.clock.Now().UnixNano()
		var wait time.Duration
		for _, w := range p.windows {
			if len(w.times) < cap(w.times) {
				continue
			}
			if free := w.times[w.head] + int64(w.size); free > now {
				wait = max(wait, time.Duration(free-now))
			}
		}
		if wait == 0 {
			for _, w := range p.windows {
				w.take(now)
			}
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		if err := p.clock.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("paidyet: waiting %v for the rate limit: %w", wait.Round(time.Millisecond), err)
		}
	}
}

func (w *window) take(now int64) {
	if len(w.times) < cap(w.times) {
		w.times = append(w.times, now)
		return
	}
	w.times[w.head] = now
	w.head = (w.head + 1) % len(w.times)
}
