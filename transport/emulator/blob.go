package emulator

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// maxPutDrain bounds the body bytes read and discarded before a PUT is
// refused.
const maxPutDrain = 64 << 20

// bufPool holds the buffers of blob copies.
var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// blobGet serves a presigned GET: the whole file or one byte range, only
// while the file still has the version the URL was made for.
func (s *Server) blobGet(w http.ResponseWriter, r *http.Request, token string, forceExpired bool) {
	c, aerr := s.verify(token, opGet, forceExpired)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	p := vmPath{raw: c.Path}
	if aerr := p.resolve(); aerr != nil {
		writeError(w, aerr)
		return
	}
	f, st, aerr := s.openRead(p)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	defer f.Close()
	version := st.version()
	if version != c.Version {
		writeError(w, errorf(http.StatusPreconditionFailed, wire.CodeConflict, "ESTALE",
			"%s changed since the URL was made", p))
		return
	}
	start, end, partial, aerr := parseRange(r.Header.Get("Range"), st.size)
	if aerr != nil {
		if aerr.status == http.StatusRequestedRangeNotSatisfiable {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", st.size))
		}
		writeError(w, aerr)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", strconv.Quote(version))
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, st.size))
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	streamSection(w, f, start, end, version)
}

// streamSection copies bytes [start, end) of f to w. Before each block is
// sent the file is stat'ed again; if its version changed (written in place
// meanwhile) the connection is cut, so that a reader gets a short body it
// can detect and never a torn range.
func streamSection(w http.ResponseWriter, f *os.File, start, end int64, version string) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for off := start; off < end; {
		n := int(min(int64(len(buf)), end-off))
		if m, _ := f.ReadAt(buf[:n], off); m < n {
			panic(http.ErrAbortHandler) // the file shrank: it changed
		}
		if st, err := fstat(f.Fd()); err != nil || st.version() != version {
			panic(http.ErrAbortHandler)
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return // the client went away
		}
		off += int64(n)
	}
}

// parseRange parses a Range header against a file of size bytes and
// returns the byte range [start, end) to send. One range is supported:
// "bytes=a-b", "bytes=a-" or "bytes=-n". A range that starts past the end
// is 416.
func parseRange(h string, size int64) (start, end int64, partial bool, aerr *apiError) {
	if h == "" {
		return 0, size, false, nil
	}
	unsatisfiable := errorf(http.StatusRequestedRangeNotSatisfiable, wire.CodeBadRequest, "",
		"range %q is past the end of a %d-byte file", h, size)
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false, badRequest("unsupported range %q: one bytes range only", h)
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false, badRequest("malformed range %q", h)
	}
	if first == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, badRequest("malformed range %q", h)
		}
		if n == 0 || size == 0 {
			return 0, 0, false, unsatisfiable
		}
		return size - min(n, size), size, true, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false, badRequest("malformed range %q", h)
	}
	end = size
	if last != "" {
		l, err := strconv.ParseInt(last, 10, 64)
		if err != nil || l < start {
			return 0, 0, false, badRequest("malformed range %q", h)
		}
		end = min(l+1, size)
	}
	if start >= size {
		return 0, 0, false, unsatisfiable
	}
	return start, end, true, nil
}

// blobPut receives one part of a presigned upload: exactly the part's
// bytes, written at its offset of the staging file. A part of an upload
// that is already committed is accepted and ignored.
func (s *Server) blobPut(w http.ResponseWriter, r *http.Request, token string, forceExpired bool) {
	fail := func(aerr *apiError) {
		// Drain what the client is sending (bounded), so that it reads
		// the answer instead of a reset connection.
		_, _ = io.CopyN(io.Discard, r.Body, maxPutDrain)
		writeError(w, aerr)
	}
	c, aerr := s.verify(token, opPut, forceExpired)
	if aerr != nil {
		fail(aerr)
		return
	}
	if r.ContentLength != c.Length {
		fail(badRequest("Content-Length must be the part's length, %d", c.Length))
		return
	}
	if aerr := s.putPart(r, c); aerr != nil {
		fail(aerr)
		return
	}
	_, _ = io.CopyN(io.Discard, r.Body, c.Length) // what an ignored part sent
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) putPart(r *http.Request, c claims) *apiError {
	up, done, aerr := s.uploads.lookup(c.Upload, c.Path, false)
	switch {
	case aerr != nil:
		return aerr
	case done != nil:
		return nil
	case up == nil:
		return errorf(http.StatusNotFound, wire.CodeNotFound, "", "unknown upload %q", c.Upload)
	}
	if aerr := up.checkPart(c); aerr != nil {
		return aerr
	}
	up.ioMu.RLock()
	defer up.ioMu.RUnlock()
	up.mu.Lock()
	closed := up.closed
	up.mu.Unlock()
	if closed {
		return nil // committed meanwhile
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	dst := stagingWriter{io.NewOffsetWriter(up.file, c.Offset)}
	n, err := io.CopyBuffer(dst, io.LimitReader(r.Body, c.Length), *bp)
	var werr *stagingWriteError
	if errors.As(err, &werr) {
		return fileError(werr.err, fmt.Sprintf("%q", c.Path))
	}
	if n != c.Length || err != nil {
		return badRequest("part %d: got %d of %d bytes: %v", c.Part, n, c.Length, err)
	}
	up.markReceived(c.Part)
	return nil
}

// copyBuffer copies n bytes of src from off to dst.
func copyBuffer(dst io.Writer, src *os.File, off, n int64, buf []byte) (int64, error) {
	return io.CopyBuffer(dst, io.NewSectionReader(src, off, n), buf)
}

// stagingWriter marks the errors of writes to a staging file, so that they
// are told apart from errors reading the request body.
type stagingWriter struct{ w io.Writer }

func (s stagingWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		err = &stagingWriteError{err}
	}
	return n, err
}

// stagingWriteError is an error writing a staging file.
type stagingWriteError struct{ err error }

func (e *stagingWriteError) Error() string { return "writing the staging file: " + e.err.Error() }
func (e *stagingWriteError) Unwrap() error { return e.err }
