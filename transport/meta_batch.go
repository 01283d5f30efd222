package transport

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// MetaBatcher sends metadata operations that arrive together in one run
// (group commit): an operation that arrives while no run is in flight is
// sent at once; operations that arrive while one is in flight wait, and
// all of them go together in the next run. There are no timers: a lone
// operation never waits, and under load each run carries everything that
// queued during the previous one. At most maxQueued operations wait or
// are in flight; Do blocks (within its context) for room beyond that.
type MetaBatcher struct {
	c     *Client
	slots chan struct{} // a token per operation queued or in flight

	mu      sync.Mutex // protects the fields below
	queue   []*pending // operations not yet sent, in arrival order
	running bool       // a drain goroutine is sending; it empties queue before it stops
}

const (
	maxBatch  = 256  // operations in one run (Meta may still split it by size)
	maxQueued = 4096 // operations queued or in flight
)

// pending is one Do call's operation; done is closed once res and err
// are set.
type pending struct {
	ctx  context.Context
	op   MetaOp
	res  MetaResult
	err  error
	done chan struct{}
}

// NewMetaBatcher batches c's metadata operations.
func NewMetaBatcher(c *Client) *MetaBatcher {
	return &MetaBatcher{c: c, slots: make(chan struct{}, maxQueued)}
}

// Do runs op, possibly in one run with others, and returns its result.
// The error is the run's (then the result's Err is the same); the
// result's Err is otherwise the operation's own. A caller whose context
// ends gets its context's error; its operation may still run.
func (b *MetaBatcher) Do(ctx context.Context, op MetaOp) (MetaResult, error) {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return MetaResult{}, netError(ctx, string(op.Kind), op.Path, ctx.Err())
	}
	p := &pending{ctx: ctx, op: op, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if !b.running {
		b.running = true
		go b.drain()
	}
	b.mu.Unlock()
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		return MetaResult{}, netError(ctx, string(op.Kind), op.Path, ctx.Err())
	}
}

// drain sends the queue, up to maxBatch operations per run, until it is
// empty.
func (b *MetaBatcher) drain() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.queue = nil
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		b.send(batch)
	}
}

// send runs one batch. Operations whose callers gave up are dropped; the
// run lasts while any remaining caller waits.
func (b *MetaBatcher) send(batch []*pending) {
	live := batch[:0:0]
	for _, p := range batch {
		if p.ctx.Err() != nil {
			b.finish(p, MetaResult{}, p.ctx.Err())
		} else {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, release := mergedContext(live)
	defer release()
	ops := make([]MetaOp, len(live))
	for i, p := range live {
		ops[i] = p.op
	}
	res, cut, err := b.c.meta(ctx, ops)
	for i, p := range live {
		var perr error
		if cut != nil && cut[i] {
			perr = err // this op's run failed
		}
		b.finish(p, res[i], perr)
	}
}

// finish hands p its outcome and frees its slot.
func (b *MetaBatcher) finish(p *pending, res MetaResult, err error) {
	p.res, p.err = res, err
	close(p.done)
	<-b.slots
}

// mergedContext is a context that ends when every caller's context has
// ended, with the latest of their deadlines when all have one. release
// must be called when the run is over.
func mergedContext(ps []*pending) (context.Context, func()) {
	var latest time.Time
	for _, p := range ps {
		dl, ok := p.ctx.Deadline()
		if !ok {
			latest = time.Time{}
			break
		}
		if dl.After(latest) {
			latest = dl
		}
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if latest.IsZero() {
		ctx, cancel = context.WithCancel(context.Background())
	} else {
		ctx, cancel = context.WithDeadline(context.Background(), latest)
	}
	var left atomic.Int64
	left.Store(int64(len(ps)))
	stops := make([]func() bool, len(ps))
	for i, p := range ps {
		stops[i] = context.AfterFunc(p.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
