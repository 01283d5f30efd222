package transport

import "context"

// MetaBatcher sends metadata operations that arrive together in one run
// (group commit): an operation that arrives while no run is in flight is
// sent at once; operations that arrive while one is in flight wait, and
// all of them go together in the next run. There are no timers: a lone
// operation never waits, and under load each run carries everything that
// queued during the previous one. At most maxQueued operations wait or
// are in flight; Do blocks (within its context) for room beyond that.
type MetaBatcher struct {
	g *groupCommit[MetaOp, metaAnswer]
}

const (
	maxBatch  = 256  // operations in one run (Meta may still split it by size)
	maxQueued = 4096 // operations queued or in flight
)

// metaAnswer is one operation's result and, if its run failed, that error.
type metaAnswer struct {
	res MetaResult
	err error
}

// NewMetaBatcher batches c's metadata operations.
func NewMetaBatcher(c *Client) *MetaBatcher {
	return &MetaBatcher{g: newGroupCommit(maxBatch, maxQueued, func(ctx context.Context, ops []MetaOp) []metaAnswer {
		res, cut, err := c.meta(ctx, ops)
		out := make([]metaAnswer, len(ops))
		for i := range ops {
			out[i].res = res[i]
			if cut != nil && cut[i] {
				out[i].err = err // this op's run failed
			}
		}
		return out
	})}
}

// Do runs op, possibly together with others, and returns its result. The
// error is the run's (or the caller's context's); the result's Err is the
// operation's own. A caller whose context ends is answered at once; its
// operation is dropped if it was not sent yet.
func (b *MetaBatcher) Do(ctx context.Context, op MetaOp) (MetaResult, error) {
	a, ok := b.g.do(ctx, op)
	if !ok {
		return MetaResult{}, netError(ctx, string(op.Kind), op.Path, ctx.Err())
	}
	return a.res, a.err
}
