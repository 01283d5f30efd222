package transport

import (
	"context"
	"sync"
)

// sessionPool hands out arkerfs's own session indices, one run at a time
// each.
//
// Runs in one session queue behind each other, and a run entering a
// session whose current run was backgrounded (its caller got a 202)
// interrupts that run. So the client never runs anything in the VM's
// default session (index 0, where the user's own commands live), and
// never sends a run into a session where one of its own runs is still in
// flight: whether that run has been backgrounded by the time the next
// request arrives is a race the client cannot see. Each run takes a free
// index and gives it back when its result is in; independent runs use
// different sessions and never queue behind each other. When every index
// is taken, a run waits (within its context) for one to come back.
//
// An index whose run was abandoned (its outcome unknown, or its polling
// given up while it may still run) is retired rather than given back, and
// a fresh index takes its place, so that no later run of ours interrupts
// it.
type sessionPool struct {
	free chan int // the indices not in use

	mu   sync.Mutex // protects next
	next int        // the next fresh index
}

func newSessionPool(base, n int) *sessionPool {
	p := &sessionPool{free: make(chan int, n), next: base + n}
	for i := range n {
		p.free <- base + i
	}
	return p
}

// acquire takes a free index, waiting for one within ctx.
func (p *sessionPool) acquire(ctx context.Context) (int, error) {
	select {
	case idx := <-p.free:
		return idx, nil
	default:
	}
	select {
	case idx := <-p.free:
		return idx, nil
	case <-ctx.Done():
		return 0, ctxFailure(ctx, "run", "")
	}
}

// release gives idx back; when its run was abandoned, a fresh index
// replaces it instead.
func (p *sessionPool) release(idx int, abandoned bool) {
	if abandoned {
		p.mu.Lock()
		idx = p.next
		p.next++
		p.mu.Unlock()
	}
	p.free <- idx
}
