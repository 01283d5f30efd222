package transport

import (
	"context"
	"math/rand/v2"
	"time"
)

// retrier repeats an operation whose failure may pass, the way restic's
// retry backend wraps a backend: the operations of the client are written
// as single attempts, and the ones that are safe to repeat are wrapped in
// retrier.do. Safe to repeat are sync reads and presigned GETs, writes
// (the server is idempotent on upload_id, and an attempt resends the same
// bytes) and runs that carry an idempotency key. Anything else is called
// directly, once.
type retrier struct {
	policy RetryPolicy
	logf   func(format string, args ...any)
}

// do calls attempt until it succeeds, fails in a way IsRetryable calls
// permanent, ctx ends, or the policy's attempts are spent. It returns the
// last attempt's error. Between attempts it waits a full-jitter backoff.
func (r retrier) do(ctx context.Context, what string, attempt func(context.Context) error) error {
	for i := 0; ; i++ {
		err := attempt(ctx)
		if err == nil {
			return nil
		}
		if i+1 >= r.policy.Attempts || !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		d := backoff(r.policy, i)
		r.logf("%s: attempt %d of %d failed, retrying in %v: %v", what, i+1, r.policy.Attempts, d.Round(time.Millisecond), err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// backoff is the wait after failed attempt i (from 0): uniform in
// (0, min(Max, Base·2^i)].
func backoff(p RetryPolicy, i int) time.Duration {
	d := p.Base << min(i, 30)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d))) + 1
}
