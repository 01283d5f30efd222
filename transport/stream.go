package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/arker-ai/arkerfs/wire"
)

// Raw uploads (POST /sync-stream?path&size[&sha256][&extract], lineage B):
// the body is the file's bytes, exactly size of them. Servers without the
// route answer 404 (or unsupported_operation where the route exists but
// the feature does not): the client remembers it and never asks again. A 413
// is remembered too, as the smallest size refused. The request carries no
// idempotency key, so it is not retried; a failure without an answer is
// an unknown outcome.

// mayStream reports whether a body of size bytes may go to /sync-stream.
func (c *Client) mayStream(size int64) bool {
	if c.noStream.Load() {
		return false
	}
	m := c.streamMax.Load()
	return m == 0 || size < m
}

// streamFile sends f to its temporary name through /sync-stream. It
// reports whether f is done with (sent, or failed for good: f.err); false
// means: send it as chunks instead.
func (c *Client) streamFile(ctx context.Context, f *upload) bool {
	_, err := c.stream(ctx, "sync stream", f.tmp, f.Source, f.Size, f.sum, "")
	if err == nil {
		return true
	}
	if fallBack(err) {
		c.debugf("upload %q: sending chunk writes instead of a stream: %v", f.Path, err)
		return false
	}
	f.fail(forPath(err, f.Path))
	return true
}

// fallBack reports whether a failed stream upload may go another way:
// the route is absent (404), the body too large for it (413), or the
// failure transient (the other way is safe to repeat).
func fallBack(err error) bool {
	var e *Error
	if !errors.As(err, &e) || errors.Is(err, context.Canceled) {
		return false
	}
	if e.Code == CodeUnknownOutcome {
		return !errors.Is(e.Err, errCallerDeadline)
	}
	return e.answered && (routeAbsent(e) || e.Status == http.StatusRequestEntityTooLarge || transientAnswer(e))
}

// routeAbsent reports whether an answer to /sync-stream says the server
// does not offer it: 404, or unsupported_operation.
func routeAbsent(e *Error) bool {
	return e.Status == http.StatusNotFound || e.Code == CodeUnsupportedOperation
}

// stream is one /sync-stream exchange: size bytes of src to vmPath (a
// file, or with extract the directory a tar is unpacked into). It learns
// from 404 and 413 answers (mayStream).
func (c *Client) stream(ctx context.Context, op, vmPath string, src io.ReaderAt, size int64, sum, extract string) (*wire.SyncStreamResponse, error) {
	q := url.Values{wire.QueryPath: {vmPath}, wire.QuerySize: {strconv.FormatInt(size, 10)}}
	if sum != "" {
		q.Set(wire.QuerySHA256, sum)
	}
	if extract != "" {
		q.Set(wire.QueryExtract, extract)
	}
	x := &exchange{op: op, path: vmPath, method: http.MethodPost, url: c.vmURL(wire.SuffixSyncStream) + "?" + q.Encode(),
		bodyAt: src, bodySize: size, header: map[string]string{"Content-Type": "application/octet-stream"}}
	if src == nil {
		x.body = []byte{}
	}
	var resp wire.SyncStreamResponse
	err := c.retry.do(ctx, op, false, func(ctx context.Context) error {
		_, err := c.doJSON(ctx, x, &resp)
		return err
	})
	var e *Error
	if errors.As(err, &e) && e.answered {
		switch {
		case routeAbsent(e):
			if !c.noStream.Swap(true) {
				c.debugf("POST %s answered %d %s: the server has no raw uploads", wire.SuffixSyncStream, e.Status, e.Wire)
			}
		case e.Status == http.StatusRequestEntityTooLarge:
			for m := c.streamMax.Load(); m == 0 || size < m; m = c.streamMax.Load() {
				if c.streamMax.CompareAndSwap(m, size) {
					break
				}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	done := resp.OK && resp.Complete && resp.Size == size
	if extract == "" {
		done = done && (resp.Written == nil || *resp.Written)
	} else {
		done = done && (resp.Extracted == nil || *resp.Extracted)
	}
	if !done {
		return nil, &Error{Code: CodeIO, Op: op, Path: vmPath, Message: "the upload did not complete"}
	}
	return &resp, nil
}
