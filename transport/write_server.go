package transport

import (
	"context"
	"errors"
	"io"
)

// RangeWriter is a MetaServer that also changes files in place (the agent
// does), so that a small change of a large file sends only the changed
// bytes.
//
// WriteSpans cuts the existing regular file path to low bytes, writes the
// spans ({offset, length}) with src's bytes, cuts or extends it to size,
// and returns its attributes after. Every step may be repeated. An error
// that is an *Error is the file's (the code of its errno); any other is
// the server's failure as a whole, as for Meta.
type RangeWriter interface {
	WriteSpans(ctx context.Context, path string, low, size int64, spans [][2]int64, src io.ReaderAt) (Attr, error)
}

// ErrNoRangeWriter says no server that changes files in place is in use:
// the caller uploads the whole file.
var ErrNoRangeWriter = errors.New("no server changes files in place")

// WriteSpans changes the existing file p in place through the server in
// use (RangeWriter), as RangeWriter.WriteSpans says. Without one, or when
// it fails (it is then given up), the error is ErrNoRangeWriter. The
// change is not atomic: a reader on the VM may see part of it, as with a
// write in place on the VM itself.
func (c *Client) WriteSpans(ctx context.Context, p string, low, size int64, spans [][2]int64, src io.ReaderAt) (Attr, error) {
	c.fast.mu.Lock()
	s := c.fast.server
	c.fast.mu.Unlock()
	rw, ok := s.(RangeWriter)
	if !ok {
		return Attr{}, ErrNoRangeWriter
	}
	a, err := rw.WriteSpans(ctx, p, low, size, spans, src)
	if _, ok := errors.AsType[*Error](err); err != nil && !ok {
		if ctx.Err() != nil {
			return Attr{}, ctxFailure(ctx, "write", p)
		}
		c.dropServer(s, err)
		return Attr{}, ErrNoRangeWriter
	}
	return a, err
}

// WritesInPlace reports whether a server that changes files in place is
// in use.
func (c *Client) WritesInPlace() bool {
	c.fast.mu.Lock()
	defer c.fast.mu.Unlock()
	_, ok := c.fast.server.(RangeWriter)
	return ok
}
