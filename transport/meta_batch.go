package transport

import (
	"context"
	"sync"
)

// MetaBatcher sends metadata operations that arrive together in one run
// (group commit): an operation sent while no run is in flight goes at
// once; operations that arrive while one is in flight wait, and all of
// them go together in the next run. There are no timers: a lone
// operation never waits.
type MetaBatcher struct {
	c *Client

	mu      sync.Mutex // protects the fields below
	queue   []*pending
	running bool
}

// maxBatch bounds the operations in one run.
const maxBatch = 256

type pending struct {
	ctx  context.Context
	op   MetaOp
	res  MetaResult
	err  error
	done chan struct{}
}

// NewMetaBatcher batches c's metadata operations.
func NewMetaBatcher(c *Client) *MetaBatcher { return &MetaBatcher{c: c} }

// Do runs op, possibly together with others, and returns its result.
// The error is the run's; the result's Err is the operation's own.
func (b *MetaBatcher) Do(ctx context.Context, op MetaOp) (MetaResult, error) {
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

// drain sends queued operations, a batch per run, until none are left.
func (b *MetaBatcher) drain() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.send(batch)
	}
}

// send runs one batch. Operations whose callers gave up are dropped;
// the run is bounded by the longest remaining caller's context.
func (b *MetaBatcher) send(batch []*pending) {
	var live []*pending
	for _, p := range batch {
		if p.ctx.Err() == nil {
			live = append(live, p)
		} else {
			close(p.done)
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := mergedContext(live)
	defer cancel()
	ops := make([]MetaOp, len(live))
	for i, p := range live {
		ops[i] = p.op
	}
	res, err := b.c.Meta(ctx, ops...)
	for i, p := range live {
		if err != nil {
			p.err = err
		} else {
			p.res = res[i]
		}
		close(p.done)
	}
}

// mergedContext lives while any of the callers' contexts does, and ends
// at the latest of their deadlines.
func mergedContext(ps []*pending) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(len(ps))
	for _, p := range ps {
		go func(c context.Context) {
			defer wg.Done()
			select {
			case <-c.Done():
			case <-ctx.Done():
			}
		}(p.ctx)
	}
	go func() { wg.Wait(); cancel() }()
	return ctx, cancel
}
