package transport

import (
	"context"
	"errors"
)

// RangeReader is a MetaServer that also reads byte ranges of files (the
// agent does): one request for a range, no presigned URL, the file's
// version checked where the file is.
//
// ReadRange reads len(p) bytes of the regular file path at off into p,
// fewer only where the file ends, if the file is still of size bytes
// (and, when mtimeNs is not 0, of that mtime). An error that is an *Error
// is the file's: CodeStale when it is of another version, else the code
// of its errno. Any other error is the server's failure as a whole, as
// for Meta: the client then stops using the server.
type RangeReader interface {
	ReadRange(ctx context.Context, path string, p []byte, off, size, mtimeNs int64) (int, error)
}

// rangeServer returns the server in use if it reads ranges.
func (c *Client) rangeServer() (MetaServer, RangeReader) { return serverAs[RangeReader](c) }

// serverAs returns the MetaServer in use, and it as a T, if it is one.
func serverAs[T any](c *Client) (MetaServer, T) {
	c.fast.mu.Lock()
	s := c.fast.server
	c.fast.mu.Unlock()
	t, ok := s.(T)
	if !ok {
		return nil, t
	}
	return s, t
}

// OpenKnown returns an Object for the version of p the caller knows from
// its attributes (size and mtime), without asking the VM, when a server
// that reads ranges is in use; ok is false otherwise, and the caller
// opens p with Open. Reads of the Object check that version where the
// file is and fail with CodeStale when it is another. If the server
// fails later, reads go through a sync read's presigned URL, checked
// against size alone as for Open.
func (c *Client) OpenKnown(p string, size, mtimeNs int64) (o *Object, ok bool) {
	if _, rr := c.rangeServer(); rr == nil {
		return nil, false
	}
	return &Object{Path: p, Size: size, mtimeNs: mtimeNs}, true
}

// readThroughServer reads p at off from the range server, if one is in
// use. served is false when none is, or when it failed (it is then given
// up): the caller reads through the presigned URL.
func (c *Client) readThroughServer(ctx context.Context, o *Object, p []byte, off int64) (served bool, err error) {
	s, rr := c.rangeServer()
	if rr == nil {
		return false, nil
	}
	n, err := rr.ReadRange(ctx, o.Path, p, off, o.Size, o.mtimeNs)
	if e, ok := errors.AsType[*Error](err); ok {
		if e.Code == CodeStale {
			return true, o.stale(e.Message)
		}
		return true, e
	}
	if err != nil {
		if ctx.Err() != nil {
			return true, ctxFailure(ctx, "read", o.Path)
		}
		c.dropServer(s, err)
		return false, nil
	}
	if n != len(p) {
		return true, o.stale("the file ended before its size")
	}
	return true, nil
}
