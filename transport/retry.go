package transport

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// retrier repeats an operation whose failure may pass, the way restic's
// retry backend wraps a backend: the operations of the client are written
// as single attempts and wrapped in retrier.do, which knows whether the
// request is safe to repeat.
//
// Safe to repeat (replay-safe) are GETs, sync reads, manifests, chunk
// writes (same upload_id, same bytes: the server's ledger takes a chunk
// twice without writing twice) and runs (each carries an Idempotency-Key,
// and a retry sends the same key and the same body). A /sync-stream
// upload is not: it carries no key.
//
// A failure is retried when the request is replay-safe and the failure is
// transient: no answer at all, or an answer IsRetryable accepts. A lineage
// A answer's recovery.work decides for itself: not_started makes any
// request safe to repeat, any other value forbids the retry. A request
// that is not replay-safe and got no answer fails with CodeUnknownOutcome.
type retrier struct {
	policy RetryPolicy
	logf   func(format string, args ...any)
}

// shouldRetry says whether err, met by a request that is replaySafe or
// not, is worth another attempt.
func shouldRetry(err error, replaySafe bool) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.answered && e.Recovery != "" {
		replaySafe = e.Recovery == workNotStarted
	}
	return replaySafe && IsRetryable(err)
}

// do calls attempt until it succeeds, fails in a way shouldRetry refuses,
// ctx ends, or the policy's attempts are spent, and returns the last
// attempt's error. A request that is not replaySafe and got no answer
// returns CodeUnknownOutcome.
func (r retrier) do(ctx context.Context, what string, replaySafe bool, attempt func(context.Context) error) error {
	for i := 0; ; i++ {
		err := attempt(ctx)
		if err == nil {
			return nil
		}
		if !replaySafe {
			err = unknownOutcome(err)
		}
		if i+1 >= r.policy.Attempts || !shouldRetry(err, replaySafe) || ctx.Err() != nil {
			return err
		}
		d := r.delay(i, err)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
			return err // the wait would outlast the caller: give up now
		}
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

// delay is the wait after failed attempt i (from 0): the server's hint
// when it gave one, else min(Base·2^i, Max); plus jitter either way.
func (r retrier) delay(i int, err error) time.Duration {
	var d time.Duration
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		d = e.RetryAfter
	} else {
		d = backoff(r.policy, i)
	}
	if r.policy.Jitter > 0 {
		d += time.Duration(rand.Int64N(int64(r.policy.Jitter) + 1))
	}
	return d
}

// backoff is min(Base·2^i, Max).
func backoff(p RetryPolicy, i int) time.Duration {
	d := p.Base << min(i, 30)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	return max(d, 0)
}
