package transport

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arker-ai/arkerfs/transport/wire"
)

type (
	timeDuration = time.Duration
)

const timeSecond = time.Second

// uploadLarge sends one file by presign → parallel part PUTs → commit.
// The whole-file sha256 is computed in a pass that runs alongside the
// parts; at most MaxParallel parts are in memory at once.
func (c *Client) uploadLarge(ctx context.Context, u Upload) UploadResult {
	fail := func(err error) UploadResult { return UploadResult{Path: u.Path, Err: err} }
	parts, err := c.presign(ctx, u)
	if err != nil {
		return fail(err)
	}
	sumc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		s, err := hashSource(u.Source, u.Size)
		sumc <- s
		errc <- err
	}()
	var mu sync.Mutex // protects parts (replaced when URLs are renewed)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.MaxParallel)
	for i := range parts {
		i := i
		g.Go(func() error {
			mu.Lock()
			part := parts[i]
			mu.Unlock()
			buf := make([]byte, part.Range.Length)
			if _, err := u.Source.ReadAt(buf, part.Range.Offset); err != nil && err != io.EOF {
				return &Error{Code: CodeIO, Op: "upload", Path: u.Path, Message: "reading staged data", Err: err}
			}
			renew := false
			return c.retry(gctx, true, func(ctx context.Context) error {
				if renew {
					fresh, err := c.presign(ctx, u)
					if err != nil {
						return err
					}
					mu.Lock()
					parts = fresh
					part = parts[i]
					mu.Unlock()
					renew = false
				}
				err := c.putPart(ctx, u.Path, part, buf)
				if e, ok := err.(*Error); ok && e.Code == CodeForbidden {
					renew = true // expired: presign again under the same upload id
					e.Code = CodeUnavailable
				}
				return err
			})
		})
	}
	perr := g.Wait()
	sum, herr := <-sumc, <-errc
	if perr != nil {
		return fail(perr)
	}
	if herr != nil {
		return fail(&Error{Code: CodeIO, Op: "upload", Path: u.Path, Message: "reading staged data", Err: herr})
	}
	return c.commit(ctx, u, sum)
}

// presign asks for the part URLs of u.
func (c *Client) presign(ctx context.Context, u Upload) ([]wire.PresignedPart, error) {
	p, enc := encodePath(u.Path)
	size := u.Size
	req := wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{{Type: wire.WritePresign, Path: p, PathEncoding: enc,
		UploadID: u.UploadID, Size: &size, PartSize: wire.PartSize}}}
	var resp wire.SyncWriteResponse
	err := c.retry(ctx, true, func(ctx context.Context) error {
		return c.do(ctx, call{op: "presign", path: u.Path, method: http.MethodPost, url: c.vmURL(wire.SuffixSync), body: req}, &resp)
	})
	if err != nil {
		return nil, err
	}
	if len(resp.Results) != 1 {
		return nil, &Error{Code: CodeProtocol, Op: "presign", Path: u.Path, Message: "want one result"}
	}
	r := resp.Results[0]
	if r.Error != nil {
		return nil, bodyError(*r.Error, 0, "presign", u.Path)
	}
	var covered int64
	for _, pt := range r.Parts {
		covered += pt.Range.Length
	}
	if covered != u.Size || len(r.Parts) == 0 {
		return nil, &Error{Code: CodeProtocol, Op: "presign", Path: u.Path, Message: "parts do not cover the file"}
	}
	return r.Parts, nil
}

// putPart uploads one part's bytes.
func (c *Client) putPart(ctx context.Context, path string, part wire.PresignedPart, buf []byte) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := func() { cancel(errStalled) }
	body := watchStall(bytesReader(buf), c.cfg.TransferStall, stalled)
	defer body.stop()
	method := part.Method
	if method == "" {
		method = http.MethodPut
	}
	req, err := http.NewRequestWithContext(ctx, method, part.URL, body)
	if err != nil {
		return &Error{Code: CodeProtocol, Op: "upload part", Path: path, Err: err}
	}
	req.ContentLength = int64(len(buf))
	req.GetBody = nil
	resp, err := c.http.Do(req)
	if err != nil {
		return netError(ctx, "upload part", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return statusError(resp, "upload part", path)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

// commit finishes a presigned upload.
func (c *Client) commit(ctx context.Context, u Upload, sum string) UploadResult {
	p, enc := encodePath(u.Path)
	size := u.Size
	req := wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{{Type: wire.WriteCommit, Path: p, PathEncoding: enc,
		UploadID: u.UploadID, Size: &size, SHA256: sum, Mode: u.Mode}}}
	var resp wire.SyncWriteResponse
	err := c.retry(ctx, true, func(ctx context.Context) error {
		return c.do(ctx, call{op: "commit", path: u.Path, method: http.MethodPost, url: c.vmURL(wire.SuffixSync),
			body: req, timeout: c.bodyTimeout(u.Size)}, &resp)
	})
	if err != nil {
		return UploadResult{Path: u.Path, Err: err}
	}
	if len(resp.Results) != 1 {
		return UploadResult{Path: u.Path, Err: &Error{Code: CodeProtocol, Op: "commit", Path: u.Path, Message: "want one result"}}
	}
	return writeResult(u.Path, resp.Results[0])
}
