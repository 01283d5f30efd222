package transport

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"
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
// request arrives is a race the client cannot see. Each run takes the
// index idle the longest and gives it back when its result is in;
// independent runs use different sessions and never queue behind each
// other. When every index is taken, a run waits (within its context) for
// one to come back.
//
// An index whose run was abandoned (its outcome unknown, or its polling
// given up while it may still run) is retired rather than given back, and
// another index takes its place, so that no later run of ours interrupts
// it: a retired index whose run has certainly ended (the VM killed it at
// its timeout) when there is one, else a fresh index. The sessions the
// client opens on the VM stay bounded by the runs it can have abandoned
// within one run timeout.
//
// The server binds an Idempotency-Key to the whole request, session_idx
// included, so a run repeated under a caller's own key must go to the
// session its first run went to: the pool remembers the index of the
// latest maxKeyed such keys (a repeat waits for that index, retired or
// not).
type sessionPool struct {
	mu     sync.Mutex     // protects the fields below
	free   []int          // pool indices not in use, idle the longest first
	busy   map[int]bool   // indices in use
	member map[int]bool   // indices of the pool (not retired)
	next   int            // the next fresh index
	dead   []retired      // retired indices, in the order their runs certainly end
	keyed  map[string]int // a caller's idempotency key → the index its run used
	keys   []string       // keyed's keys, oldest first
	wake   chan struct{}  // closed (and replaced) whenever an index is released
}

// maxKeyed bounds the keys the pool remembers.
const maxKeyed = 4096

func newSessionPool(base, n int) *sessionPool {
	p := &sessionPool{busy: map[int]bool{}, member: map[int]bool{}, next: base + n,
		keyed: map[string]int{}, wake: make(chan struct{})}
	for i := range n {
		p.free = append(p.free, base+i)
		p.member[base+i] = true
	}
	return p
}

// acquire takes an index for a run, waiting for one within ctx: the
// index key's first run used when key is a caller's key seen before,
// else a free one (remembered for key when key is not "").
func (p *sessionPool) acquire(ctx context.Context, key string) (int, error) {
	for {
		p.mu.Lock()
		idx, seen := p.keyed[key]
		switch {
		case key != "" && seen && !p.busy[idx]:
			p.busy[idx] = true
			for i, f := range p.free {
				if f == idx {
					p.free = append(p.free[:i:i], p.free[i+1:]...)
					break
				}
			}
			p.mu.Unlock()
			return idx, nil
		case !seen && len(p.free) > 0:
			idx = p.free[0]
			p.free = p.free[1:]
			p.busy[idx] = true
			if key != "" {
				p.rememberLocked(key, idx)
			}
			p.mu.Unlock()
			return idx, nil
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctxFailure(ctx, "run", "")
		}
	}
}

// rememberLocked notes that key's run went to idx.
// LOCKS_REQUIRED(p.mu)
func (p *sessionPool) rememberLocked(key string, idx int) {
	if len(p.keys) >= maxKeyed {
		delete(p.keyed, p.keys[0])
		p.keys = p.keys[1:]
	}
	p.keyed[key] = idx
	p.keys = append(p.keys, key)
}

// retired is an index out of use until its abandoned run has certainly
// ended.
type retired struct {
	idx   int
	ended time.Time
}

// release gives idx back. When its run was abandoned (ended: when the VM
// will have killed it for certain), the index is retired and another joins
// the pool instead.
func (p *sessionPool) release(idx int, abandoned bool, ended time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.busy, idx)
	switch {
	case abandoned && p.member[idx]:
		delete(p.member, idx)
		at := sort.Search(len(p.dead), func(i int) bool { return p.dead[i].ended.After(ended) })
		p.dead = slices.Insert(p.dead, at, retired{idx: idx, ended: ended})
		next := p.next
		if len(p.dead) > 0 && !p.dead[0].ended.After(time.Now()) && !p.busy[p.dead[0].idx] {
			next, p.dead = p.dead[0].idx, p.dead[1:]
		} else {
			p.next++
		}
		p.member[next] = true
		p.free = append(p.free, next)
	case p.member[idx]:
		p.free = append(p.free, idx)
	}
	close(p.wake)
	p.wake = make(chan struct{})
}
