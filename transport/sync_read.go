package transport

import (
	"context"
	"net/http"
	"path"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/arker-ai/arkerfs/transport/helper"
	"github.com/arker-ai/arkerfs/wire"
)

// Object is a file as one sync read saw it: its path and size, and either
// its whole content (Inline) or a presigned URL that ReadAt reads through.
// The published read answer has no version: callers key versions on the
// attributes the helper gives. An Object is safe for concurrent use; its
// exported fields must not change after Open. Release it when done.
type Object struct {
	Path   string
	Size   int64
	Inline []byte // the whole content when the server answered inline (or the file is fetched whole at Open); else nil

	mtimeNs int64 // the version's mtime, when OpenKnown made o; 0: reads check the size alone

	p     presigned
	spill atomic.Pointer[spill] // the whole file on local disk, once fetched whole
}

// Release frees what the object holds locally (its spill file). Reads
// after Release fail with CodeInvalid. It is safe to call more than once.
func (o *Object) Release() {
	if s := o.spill.Load(); s != nil {
		s.release()
	}
	o.p.mu.Lock()
	o.p.released = true
	o.p.mu.Unlock()
}

// presigned is an Object's current download URL.
type presigned struct {
	mu       sync.Mutex // protects the fields below; never held across a request
	url      string
	method   string
	expires  time.Time     // on the local clock; zero = unknown (used until refused)
	margin   time.Duration // a URL this close to expiry is renewed before use
	gen      int           // counts the URLs this object has had
	dead     error         // once the file is known to have changed: every read fails with it
	released bool

	renew singleflight.Group // one re-resolution at a time, shared by concurrent readers
}

// urlRef is one generation of an object's URL.
type urlRef struct {
	url, method string
	gen         int
}

// refreshMargin: a URL this close to its expiry is re-resolved before use
// (a quarter of its lifetime when that is shorter).
const refreshMargin = 30 * time.Second

// Open reads a file's description, and for a small file its content, with
// one sync read (safe to repeat, and retried). A missing file is
// CodeNotFound; a directory or another file that is not regular is
// refused by the server (CodeBadRequest).
//
// A path that is not valid UTF-8 cannot travel in JSON: Open then makes a
// hard link to the file under a UTF-8 temporary name with the helper,
// reads that, fetches the content whole (inline, or into a spill file)
// and removes the link, three runs and a read in all.
func (c *Client) Open(ctx context.Context, p string) (*Object, error) {
	if !utf8.ValidString(p) {
		return c.openByLink(ctx, p)
	}
	var r *wire.SyncReadResponse
	var exp time.Time
	err := c.retry.do(ctx, "sync read", true, func(ctx context.Context) error {
		var err error
		r, exp, err = c.syncRead(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.newObject(p, r, exp)
}

// newObject makes the Object of a read answer.
func (c *Client) newObject(p string, r *wire.SyncReadResponse, exp time.Time) (*Object, error) {
	o := &Object{Path: p, Size: r.Size}
	if r.Content == nil {
		o.p.set(r, exp)
		return o, nil
	}
	var err error
	if o.Inline, err = decodeContent(*r.Content, r.Encoding); err != nil {
		return nil, &Error{Code: CodeProtocol, Op: "sync read", Path: p, Message: "undecodable content", Err: err}
	}
	if int64(len(o.Inline)) != r.Size {
		return nil, &Error{Code: CodeProtocol, Op: "sync read", Path: p, Message: "inline content does not match its size"}
	}
	if o.Inline == nil {
		o.Inline = []byte{}
	}
	return o, nil
}

// syncRead is one sync read exchange. It returns the answer and, for a
// presigned one, the URL's expiry on the local clock.
func (c *Client) syncRead(ctx context.Context, p string) (*wire.SyncReadResponse, time.Time, error) {
	x, err := c.apiCall("sync read", p, http.MethodPost, wire.SuffixSync, wire.SyncReadRequest{Op: wire.OpRead, Path: p})
	if err != nil {
		return nil, time.Time{}, err
	}
	var r wire.SyncReadResponse
	_, err = c.doJSON(ctx, x, &r)
	received := time.Now()
	if err != nil {
		return nil, time.Time{}, err
	}
	switch {
	case r.Content == nil && r.PresignedURL == "":
		return nil, time.Time{}, &Error{Code: CodeProtocol, Op: x.op, Path: p, Message: "answer has neither content nor presigned_url"}
	case r.Size < 0:
		return nil, time.Time{}, &Error{Code: CodeProtocol, Op: x.op, Path: p, Message: "negative size"}
	}
	var exp time.Time
	if r.ExpiresIn != nil && *r.ExpiresIn > 0 {
		exp = received.Add(time.Duration(*r.ExpiresIn) * time.Second)
	}
	return &r, exp, nil
}

// openByLink opens a file whose path is not valid UTF-8 through a hard
// link with a UTF-8 name, and fetches it whole before removing the link.
func (c *Client) openByLink(ctx context.Context, p string) (*Object, error) {
	tmp := path.Join(utf8Dir(path.Dir(p)), tempPrefix+newULID()+tempSuffix)
	res, err := c.Meta(ctx, MetaOp{Kind: helper.OpLink, Path: p, Path2: tmp})
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		e := *res[0].Err.(*Error)
		e.Op, e.Path = "sync read", p
		return nil, &e
	}
	defer func() {
		if _, err := c.Meta(context.WithoutCancel(ctx), MetaOp{Kind: helper.OpUnlink, Path: tmp}); err != nil {
			c.debugf("open %q: removing the link %q: %v", p, tmp, err)
		}
	}()
	o, err := c.Open(ctx, tmp)
	if err != nil {
		return nil, forPath(err, p)
	}
	o.Path = p
	if o.Inline != nil {
		return o, nil
	}
	s, err := o.startSpill(c, nil)
	if err == nil {
		err = s.waitAll(ctx)
	}
	if err != nil {
		o.Release()
		return nil, forPath(err, p)
	}
	return o, nil
}

// set installs a new URL.
func (p *presigned) set(r *wire.SyncReadResponse, exp time.Time) urlRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.url, p.method, p.expires = r.PresignedURL, r.Method, exp
	if p.method == "" {
		p.method = http.MethodGet
	}
	p.margin = refreshMargin
	if !exp.IsZero() {
		p.margin = min(refreshMargin, time.Until(exp)/4)
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
// bad (refused by the server), and not within its margin of expiry.
func (p *presigned) current(bad int) (ref urlRef, usable bool, dead error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ref = urlRef{url: p.url, method: p.method, gen: p.gen}
	usable = p.url != "" && p.gen != bad && (p.expires.IsZero() || time.Until(p.expires) > p.margin)
	return ref, usable, p.dead
}

// keepAlive ties the release of a spill file to o's collection, for
// objects that are never released.
func keepAlive(o *Object, s *spill) {
	runtime.AddCleanup(o, func(s *spill) { s.release() }, s)
}
