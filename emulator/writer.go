package emulator

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// respWriter wraps the connection's ResponseWriter: it sleeps the one-way
// latency before the answer starts, counts body bytes, and carries out the
// faults that act on the answer (drop_after discards it, truncate sends
// half of the body).
type respWriter struct {
	http.ResponseWriter
	s   *Server
	ctx context.Context

	discard  bool // FaultDropAfter: the answer goes nowhere and the connection is cut
	truncate bool // FaultTruncate: cut the connection halfway through the body

	started bool        // WriteHeader happened
	status  int         // the status answered
	limit   int64       // truncate: body bytes to send before cutting
	written int64       // body bytes written
	header  http.Header // discard: the headers that go nowhere
}

// Header returns the answer's headers.
func (w *respWriter) Header() http.Header {
	if w.discard {
		if w.header == nil {
			w.header = make(http.Header)
		}
		return w.header
	}
	return w.ResponseWriter.Header()
}

// WriteHeader starts the answer, after the one-way latency. An
// informational (1xx) header other than 101 is sent as is and starts
// nothing.
func (w *respWriter) WriteHeader(status int) {
	if w.started {
		return
	}
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		if !w.discard {
			w.ResponseWriter.WriteHeader(status)
		}
		return
	}
	w.started = true
	w.status = status
	sleepCtx(w.ctx, time.Duration(w.s.latency.Load()))
	if w.discard {
		return
	}
	if w.truncate {
		cl, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64)
		if err == nil {
			w.limit = cl / 2
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write writes body bytes.
func (w *respWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(p), nil
	}
	cut := w.truncate && w.written+int64(len(p)) > w.limit
	if cut {
		p = p[:w.limit-w.written]
	}
	// Counted before the bytes leave, so that a client that got them sees
	// them in Stats; a short write is taken back.
	w.s.stats.bytesOut.Add(int64(len(p)))
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	w.s.stats.bytesOut.Add(int64(n - len(p)))
	if cut {
		w.cut()
	}
	return n, err
}

// Flush sends what is buffered.
func (w *respWriter) Flush() {
	if w.discard {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// cut sends what was written so far and closes the connection without
// finishing the answer.
func (w *respWriter) cut() {
	w.Flush()
	panic(http.ErrAbortHandler)
}
