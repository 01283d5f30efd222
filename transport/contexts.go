package transport

import (
	"context"
	"sync"
)

// mergeContexts returns a context that lives while any of ctxs does: a
// batch serving several callers goes on until the last of them gives up.
func mergeContexts(ctxs []context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(len(ctxs))
	for _, c := range ctxs {
		go func(c context.Context) {
			defer wg.Done()
			select {
			case <-c.Done():
			case <-ctx.Done():
			}
		}(c)
	}
	go func() { wg.Wait(); cancel() }()
	return ctx, cancel
}
