package transport

import (
	"io"
	"time"
)

// stallReader cuts a transfer that makes no progress for too long: each
// Read that moves bytes pushes the deadline back; when it passes, cancel
// is called, which aborts the request the body belongs to.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
	stall time.Duration
}

func watchStall(r io.Reader, stall time.Duration, cancel func()) *stallReader {
	return &stallReader{r: r, stall: stall, timer: time.AfterFunc(stall, cancel)}
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.stall)
	}
	return n, err
}

// stop disarms the watchdog.
func (s *stallReader) stop() { s.timer.Stop() }
