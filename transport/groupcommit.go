package transport

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// groupCommit sends requests that arrive together in rounds: a request
// that arrives while no round is in flight goes at once; requests that
// arrive meanwhile wait and go together in the next round. There are no
// timers, so a lone request never waits. MetaBatcher and UploadBatcher are
// built on it.
type groupCommit[Req, Res any] struct {
	// send answers one round, one result per request, in order.
	send     func(ctx context.Context, reqs []Req) []Res
	maxRound int           // requests in one round
	slots    chan struct{} // a token per request queued or in flight

	mu      sync.Mutex // protects the fields below
	queue   []*waiter[Req, Res]
	running bool // a drain goroutine is sending; it empties queue before it stops
}

type waiter[Req, Res any] struct {
	ctx  context.Context
	req  Req
	res  Res
	sent bool // res is the round's answer (false: dropped, its caller gave up)
	done chan struct{}
}

func newGroupCommit[Req, Res any](maxRound, maxQueued int, send func(context.Context, []Req) []Res) *groupCommit[Req, Res] {
	return &groupCommit[Req, Res]{send: send, maxRound: maxRound, slots: make(chan struct{}, maxQueued)}
}

// do sends req, possibly with others, and returns its result; ok is false
// when ctx ended first (an unsent request is then dropped).
func (g *groupCommit[Req, Res]) do(ctx context.Context, req Req) (res Res, ok bool) {
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return res, false
	}
	w := &waiter[Req, Res]{ctx: ctx, req: req, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	if !g.running {
		g.running = true
		go g.drain()
	}
	g.mu.Unlock()
	select {
	case <-w.done:
		return w.res, w.sent
	case <-ctx.Done():
		return res, false
	}
}

// drain sends queued requests, a round at a time, until none are left.
func (g *groupCommit[Req, Res]) drain() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), g.maxRound)
		if n == 0 {
			g.queue = nil
			g.running = false
			g.mu.Unlock()
			return
		}
		round := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.round(round)
	}
}

// round sends the requests whose callers still wait; the round lives
// while any of them does.
func (g *groupCommit[Req, Res]) round(ws []*waiter[Req, Res]) {
	var live []*waiter[Req, Res]
	for _, w := range ws {
		if w.ctx.Err() != nil {
			g.finish(w)
		} else {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		return
	}
	ctxs := make([]context.Context, len(live))
	reqs := make([]Req, len(live))
	for i, w := range live {
		ctxs[i], reqs[i] = w.ctx, w.req
	}
	ctx, release := mergeContexts(ctxs)
	defer release()
	res := g.send(ctx, reqs)
	for i, w := range live {
		w.res, w.sent = res[i], true
		g.finish(w)
	}
}

func (g *groupCommit[Req, Res]) finish(w *waiter[Req, Res]) {
	close(w.done)
	<-g.slots
}

// mergeContexts is a context that ends when every one of ctxs has ended,
// or at the latest of their deadlines: a round serving several callers
// goes on while any of them still waits.
func mergeContexts(ctxs []context.Context) (context.Context, func()) {
	var latest time.Time
	for _, c := range ctxs {
		dl, ok := c.Deadline()
		if !ok {
			latest = time.Time{}
			break
		}
		if dl.After(latest) {
			latest = dl
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	if !latest.IsZero() {
		ctx, cancel = context.WithDeadline(context.Background(), latest)
	}
	var left atomic.Int64
	left.Store(int64(len(ctxs)))
	stops := make([]func() bool, len(ctxs))
	for i, c := range ctxs {
		stops[i] = context.AfterFunc(c, func() {
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
