package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// What the client knows of Range on presigned GETs (Client.rangeMode).
// The SDKs never send Range, so whether a server honours it is learnt
// from the first ranged GET that asks for part of a file: 206 says it
// does, 200 (the whole body) that it does not; from then on, objects are
// fetched whole into a spill file.
const (
	rangeUnknown  int32 = iota
	rangeHonoured       // a ranged GET answered 206
	rangeIgnored        // a ranged GET answered 200 with the whole file
)

// errSpilled says a read is to be served from the object's spill file.
var errSpilled = errors.New("the object is being fetched whole")

// ReadAt reads len(p) bytes of o at off with io.ReaderAt semantics: fewer
// only at the end of the file, with io.EOF. An inline object is read from
// memory. Otherwise a server that reads ranges (the agent) reads it while
// one is in use (read_server.go). Without one, while the server honours Range (or it is not known
// yet), one ranged GET of the presigned URL fetches the range; once it is
// known not to, the object is fetched whole, once, into a spill file in
// Config.SpillDir (unlinked at once; Release closes it), and reads are
// served from there as soon as the bytes they need have arrived.
//
// A URL that has expired or is about to is renewed by a new sync read. A
// file that changed since Open (412 from the presigned GET, or a renewed
// URL for another size) fails with CodeStale, now and for every later
// read of o. A GET cut short is retried (GETs are safe to repeat). ReadAt
// is safe for concurrent use on one Object: parallel reads share one
// renewal and one whole fetch.
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
	if o.released() {
		return 0, errReleased(o)
	}
	s := o.spill.Load()
	if s == nil && c.rangeMode.Load() == rangeIgnored {
		var err error
		if s, err = o.startSpill(c, nil); err != nil {
			return 0, err
		}
	}
	if s == nil {
		if served, err := c.readThroughServer(ctx, o, p[:want], off); served {
			if err != nil {
				return 0, err
			}
			return int(want), eof
		}
		err := c.retry.do(ctx, "read", true, func(ctx context.Context) error {
			return c.readRange(ctx, o, p[:want], off)
		})
		if !errors.Is(err, errSpilled) {
			if err != nil {
				return 0, err
			}
			return int(want), eof
		}
		s = o.spill.Load()
	}
	s.kick(c, o)
	if err := s.readAt(ctx, p[:want], off, o.Path); err != nil {
		return 0, err
	}
	return int(want), eof
}

// readRange is one attempt at a range with a ranged GET. A 200 answer to
// a request for part of the file says the server ignores Range: the
// answer becomes the object's whole fetch, and errSpilled is returned.
func (c *Client) readRange(ctx context.Context, o *Object, p []byte, off int64) error {
	last := off + int64(len(p)) - 1
	a, err := c.presignedGet(ctx, o, fmt.Sprintf("bytes=%d-%d", off, last))
	if err != nil {
		return err
	}
	switch {
	case a.StatusCode == http.StatusPartialContent:
		defer a.Close()
		if err := checkContentRange(a.Header.Get("Content-Range"), off, last, o.Size); errors.Is(err, errOtherSize) {
			return o.stale("the file has another size than the one opened")
		} else if err != nil {
			return &Error{Code: CodeProtocol, Op: "read", Path: o.Path, Status: a.StatusCode, Err: err}
		}
		c.rangeMode.CompareAndSwap(rangeUnknown, rangeHonoured)
	case a.ContentLength >= 0 && a.ContentLength != o.Size:
		a.Close()
		return o.stale("the whole file has another size than the one opened")
	case off == 0 && int64(len(p)) == o.Size:
		defer a.Close() // the whole file was asked for: a 200 says nothing of Range
	default:
		if c.rangeMode.Swap(rangeIgnored) != rangeIgnored {
			c.debugf("read %q: the presigned GET ignored Range: fetching files whole from now on", o.Path)
		}
		if !a.detach() {
			a.Close()
			return ctxFailure(ctx, "read", o.Path)
		}
		if _, err := o.startSpill(c, a); err != nil {
			return err
		}
		return errSpilled
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

// presignedGet performs a GET of o's URL (ranged when rng is not ""),
// and returns an answer with a 2xx status. A URL the server refuses (403
// or 410: expired) is renewed once and the GET repeated at once; a 412
// means the file changed (CodeStale, for good).
func (c *Client) presignedGet(ctx context.Context, o *Object, rng string) (*answer, error) {
	ref, err := c.readURL(ctx, o, 0)
	if err != nil {
		return nil, err
	}
	a, err := c.getOnce(ctx, o, ref, rng)
	if e, ok := errors.AsType[*Error](err); ok && (e.Status == http.StatusForbidden || e.Status == http.StatusGone) {
		c.debugf("read %q: presigned URL refused (%d), renewing it", o.Path, e.Status)
		if ref, err = c.readURL(ctx, o, ref.gen); err != nil {
			return nil, err
		}
		a, err = c.getOnce(ctx, o, ref, rng)
	}
	if CodeOf(err) == CodeStale {
		o.p.kill(err)
	}
	return a, err
}

// getOnce is one GET of a presigned URL; it returns 2xx answers.
func (c *Client) getOnce(ctx context.Context, o *Object, ref urlRef, rng string) (*answer, error) {
	x := &exchange{op: "read", path: o.Path, method: ref.method, url: ref.url, presigned: true}
	if rng != "" {
		x.header = map[string]string{"Range": rng}
	}
	a, err := c.send(ctx, x)
	if err != nil {
		return nil, err
	}
	if a.ok() {
		return a, nil
	}
	defer a.Close()
	e := a.statusError()
	if a.StatusCode == http.StatusPreconditionFailed {
		e.Code, e.Message = CodeStale, "the file changed since it was opened"
	}
	return nil, e
}

// readURL returns o's URL, renewing it when it is unknown, refused
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

// reresolve asks for a fresh URL for o. An answer for another size, or an
// inline one (nothing then proves it is the same file), is CodeStale.
func (c *Client) reresolve(ctx context.Context, o *Object) (urlRef, error) {
	r, exp, err := c.syncRead(ctx, o.Path)
	if err != nil {
		return urlRef{}, err
	}
	if r.Size != o.Size || r.PresignedURL == "" {
		return urlRef{}, o.stale("the file changed since it was opened")
	}
	return o.p.set(r, exp), nil
}

// stale marks o stale for good and returns the error.
func (o *Object) stale(msg string) error {
	err := &Error{Code: CodeStale, Op: "read", Path: o.Path, Message: msg}
	o.p.kill(err)
	return err
}

// released reports whether Release was called.
func (o *Object) released() bool {
	o.p.mu.Lock()
	defer o.p.mu.Unlock()
	return o.p.released
}

func errReleased(o *Object) error {
	return &Error{Code: CodeInvalid, Op: "read", Path: o.Path, Message: "read of a released object"}
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
		return fmt.Errorf("file size %d, Content-Range says %d: %w", size, s, errOtherSize)
	}
	return nil
}

// errOtherSize says a ranged answer is of a file of another size.
var errOtherSize = errors.New("the file has another size")
