package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ReadAt reads len(p) bytes of o at off with io.ReaderAt semantics: fewer
// only at the end of the file, with io.EOF. An inline object is read from
// memory; otherwise one ranged GET on the presigned URL fetches the range,
// any range. A URL that has expired or is about to is re-resolved by a new
// sync read; if the file changed meanwhile (another version, or 412 from
// the blob server) the read fails with CodeStale, now and for every later
// read of o. A body cut short is retried. ReadAt is safe for concurrent
// use on one Object: parallel range reads share one re-resolution.
func (c *Client) ReadAt(ctx context.Context, o *Object, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &Error{Code: CodeInvalid, Op: "read", Path: o.Path, Message: "negative offset"}
	}
	if off >= o.Size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), o.Size-off)
	var eof error
	if want < int64(len(p)) {
		eof = io.EOF
	}
	if want == 0 {
		return 0, nil
	}
	if o.Inline != nil {
		if int64(len(o.Inline)) < off+want {
			return 0, &Error{Code: CodeProtocol, Op: "read", Path: o.Path, Message: "inline content shorter than its size"}
		}
		return copy(p, o.Inline[off:off+want]), eof
	}
	err := c.retry.do(ctx, "read", func(ctx context.Context) error {
		return c.readRange(ctx, o, p[:want], off)
	})
	if err != nil {
		return 0, err
	}
	return int(want), eof
}

// readRange is one attempt at a range: a URL with time to spare, then a
// ranged GET; a URL the server refuses (403: expired) is re-resolved once
// and the GET repeated at once.
func (c *Client) readRange(ctx context.Context, o *Object, p []byte, off int64) error {
	ref, err := c.readURL(ctx, o, 0)
	if err != nil {
		return err
	}
	err = c.getRange(ctx, o, ref, p, off)
	if e, ok := errors.AsType[*Error](err); ok && e.Status == http.StatusForbidden {
		c.debugf("read %q: presigned URL refused (%s), re-resolving", o.Path, e.Message)
		if ref, err = c.readURL(ctx, o, ref.gen); err != nil {
			return err
		}
		err = c.getRange(ctx, o, ref, p, off)
	}
	if CodeOf(err) == CodeStale {
		o.p.kill(err)
	}
	return err
}

// readURL returns o's URL, re-resolving it when it is unknown, refused
// (generation bad), or near expiry. Concurrent callers share one sync
// read, made on a context detached from any one caller's cancellation
// (and bounded by RequestTimeout), so that one reader giving up does not
// fail the others.
func (c *Client) readURL(ctx context.Context, o *Object, bad int) (urlRef, error) {
	ref, usable, dead := o.p.current(bad)
	if dead != nil {
		return urlRef{}, dead
	}
	if usable {
		return ref, nil
	}
	ch := o.p.renew.DoChan("", func() (any, error) {
		// Another caller may have renewed it while this one waited.
		if ref, usable, dead := o.p.current(bad); dead != nil || usable {
			return ref, dead
		}
		return c.reresolve(context.WithoutCancel(ctx), o)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return urlRef{}, r.Err
		}
		return r.Val.(urlRef), nil
	case <-ctx.Done():
		return urlRef{}, ctxFailure(ctx, "read", o.Path)
	}
}

// reresolve asks for a fresh URL for o, and checks that the file is the
// one o describes.
func (c *Client) reresolve(ctx context.Context, o *Object) (urlRef, error) {
	r, exp, err := c.syncRead(ctx, o.Path)
	if err != nil {
		return urlRef{}, err
	}
	if r.Version != o.Version || r.Size != o.Size || r.PresignedURL == "" {
		err := &Error{Code: CodeStale, Op: "read", Path: o.Path, Message: "the file changed since it was opened"}
		o.p.kill(err)
		return urlRef{}, err
	}
	return o.p.set(r, exp), nil
}

// getRange fetches exactly len(p) bytes of o at off with one ranged GET.
func (c *Client) getRange(ctx context.Context, o *Object, ref urlRef, p []byte, off int64) error {
	last := off + int64(len(p)) - 1
	x := &exchange{op: "read", path: o.Path, method: ref.method, url: ref.url, presigned: true,
		header: map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", off, last)}}
	a, err := c.send(ctx, x)
	if err != nil {
		return err
	}
	defer a.Close()
	switch a.StatusCode {
	case http.StatusPartialContent:
		if err := checkContentRange(a.Header.Get("Content-Range"), off, last, o.Size); err != nil {
			return &Error{Code: CodeProtocol, Op: x.op, Path: o.Path, Status: a.StatusCode, Err: err}
		}
	case http.StatusOK:
		if off != 0 {
			return &Error{Code: CodeProtocol, Op: x.op, Path: o.Path, Status: a.StatusCode, Message: "the server ignored the Range header"}
		}
	case http.StatusPreconditionFailed:
		e := a.statusError()
		e.Code = CodeStale
		return e
	default:
		return a.statusError()
	}
	if n, err := io.ReadFull(a.Body, p); err != nil {
		e := a.fail(err)
		if e.Code == CodeNetworkError {
			e.Message = fmt.Sprintf("body cut short after %d of %d bytes", n, len(p))
		}
		return e
	}
	return nil
}

// checkContentRange checks a 206 answer's "bytes first-last/size".
func checkContentRange(cr string, first, last, size int64) error {
	var f, l, s int64
	if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &f, &l, &s); err != nil {
		return fmt.Errorf("bad Content-Range %q", cr)
	}
	if f != first || l != last {
		return fmt.Errorf("asked bytes %d-%d, got %d-%d", first, last, f, l)
	}
	if s != size {
		return fmt.Errorf("file size %d, Content-Range says %d", size, s)
	}
	return nil
}
