package transport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// uploadLarge sends one file by presign → parallel part PUTs → commit.
//
// One goroutine reads the parts from the source in order, each into one
// of MaxParallel buffers, and hands each part to two consumers: a PUT
// (run by an errgroup, so that up to MaxParallel are in flight) and the
// hasher, which feeds the whole-file sha256 in order. A buffer returns to
// the pool when both are done with it, so the file is read once and at
// most MaxParallel parts are in memory.
func (c *Client) uploadLarge(ctx context.Context, u Upload) UploadResult {
	pu := &partURLs{c: c, u: u, partSize: partSizeFor(u.Size)}
	if err := c.retry.do(ctx, "presign", pu.fetch); err != nil {
		if CodeOf(err) == CodeConflict {
			// Committed already, by an attempt whose answer was lost: the
			// commit, sent again, answers the stored result.
			return c.recommit(ctx, u, err)
		}
		return UploadResult{Path: u.Path, Err: err}
	}
	sum, err := c.sendParts(ctx, u, pu)
	if err != nil {
		return UploadResult{Path: u.Path, Err: err}
	}
	return c.commit(ctx, u, sum)
}

// sendParts PUTs every part of u and returns the file's sha256 (hex).
func (c *Client) sendParts(ctx context.Context, u Upload, pu *partURLs) (string, error) {
	g, gctx := errgroup.WithContext(ctx)
	pool := &bufPool{free: make(chan []byte, c.cfg.MaxParallel), max: c.cfg.MaxParallel, size: int(pu.partSize)}
	hashq := make(chan *partBuf, c.cfg.MaxParallel) // never blocks: at most MaxParallel buffers exist
	h := sha256.New()
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for pb := range hashq {
			h.Write(pb.data)
			pb.release()
		}
	}()
	var readErr error
	for i, part := range pu.layout() {
		buf, err := pool.get(gctx)
		if err != nil {
			break // a PUT failed, or ctx ended: g.Wait or ctx says which
		}
		data := buf[:part.Length]
		if err := readFullAt(u.Source, data, part.Offset); err != nil {
			pool.put(buf)
			readErr = &Error{Code: CodeIO, Op: "upload", Path: u.Path, Message: "reading the source", Err: err}
			break
		}
		pb := &partBuf{data: data, buf: buf, pool: pool}
		pb.refs.Store(2)
		hashq <- pb
		g.Go(func() error {
			defer pb.release()
			return c.putPart(gctx, pu, i, data)
		})
	}
	close(hashq)
	putErr := g.Wait()
	<-hashed
	switch {
	case readErr != nil:
		return "", readErr
	case putErr != nil:
		return "", putErr
	case ctx.Err() != nil:
		return "", ctxFailure(ctx, "upload", u.Path)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// recommit answers an upload that the server says is committed already
// (presign: conflict) by sending its commit again. If that fails too, the
// presign's error stands.
func (c *Client) recommit(ctx context.Context, u Upload, presignErr error) UploadResult {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(u.Source, 0, u.Size)); err != nil {
		return UploadResult{Path: u.Path, Err: &Error{Code: CodeIO, Op: "upload", Path: u.Path, Message: "reading the source", Err: err}}
	}
	r := c.commit(ctx, u, hex.EncodeToString(h.Sum(nil)))
	if r.Err != nil {
		r.Err = presignErr
	}
	return r
}

// putPart uploads part i, retrying failures with the same bytes. A URL
// the server refuses (403: expired) is renewed by a new presign for the
// same upload id, which keeps the parts already received.
func (c *Client) putPart(ctx context.Context, pu *partURLs, i int, data []byte) error {
	return c.retry.do(ctx, "upload part", func(ctx context.Context) error {
		part, gen, err := pu.get(ctx, i, 0)
		if err != nil {
			return err
		}
		err = c.putOnce(ctx, pu.u.Path, part, data)
		if e, ok := errors.AsType[*Error](err); ok && e.Status == http.StatusForbidden {
			c.debugf("upload %q: part %d URL refused (%s), renewing", pu.u.Path, part.Part, e.Message)
			if part, _, err = pu.get(ctx, i, gen); err != nil {
				return err
			}
			err = c.putOnce(ctx, pu.u.Path, part, data)
		}
		return err
	})
}

// putOnce is one PUT of a part's bytes.
func (c *Client) putOnce(ctx context.Context, path string, part wire.PresignedPart, data []byte) error {
	method := part.Method
	if method == "" {
		method = http.MethodPut
	}
	x := &exchange{op: "upload part", path: path, method: method, url: part.URL, presigned: true, body: data}
	a, err := c.send(ctx, x)
	if err != nil {
		return err
	}
	defer a.Close()
	if !a.ok() {
		return a.statusError()
	}
	return nil
}

// commitRate is the server's hashing and copying speed that a commit's
// answer wait allows for: RequestTimeout plus a second per commitRate
// bytes of the file.
const commitRate = 32 << 20

// commit finishes a presigned upload, retried under the same upload id
// (a retry of a commit that landed answers the stored result).
func (c *Client) commit(ctx context.Context, u Upload, sum string) UploadResult {
	p, enc := encodePath(u.Path)
	size := u.Size
	req := wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{{Type: wire.WriteCommit, Path: p, PathEncoding: enc,
		UploadID: u.UploadID, Size: &size, SHA256: sum, Mode: u.Mode}}}
	x, err := c.apiCall("commit", u.Path, http.MethodPost, wire.SuffixSync, req)
	if err != nil {
		return UploadResult{Path: u.Path, Err: err}
	}
	x.limit, x.wait = 0, c.cfg.RequestTimeout+time.Duration(u.Size/commitRate)*time.Second
	var resp wire.SyncWriteResponse
	err = c.retry.do(ctx, x.op, func(ctx context.Context) error {
		_, err := c.doJSON(ctx, x, &resp)
		if err == nil && len(resp.Results) != 1 {
			err = &Error{Code: CodeProtocol, Op: x.op, Path: u.Path, Message: "want one result"}
		}
		if err == nil && resp.Results[0].Error != nil {
			// Retryable only if the server says so (e.g. unavailable).
			err = bodyError(*resp.Results[0].Error, 0, "upload", u.Path)
		}
		return err
	})
	if err != nil {
		return UploadResult{Path: u.Path, Err: err}
	}
	return writeResult(u, sum, resp.Results[0])
}

// partBuf is one part's bytes, shared by its PUT and the hasher; the last
// of the two to finish returns the buffer to the pool.
type partBuf struct {
	data []byte
	buf  []byte
	pool *bufPool
	refs atomic.Int32
}

func (pb *partBuf) release() {
	if pb.refs.Add(-1) == 0 {
		pb.pool.put(pb.buf)
	}
}

// bufPool hands out at most max buffers of size bytes, made on demand.
// get is called from one goroutine only; put from any.
type bufPool struct {
	free chan []byte
	max  int
	size int
	made int // buffers made so far; touched by get alone
}

func (p *bufPool) get(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.free:
		return b, nil
	default:
	}
	if p.made < p.max {
		p.made++
		return make([]byte, p.size), nil
	}
	select {
	case b := <-p.free:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *bufPool) put(b []byte) { p.free <- b }
