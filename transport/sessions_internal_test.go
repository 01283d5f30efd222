package transport

import (
	"context"
	"testing"
	"time"
)

// TestSessionPool: indices go out one run at a time, idle longest first;
// an abandoned run's index is retired until its run has certainly ended,
// and only then comes back; a caller's key goes back to its index.
func TestSessionPool(t *testing.T) {
	ctx := context.Background()
	p := newSessionPool(100, 2)
	a, _ := p.acquire(ctx, "")
	b, _ := p.acquire(ctx, "")
	if a != 100 || b != 101 {
		t.Fatalf("acquired %d, %d", a, b)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := p.acquire(short, ""); CodeOf(err) != CodeTimeout {
		t.Fatalf("a third run with two sessions busy: %v", err)
	}
	p.release(a, true, time.Now().Add(time.Hour)) // still running for an hour
	c, _ := p.acquire(ctx, "")
	if c != 102 {
		t.Fatalf("after a retirement: %d, want the fresh 102", c)
	}
	p.release(b, true, time.Now().Add(-time.Second)) // 101 certainly ended...
	p.release(c, true, time.Now().Add(-time.Second)) // ...and 102 too: one of them replaces the other
	d, _ := p.acquire(ctx, "")
	e, _ := p.acquire(ctx, "")
	if d != 101 || e != 102 && e != 103 {
		t.Fatalf("after retirements of ended runs: %d, %d", d, e)
	}
	p.release(d, false, time.Time{})
	p.release(e, false, time.Time{})
	k1, _ := p.acquire(ctx, "key")
	p.release(k1, false, time.Time{})
	other, _ := p.acquire(ctx, "")
	k2, _ := p.acquire(ctx, "key")
	if k2 != k1 || other == k1 {
		t.Fatalf("keyed runs went to %d and %d (another run to %d)", k1, k2, other)
	}
	for idx := range p.busy {
		if idx == 0 || idx < 100 {
			t.Fatalf("index %d handed out", idx)
		}
	}
}
