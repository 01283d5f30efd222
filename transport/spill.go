package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
)

// spill is an object fetched whole into a local temporary file, for
// servers that ignore Range. One goroutine fills it front to back; a read
// is answered as soon as the bytes it needs are in. The file is unlinked
// as soon as it is made, so nothing is left behind whatever happens.
//
//	fill:   GET (no Range) ──► write at filled ──► filled grows ──► wake readers
//	reader: filled ≥ off+len? ── yes ──► ReadAt the file
//	                          └─ no ───► wait for wake (or its context)
//
// A fill that fails is retried under the retry policy; once it has given
// up, the next ReadAt starts it again (kick).
type spill struct {
	f    *os.File
	size int64

	mu       sync.Mutex // protects the fields below
	filled   int64      // bytes [0, filled) are in f
	err      error      // why the last fill stopped short; nil while filling or when full
	filling  bool
	released bool
	wake     chan struct{} // closed, and replaced, whenever the fields above change
}

// spillBuffer is the size of the fill's writes.
const spillBuffer = 256 << 10

// startSpill gives o a spill and starts filling it, from first when it is
// not nil (an answer with the whole file, which the spill then owns).
// When o has one already, first is closed and the existing one returned.
func (o *Object) startSpill(c *Client, first *answer) (*spill, error) {
	if s := o.spill.Load(); s != nil {
		if first != nil {
			first.Close()
		}
		return s, nil
	}
	f, err := os.CreateTemp(c.cfg.SpillDir, "arkerfs-spill-*")
	if err != nil {
		if first != nil {
			first.Close()
		}
		return nil, &Error{Code: CodeIO, Op: "read", Path: o.Path, Message: "making a spill file", Err: err}
	}
	_ = os.Remove(f.Name())
	s := &spill{f: f, size: o.Size, wake: make(chan struct{})}
	if !o.spill.CompareAndSwap(nil, s) {
		_ = f.Close()
		if first != nil {
			first.Close()
		}
		return o.spill.Load(), nil
	}
	keepAlive(o, s)
	s.mu.Lock()
	s.filling = true
	s.mu.Unlock()
	go s.fill(c, o, first)
	return s, nil
}

// kick starts the fill again when an earlier one gave up.
func (s *spill) kick(c *Client, o *Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.filling || s.released || s.err == nil || CodeOf(s.err) == CodeStale {
		return
	}
	s.filling, s.err = true, nil
	s.notifyLocked()
	go s.fill(c, o, nil)
}

// fill fetches the whole object into f, on a context of its own (the
// watchdog bounds each GET), retried as any GET.
func (s *spill) fill(c *Client, o *Object, first *answer) {
	err := c.retry.do(context.Background(), "read", true, func(ctx context.Context) error {
		a := first
		first = nil
		if a == nil {
			var err error
			if a, err = c.presignedGet(ctx, o, ""); err != nil {
				return err
			}
		}
		defer a.Close()
		if a.StatusCode != http.StatusOK || a.ContentLength >= 0 && a.ContentLength != s.size {
			return o.stale("the whole file is not the one opened")
		}
		return s.copyFrom(a)
	})
	s.mu.Lock()
	s.filling, s.err = false, err
	s.notifyLocked()
	s.mu.Unlock()
}

// copyFrom writes a's body into f from offset 0.
func (s *spill) copyFrom(a *answer) error {
	buf := make([]byte, spillBuffer)
	for pos := int64(0); pos < s.size; {
		n, err := io.ReadFull(a.Body, buf[:min(int64(len(buf)), s.size-pos)])
		if n > 0 {
			if _, werr := s.f.WriteAt(buf[:n], pos); werr != nil {
				return &Error{Code: CodeIO, Op: "read", Path: a.x.path, Message: "writing the spill file", Err: werr}
			}
			pos += int64(n)
			s.advance(pos)
		}
		if err != nil {
			return a.fail(err)
		}
	}
	return nil
}

// advance records that bytes [0, pos) are in.
func (s *spill) advance(pos int64) {
	s.mu.Lock()
	if pos > s.filled {
		s.filled = pos
		s.notifyLocked()
	}
	s.mu.Unlock()
}

// notifyLocked wakes the waiting readers.
// LOCKS_REQUIRED(s.mu)
func (s *spill) notifyLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// readAt fills p from offset off once those bytes are in, or fails with
// the fill's error or ctx's.
func (s *spill) readAt(ctx context.Context, p []byte, off int64, vmPath string) error {
	for {
		s.mu.Lock()
		switch {
		case s.released:
			s.mu.Unlock()
			return &Error{Code: CodeInvalid, Op: "read", Path: vmPath, Message: "read of a released object"}
		case s.filled >= off+int64(len(p)):
			s.mu.Unlock()
			if _, err := s.f.ReadAt(p, off); err != nil && !(errors.Is(err, io.EOF) && len(p) == 0) {
				return &Error{Code: CodeIO, Op: "read", Path: vmPath, Message: "reading the spill file", Err: err}
			}
			return nil
		case !s.filling && s.err != nil:
			err := s.err
			s.mu.Unlock()
			return err
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctxFailure(ctx, "read", vmPath)
		}
	}
}

// waitAll waits until the whole object is in.
func (s *spill) waitAll(ctx context.Context) error {
	if s.size == 0 {
		return nil
	}
	var b [1]byte
	return s.readAt(ctx, b[:], s.size-1, "")
}

// release closes the file; a fill still running fails at its next write.
func (s *spill) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	_ = s.f.Close()
	s.notifyLocked()
}
