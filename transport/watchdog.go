package transport

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"
)

// Causes a watchdog gives when it cancels an exchange.
var (
	errStalled  = errors.New("transfer stalled")
	errNoAnswer = errors.New("no answer in time")
	errTooLong  = errors.New("exchange ran out of time")
)

// watchdog cancels an exchange that stops making progress. It is armed
// with a duration and a cause; each arm replaces the previous one. An
// exchange arms it three ways (restic's watchdog round tripper is the
// model):
//
//	sending the request body:   TransferStall after each chunk sent
//	waiting for the answer:     the exchange's wait, once the body is sent
//	receiving the answer body:  TransferStall after each chunk received
//
// so a transfer of any size goes on as long as bytes move, and nothing
// waits forever.
type watchdog struct {
	cancel context.CancelCauseFunc
	timer  *time.Timer
	cause  atomic.Pointer[error] // given to cancel when the timer fires
}

func newWatchdog(cancel context.CancelCauseFunc, d time.Duration, cause error) *watchdog {
	w := &watchdog{cancel: cancel}
	w.cause.Store(&cause)
	w.timer = time.AfterFunc(d, func() { w.cancel(*w.cause.Load()) })
	return w
}

// arm restarts the countdown: d from now, then cancel with cause.
func (w *watchdog) arm(d time.Duration, cause error) {
	w.cause.Store(&cause)
	w.timer.Reset(d)
}

// stop disarms the watchdog for good.
func (w *watchdog) stop() { w.timer.Stop() }

// sendWatch is a request body that re-arms its watchdog while it is read:
// TransferStall after each read, and the answer wait after the last byte.
type sendWatch struct {
	r     io.Reader
	left  int64 // bytes not yet read
	w     *watchdog
	stall time.Duration
	wait  time.Duration
}

func (s *sendWatch) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.left -= int64(n)
		if s.left <= 0 {
			s.w.arm(s.wait, errNoAnswer)
		} else {
			s.w.arm(s.stall, errStalled)
		}
	}
	return n, err
}

// recvWatch is an answer body that re-arms its watchdog after each read.
type recvWatch struct {
	io.ReadCloser
	w     *watchdog
	stall time.Duration
	n     int64 // bytes received
}

func (r *recvWatch) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.n += int64(n)
		r.w.arm(r.stall, errStalled)
	}
	return n, err
}
