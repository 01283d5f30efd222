package transport

import (
	"context"
	"math/rand/v2"
	"time"
)

// retry runs attempt until it succeeds, fails permanently, the context
// ends, or the policy's attempts are spent. Only safe operations are
// retried: reads, writes under their upload_id, runs with an idempotency
// key. The backoff is exponential with full jitter.
func (c *Client) retry(ctx context.Context, safe bool, attempt func(context.Context) error) error {
	p := c.cfg.Retry
	var err error
	for i := 0; ; i++ {
		if err = attempt(ctx); err == nil {
			return nil
		}
		if !safe || i+1 >= p.Attempts || !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		d := backoff(p, i)
		c.debugf("retrying after %v: %v", d.Round(time.Millisecond), err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// backoff is the wait before attempt i+1: a random duration up to
// min(Max, Base·2^i).
func backoff(p RetryPolicy, i int) time.Duration {
	d := p.Base << min(i, 16)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}
