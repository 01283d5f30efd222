package fs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

func TestFlushDelay(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	cases := []struct {
		name string
		now  time.Time
		at   []time.Time
		want time.Duration
	}{
		{"one change", t0, []time.Time{t0}, deferDelay},
		{"from the latest change", t0.Add(30 * ms), []time.Time{t0, t0.Add(30 * ms)}, deferDelay},
		{"no later than the oldest allows", t0.Add(deferMaxDelay - 10*ms), []time.Time{t0, t0.Add(deferMaxDelay - 10*ms)}, 10 * ms},
		{"overdue goes now", t0.Add(2 * deferMaxDelay), []time.Time{t0, t0.Add(2 * deferMaxDelay)}, 0},
		{"lazy changes do not count", t0.Add(5 * time.Second), []time.Time{{}, t0.Add(5 * time.Second), {}}, deferDelay},
		{"only lazy ones", t0, []time.Time{{}}, deferDelay},
	}
	for _, c := range cases {
		if got := flushDelay(c.now, c.at); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// newQueueFS is an FS whose deferred queue holds at most limit changes
// and whose timer only counts the flushes it asks for.
func newQueueFS(t *testing.T, limit int) (*FS, chan struct{}, func() []string) {
	var mu sync.Mutex
	var lines []string
	f := New(nil, nil, nil, Options{DeferLimit: limit, OpTimeout: time.Minute, Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}})
	flushes := make(chan struct{}, 100)
	f.deferred.flush = func() {
		select {
		case flushes <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() {
		f.deferred.mu.Lock()
		defer f.deferred.mu.Unlock()
		if f.deferred.timer != nil {
			f.deferred.timer.Stop()
		}
	})
	return f, flushes, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), lines...)
	}
}

// A full queue makes a new change wait for a run to answer, and sends
// what is queued at once; a change that folds into a queued one, or a
// caller whose context ends, does not wait.
func TestDeferRoom(t *testing.T) {
	f, flushes, logged := newQueueFS(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range []string{"/h/a", "/h/b"} {
		if err := f.deferRoom(ctx, chmodOp(p, 0o600)); err != nil {
			t.Fatalf("room for %s: %v", p, err)
		}
		f.deferOp(chmodOp(p, 0o600))
	}
	if err := f.deferRoom(ctx, chmodOp("/h/a", 0o644), chmodOp("/h/b", 0o700)); err != nil {
		t.Fatalf("changes that fold into queued ones: %v", err)
	}

	// Full: a change of another path, or another change of a queued
	// path, waits until its context ends.
	done, stop := context.WithCancel(ctx)
	stop()
	if err := f.deferRoom(done, chmodOp("/h/c", 0o600)); !errors.Is(err, context.Canceled) || classify(err) != syscall.EINTR {
		t.Fatalf("wait with an ended context: %v", err)
	}
	if err := f.deferRoom(done, chmodOp("/h/a", 0o644), utimensOp("/h/a", now1(), now1())); !errors.Is(err, context.Canceled) {
		t.Fatalf("a utimens with only a chmod of its path queued: %v", err)
	}
	select {
	case <-flushes: // the queue was sent at once
	case <-ctx.Done():
		t.Fatal("a full queue was not sent")
	}

	// The queue is on its way: still full until its run answers.
	ops, _, sent := f.takeDeferred()
	if len(ops) != 2 {
		t.Fatalf("took %v", ops)
	}
	got := make(chan error, 1)
	go func() { got <- f.deferRoom(ctx, chmodOp("/h/c", 0o600)) }()
	if err := f.deferRoom(done, chmodOp("/h/d", 0o600)); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait while the queue is on its way: %v", err)
	}
	sent()
	if err := <-got; err != nil {
		t.Fatalf("wait for room after the run answered: %v", err)
	}
	if n := len(logged()); n != 1 {
		t.Errorf("logged %d lines for one wait for room, want 1: %q", n, logged())
	}
}

// The queue does not grow with changes of one path: however many, they
// take one place and never wait for room.
func TestDeferStormTakesOnePlace(t *testing.T) {
	f, _, _ := newQueueFS(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 10000 {
		op := chmodOp("/h/f", uint32(i)&0o7777)
		if err := f.deferRoom(ctx, op); err != nil {
			t.Fatal(err)
		}
		f.deferOp(op)
	}
	ops, _, sent := f.takeDeferred()
	defer sent()
	if want := []transport.MetaOp{chmodOp("/h/f", 9999&0o7777)}; len(ops) != 1 || ops[0] != want[0] {
		t.Fatalf("queue after 10000 chmods: %v, want %v", ops, want)
	}
}

func now1() helper.Time { return helper.Time{Set: true, Now: true} }
