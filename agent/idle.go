package agent

import (
	"context"
	"sync"
	"time"
)

// idleWatch tells when no request has arrived or run for a while.
type idleWatch struct {
	mu     sync.Mutex // guards last and active
	last   time.Time  // when the last request began or ended
	active int        // requests being served
}

func newIdleWatch() *idleWatch { return &idleWatch{last: time.Now()} }

// begin marks a request's start; end its end.
func (w *idleWatch) begin() {
	w.mu.Lock()
	w.active++
	w.last = time.Now()
	w.mu.Unlock()
}

func (w *idleWatch) end() {
	w.mu.Lock()
	w.active--
	w.last = time.Now()
	w.mu.Unlock()
}

// wait returns true once no request has been served for d, false when
// ctx ends first. It uses one timer, set again when it fires early.
func (w *idleWatch) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		w.mu.Lock()
		left, busy := d-time.Since(w.last), w.active > 0
		w.mu.Unlock()
		switch {
		case busy:
			t.Reset(d)
		case left > 0:
			t.Reset(left)
		default:
			return true
		}
	}
}
