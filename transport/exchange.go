package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// exchange is one HTTP request of the client, sent once (retries are the
// caller's, see retry.go).
type exchange struct {
	op, path  string // what we are doing and the VM path concerned, for errors and logs
	method    string
	url       string
	presigned bool              // a presigned URL: no bearer key, and the URL itself is secret
	header    map[string]string // extra request headers
	body      []byte            // request body, nil for none; bytes, so that a retry resends the same
	bodyAt    io.ReaderAt       // or a body read from here, bodySize bytes from offset 0 (re-readable too)
	bodySize  int64
	json      bool          // body is JSON (else, with bodyAt, application/octet-stream)
	wait      time.Duration // longest wait for the answer once the body is sent; 0 = RequestTimeout
	limit     time.Duration // bound on the whole exchange; 0 = none beyond the watchdog
}

// shownURL is the URL as errors and logs may show it: a presigned URL's
// token is a credential and is cut off.
func (x *exchange) shownURL() string {
	if !x.presigned {
		return x.url
	}
	u, err := url.Parse(x.url)
	if err != nil {
		return "(presigned URL)"
	}
	return u.Scheme + "://" + u.Host + "/…(presigned)"
}

// answer is a response to an exchange. Its body is guarded by the
// watchdog; Close it.
type answer struct {
	*http.Response
	c       *Client
	x       *exchange
	parent  context.Context // the caller's context
	ctx     context.Context // the exchange's own, cancelled by the watchdog
	release func(cause error)
	wd      *watchdog
	body    *recvWatch
	start   time.Time

	stopFollowing func() bool // detaches ctx from parent
}

// detach makes the rest of the answer independent of the caller's
// context: its body can be read on after the caller has gone, bounded by
// the stall watchdog alone. It reports false when the caller's context
// had already ended the exchange.
func (a *answer) detach() bool {
	ok := a.stopFollowing()
	a.parent = context.WithoutCancel(a.parent)
	return ok && a.ctx.Err() == nil
}

// send performs x and returns the answer, whatever its status. A failure
// to get an answer is an *Error.
func (c *Client) send(parent context.Context, x *exchange) (*answer, error) {
	if err := parent.Err(); err != nil {
		return nil, c.failure(parent, parent, x, err)
	}
	wait := x.wait
	if wait <= 0 {
		wait = c.cfg.RequestTimeout
	}
	// The exchange's context follows the caller's until the answer is
	// detached (answer.detach): then it lives on its own, bounded by the
	// watchdog.
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	stopFollowing := context.AfterFunc(parent, func() { cancel(context.Cause(parent)) })
	wd := newWatchdog(cancel, wait, errNoAnswer)
	var limit *time.Timer
	if x.limit > 0 {
		limit = time.AfterFunc(x.limit, func() { cancel(errTooLong) })
	}
	release := func(cause error) {
		stopFollowing()
		wd.stop()
		if limit != nil {
			limit.Stop()
		}
		cancel(cause)
	}
	hasBody, size := x.body != nil || x.bodyAt != nil, int64(len(x.body))
	if x.bodyAt != nil {
		size = x.bodySize
	}
	newBody := func() io.ReadCloser {
		if size == 0 {
			return http.NoBody
		}
		var r io.Reader = bytes.NewReader(x.body)
		if x.bodyAt != nil {
			r = io.NewSectionReader(x.bodyAt, 0, size)
		}
		return io.NopCloser(&sendWatch{r: r, left: size, w: wd, stall: c.cfg.TransferStall, wait: wait})
	}
	var body io.Reader
	if hasBody {
		body = newBody()
	}
	req, err := http.NewRequestWithContext(ctx, x.method, x.url, body)
	if err != nil {
		release(nil)
		return nil, &Error{Code: CodeInvalid, Op: x.op, Path: x.path, Message: "building the request", Err: err}
	}
	if hasBody {
		req.ContentLength = size
		req.GetBody = func() (io.ReadCloser, error) { return newBody(), nil }
	}
	if !x.presigned {
		req.Header.Set(wire.HeaderAuthorization, "Bearer "+c.cfg.APIKey)
		req.Header.Set("User-Agent", userAgent)
	}
	switch {
	case x.json:
		req.Header.Set("Content-Type", "application/json")
	case x.bodyAt != nil:
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	for k, v := range x.header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		e := c.failure(parent, ctx, x, err)
		release(nil)
		c.debugf("%s %q: %s %s: %v (%v)", x.op, x.path, x.method, x.shownURL(), e, since(start))
		return nil, e
	}
	wd.arm(c.cfg.TransferStall, errStalled)
	a := &answer{Response: resp, c: c, x: x, parent: parent, ctx: ctx, release: release, wd: wd, start: start,
		stopFollowing: stopFollowing}
	a.body = &recvWatch{ReadCloser: resp.Body, w: wd, stall: c.cfg.TransferStall}
	a.Body = a.body
	return a, nil
}

// Close reads what is left of a short body, so that the connection can
// serve another request, and releases the exchange.
func (a *answer) Close() {
	_, _ = io.Copy(io.Discard, io.LimitReader(a.body, 64<<10))
	_ = a.body.Close()
	a.release(nil)
	a.c.debugf("%s %q: %s %s → %d, %d bytes (%v)", a.x.op, a.x.path, a.x.method, a.x.shownURL(), a.StatusCode, a.body.n, since(a.start))
}

// fail classifies an error met while reading the answer's body.
func (a *answer) fail(err error) *Error { return a.c.failure(a.parent, a.ctx, a.x, err) }

// ok reports whether the status is 2xx.
func (a *answer) ok() bool { return a.StatusCode/100 == 2 }

// maxAnswer bounds a JSON answer's body: a manifest of 50,000 entries
// with 4 KiB paths is the largest the API gives.
const maxAnswer = 256 << 20

// doJSON performs x, and decodes a 2xx answer's JSON body into out (nil:
// ignore the body). It returns the answer's status. A 2xx body that is an
// error envelope is an error all the same.
func (c *Client) doJSON(ctx context.Context, x *exchange, out any) (int, error) {
	a, err := c.send(ctx, x)
	if err != nil {
		return 0, err
	}
	defer a.Close()
	if !a.ok() {
		return a.StatusCode, a.statusError()
	}
	b, err := io.ReadAll(io.LimitReader(a.Body, maxAnswer))
	if err != nil {
		return a.StatusCode, a.fail(err)
	}
	if errorShaped(b) {
		return a.StatusCode, answerError(a.StatusCode, a.Header, b, x.op, x.path)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return a.StatusCode, &Error{Code: CodeProtocol, Op: x.op, Path: x.path, Status: a.StatusCode,
				Message: "undecodable answer", Err: err}
		}
	}
	return a.StatusCode, nil
}

// userAgent names the client to the API.
const userAgent = "arkerfs"

// jsonBody marshals a request body.
func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	return b, nil
}

// since is the time since start, rounded for logs.
func since(start time.Time) time.Duration { return time.Since(start).Round(time.Microsecond * 100) }

// errorsAsURL returns the *url.Error in err's chain, if any.
func errorsAsURL(err error) (*url.Error, bool) {
	var ue *url.Error
	ok := errors.As(err, &ue)
	return ue, ok
}
