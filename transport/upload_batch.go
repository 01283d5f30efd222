package transport

import (
	"context"
	"sync"
)

// UploadBatcher sends uploads that become ready together in as few sync
// requests as Upload can pack (group commit): an upload that arrives while
// none is in flight goes at once; uploads that arrive meanwhile wait and
// go together in the next round. There are no timers, so a lone upload
// never waits, and many files closed at the same moment (an IDE saving
// all, parallel writers) share round trips.
type UploadBatcher struct {
	c *Client

	mu      sync.Mutex // protects the fields below
	queue   []*pendingUpload
	running bool
}

// maxUploadRound bounds the uploads of one round.
const maxUploadRound = 256

type pendingUpload struct {
	ctx  context.Context
	up   Upload
	res  UploadResult
	done chan struct{}
}

// NewUploadBatcher batches c's uploads.
func NewUploadBatcher(c *Client) *UploadBatcher { return &UploadBatcher{c: c} }

// Do uploads u, possibly together with others, and returns its result.
func (b *UploadBatcher) Do(ctx context.Context, u Upload) UploadResult {
	p := &pendingUpload{ctx: ctx, up: u, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if !b.running {
		b.running = true
		go b.drain()
	}
	b.mu.Unlock()
	select {
	case <-p.done:
		return p.res
	case <-ctx.Done():
		// The round goes on without this caller; its upload id makes a
		// later retry of the same data harmless.
		return UploadResult{Path: u.Path, Err: netError(ctx, "upload", u.Path, ctx.Err())}
	}
}

// drain sends queued uploads, a round at a time, until none are left.
func (b *UploadBatcher) drain() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxUploadRound)
		round := b.queue[:n:n]
		b.queue = b.queue[n:]
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.send(round)
	}
}

func (b *UploadBatcher) send(round []*pendingUpload) {
	var live []*pendingUpload
	for _, p := range round {
		if p.ctx.Err() == nil {
			live = append(live, p)
		} else {
			close(p.done)
		}
	}
	if len(live) == 0 {
		return
	}
	ctxs := make([]context.Context, len(live))
	for i, p := range live {
		ctxs[i] = p.ctx
	}
	ctx, cancel := mergeContexts(ctxs)
	defer cancel()
	ups := make([]Upload, len(live))
	for i, p := range live {
		ups[i] = p.up
	}
	res := b.c.Upload(ctx, ups)
	for i, p := range live {
		p.res = res[i]
		close(p.done)
	}
}
