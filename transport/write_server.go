package transport

import (
	"context"
	"errors"
	"io"
	"path"

	"github.com/arker-ai/arkerfs/transport/helper"
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
	s, rw := serverAs[RangeWriter](c)
	if s == nil {
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
	s, _ := serverAs[RangeWriter](c)
	return s != nil
}

// uploadThroughServer uploads u whole through a server that changes files
// in place, as Upload does through the sync API: an exclusive new file
// beside the target with a temporary name, the bytes written into it as
// they are (u.Spans alone, when set), then the helper's install op over
// the target. No byte is encoded, and the zeros of a sparse file do not
// travel. ok is false when no such server is in use, or it failed before
// anything was written (Upload then goes through the sync API); the
// result's digest is not computed.
func (c *Client) uploadThroughServer(ctx context.Context, u Upload) (res UploadResult, ok bool) {
	if !c.WritesInPlace() || u.Size < 0 || u.Source == nil || u.Mode != nil && *u.Mode&^07777 != 0 {
		return UploadResult{}, false
	}
	f := &upload{Upload: u, tmp: path.Join(utf8Dir(path.Dir(u.Path)), tempPrefix+newULID()+tempSuffix)}
	install := installOp(f)
	if helper.Validate(install) != nil {
		return UploadResult{}, false // Upload says why
	}
	res.Path = u.Path
	r, err := c.Meta(ctx, MetaOp{Kind: helper.OpCreate, Path: f.tmp, Mode: 0o600, Exclusive: true})
	if err == nil {
		err = r[0].Err
	}
	if err != nil {
		return UploadResult{}, false
	}
	spans := u.Spans
	if spans == nil && u.Size > 0 {
		spans = [][2]int64{{0, u.Size}}
	}
	if _, err = c.WriteSpans(ctx, f.tmp, 0, u.Size, spans, u.Source); err == nil {
		r, err = c.Meta(ctx, install)
		if err == nil {
			err = r[0].Err
		}
	}
	if err != nil {
		if _, uerr := c.Meta(context.WithoutCancel(ctx), MetaOp{Kind: helper.OpUnlink, Path: f.tmp}); uerr != nil {
			c.debugf("upload %q: removing %q: %v", u.Path, f.tmp, uerr)
		}
		if errors.Is(err, ErrNoRangeWriter) {
			return UploadResult{}, false
		}
		res.Err = err
		return res, true
	}
	a := r[0].Attr
	res.Size, res.MtimeNs, res.Ino, res.Attr = a.Size, a.MtimeNs, a.Ino, a
	return res, true
}
