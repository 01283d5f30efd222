package transport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Object is a file as the last sync read saw it. Inline holds the whole
// content when the server answered inline; otherwise ReadAt fetches ranges
// through the presigned URL, re-resolving it when it expires.
type Object struct {
	Path    string
	Size    int64
	Version string // changes whenever the content may have changed
	MtimeNs int64
	Inline  []byte // nil when the content is behind a presigned URL
	p       presigned
}

// presigned is an object's current download URL.
type presigned struct {
	mu      sync.Mutex // protects the fields below; never held across a request
	url     string
	method  string
	expires time.Time
}

// refreshMargin: a URL this close to expiry is re-resolved before use.
const refreshMargin = 30 * time.Second

// Open reads a file's description (and, for small files, its content)
// with one sync read.
func (c *Client) Open(ctx context.Context, path string) (*Object, error) {
	r, err := c.syncRead(ctx, path)
	if err != nil {
		return nil, err
	}
	o := &Object{Path: path, Size: r.Size, Version: r.Version, MtimeNs: r.MtimeNs}
	if r.Content != nil {
		if o.Inline, err = decodeBytes(*r.Content, r.Encoding); err != nil {
			return nil, &Error{Code: CodeProtocol, Op: "sync read", Path: path, Err: err}
		}
		if o.Inline == nil {
			o.Inline = []byte{}
		}
		return o, nil
	}
	o.setURL(r)
	return o, nil
}

func (c *Client) syncRead(ctx context.Context, path string) (*wire.SyncReadResponse, error) {
	var r wire.SyncReadResponse
	p, enc := encodePath(path)
	err := c.retry(ctx, true, func(ctx context.Context) error {
		return c.do(ctx, call{op: "sync read", path: path, method: http.MethodPost, url: c.vmURL(wire.SuffixSync),
			body: wire.SyncReadRequest{Path: p, PathEncoding: enc}}, &r)
	})
	if err != nil {
		return nil, err
	}
	if r.Content == nil && r.PresignedURL == "" {
		return nil, &Error{Code: CodeProtocol, Op: "sync read", Path: path, Message: "answer has neither content nor presigned_url"}
	}
	return &r, nil
}

func (o *Object) setURL(r *wire.SyncReadResponse) {
	o.p.mu.Lock()
	defer o.p.mu.Unlock()
	o.p.url, o.p.method = r.PresignedURL, r.Method
	if o.p.method == "" {
		o.p.method = http.MethodGet
	}
	o.p.expires, _ = time.Parse(time.RFC3339Nano, r.ExpiresAt)
}

// url returns a download URL with time to spare, re-resolving it by a
// new sync read when needed. A changed version means the file changed.
func (c *Client) url(ctx context.Context, o *Object, force bool) (string, string, error) {
	o.p.mu.Lock()
	u, m, exp := o.p.url, o.p.method, o.p.expires
	o.p.mu.Unlock()
	if !force && (exp.IsZero() || time.Until(exp) > refreshMargin) {
		return u, m, nil
	}
	r, err := c.syncRead(ctx, o.Path)
	if err != nil {
		return "", "", err
	}
	if r.Version != o.Version {
		return "", "", &Error{Code: CodeStale, Op: "read", Path: o.Path, Message: "the file changed since it was opened"}
	}
	if r.PresignedURL == "" { // shrank below the inline limit: same version cannot
		return "", "", &Error{Code: CodeStale, Op: "read", Path: o.Path, Message: "the file is no longer served by URL"}
	}
	o.setURL(r)
	return r.PresignedURL, r.Method, nil
}

// ReadAt reads len(p) bytes at off (io.ReaderAt semantics: io.EOF when
// the read reaches the end). It is safe for concurrent use on one Object.
func (c *Client) ReadAt(ctx context.Context, o *Object, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &Error{Code: CodeInvalid, Op: "read", Path: o.Path, Message: "negative offset"}
	}
	if off >= o.Size {
		return 0, io.EOF
	}
	want := int64(len(p))
	if off+want > o.Size {
		want = o.Size - off
	}
	var eof error
	if want < int64(len(p)) {
		eof = io.EOF
	}
	if o.Inline != nil {
		n := copy(p, o.Inline[off:])
		if int64(n) < want {
			return n, &Error{Code: CodeProtocol, Op: "read", Path: o.Path, Message: "inline content shorter than its size"}
		}
		return n, eof
	}
	force := false
	err := c.retry(ctx, true, func(ctx context.Context) error {
		u, m, err := c.url(ctx, o, force)
		if err != nil {
			return err
		}
		err = c.getRange(ctx, o, u, m, p[:want], off)
		if e, ok := err.(*Error); ok && e.Code == CodeForbidden {
			force = true // expired or revoked: re-resolve, then try again
			e.Code = CodeUnavailable
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(want), eof
}

// getRange fetches exactly len(p) bytes at off with one ranged GET.
func (c *Client) getRange(ctx context.Context, o *Object, u, method string, p []byte, off int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := func() { cancel(errStalled) }
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return &Error{Code: CodeProtocol, Op: "read", Path: o.Path, Err: err}
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1))
	hdr := time.AfterFunc(c.cfg.RequestTimeout, stalled)
	resp, err := c.http.Do(req)
	hdr.Stop()
	if err != nil {
		return netError(ctx, "read", o.Path, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		if off != 0 {
			return &Error{Code: CodeProtocol, Op: "read", Path: o.Path, Message: "server ignored the Range header"}
		}
	case http.StatusPreconditionFailed:
		e := statusError(resp, "read", o.Path).(*Error)
		e.Code = CodeStale
		return e
	default:
		return statusError(resp, "read", o.Path)
	}
	body := watchStall(resp.Body, c.cfg.TransferStall, stalled)
	defer body.stop()
	if _, err := io.ReadFull(body, p); err != nil {
		if ctx.Err() != nil {
			return netError(ctx, "read", o.Path, err)
		}
		return &Error{Code: CodeNetworkError, Op: "read", Path: o.Path, Message: "body cut short", Err: err}
	}
	return nil
}
