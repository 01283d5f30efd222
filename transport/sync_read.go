package transport

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Object is a file as one sync read saw it. Inline holds the whole content
// when the server answered inline; otherwise ReadAt fetches ranges through
// the presigned URL, re-resolving it when it expires. An Object is safe
// for concurrent use; its exported fields must not change after Open.
type Object struct {
	Path    string
	Size    int64
	Version string // changes whenever the content may have changed
	MtimeNs int64
	Inline  []byte // nil when the content is behind a presigned URL
	p       presigned
}

// presigned is an Object's current download URL.
type presigned struct {
	mu      sync.Mutex // protects the fields below; never held across a request
	url     string
	method  string
	expires time.Time // on the local clock; zero = unknown (used until refused)
	gen     int       // counts the URLs this object has had
	dead    error     // once the file is known to have changed: every read fails with it

	renew singleflight.Group // one re-resolution at a time, shared by concurrent readers
}

// urlRef is one generation of an object's URL.
type urlRef struct {
	url, method string
	gen         int
}

// refreshMargin: a URL this close to its expiry is re-resolved before use.
const refreshMargin = 30 * time.Second

// Open reads a file's description, and for a small file its content, with
// one sync read. A missing file is CodeNotFound, a directory CodeIsDir.
func (c *Client) Open(ctx context.Context, path string) (*Object, error) {
	var r *wire.SyncReadResponse
	var exp time.Time
	err := c.retry.do(ctx, "sync read", func(ctx context.Context) error {
		var err error
		r, exp, err = c.syncRead(ctx, path)
		return err
	})
	if err != nil {
		return nil, err
	}
	o := &Object{Path: path, Size: r.Size, Version: r.Version, MtimeNs: r.MtimeNs}
	if r.Content == nil {
		o.p.set(r, exp)
		return o, nil
	}
	if o.Inline, err = decodeBytes(*r.Content, r.Encoding); err != nil {
		return nil, &Error{Code: CodeProtocol, Op: "sync read", Path: path, Message: "undecodable content", Err: err}
	}
	if int64(len(o.Inline)) != r.Size {
		return nil, &Error{Code: CodeProtocol, Op: "sync read", Path: path, Message: "inline content does not match its size"}
	}
	return o, nil
}

// syncRead is one sync read exchange. It returns the answer and, for a
// presigned one, the URL's expiry on the local clock.
func (c *Client) syncRead(ctx context.Context, path string) (*wire.SyncReadResponse, time.Time, error) {
	p, enc := encodePath(path)
	x, err := c.apiCall("sync read", path, http.MethodPost, wire.SuffixSync, wire.SyncReadRequest{Path: p, PathEncoding: enc})
	if err != nil {
		return nil, time.Time{}, err
	}
	var r wire.SyncReadResponse
	hdr, err := c.doJSON(ctx, x, &r)
	received := time.Now()
	if err != nil {
		return nil, time.Time{}, err
	}
	switch {
	case r.Content == nil && r.PresignedURL == "":
		return nil, time.Time{}, &Error{Code: CodeProtocol, Op: x.op, Path: path, Message: "answer has neither content nor presigned_url"}
	case r.Size < 0:
		return nil, time.Time{}, &Error{Code: CodeProtocol, Op: x.op, Path: path, Message: "negative size"}
	}
	return &r, localExpiry(r.ExpiresAt, hdr.Get("Date"), received), nil
}

// localExpiry places a URL's expiry on the local clock: the server's
// expires_at minus the server's Date is the URL's lifetime, counted from
// when the answer arrived, so a skewed local clock neither keeps using a
// dead URL nor refreshes a live one on every read. Without a usable Date
// it is expires_at itself; without expires_at it is unknown (zero).
func localExpiry(expiresAt, date string, received time.Time) time.Time {
	exp, err := time.Parse(time.RFC3339Nano, expiresAt)
	if err != nil {
		return time.Time{}
	}
	if d, err := http.ParseTime(date); err == nil {
		return received.Add(exp.Sub(d))
	}
	return exp
}

// set installs a new URL.
func (p *presigned) set(r *wire.SyncReadResponse, exp time.Time) urlRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.url, p.method, p.expires = r.PresignedURL, r.Method, exp
	if p.method == "" {
		p.method = http.MethodGet
	}
	p.gen++
	return urlRef{url: p.url, method: p.method, gen: p.gen}
}

// kill marks the object stale for good.
func (p *presigned) kill(err error) {
	p.mu.Lock()
	if p.dead == nil {
		p.dead = err
	}
	p.mu.Unlock()
}

// current returns the URL if it may be used: known, not the generation
// bad (refused by the server), and not within refreshMargin of expiry.
func (p *presigned) current(bad int) (ref urlRef, usable bool, dead error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ref = urlRef{url: p.url, method: p.method, gen: p.gen}
	usable = p.url != "" && p.gen != bad && (p.expires.IsZero() || time.Until(p.expires) > refreshMargin)
	return ref, usable, p.dead
}
