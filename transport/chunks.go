package transport

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/arker-ai/arkerfs/wire"
)

// Chunk writes (POST /sync, op "write"): every file is cut into chunks of
// at most wire.ChunkSize bytes, all under the file's one upload_id; the
// chunks of all the files, in order, are packed into requests of at most
// wire.ClientSyncRequestContent decoded bytes (and maxBatchEntries
// entries). A zero-length file is one chunk [0, 0). The server's ledger
// outlives a request, so a file's chunks may span several requests; the
// requests go one after the other, so a file's chunks arrive in order.

// maxBatchEntries bounds the entries of one request, so that the server's
// answer does not wait on thousands of commits.
const maxBatchEntries = 1024

// chunk is bytes [start, end) of one upload.
type chunk struct {
	f          *upload
	start, end int64
}

// last reports whether ch completes its file.
func (ch chunk) last() bool { return ch.end == ch.f.Size }

// planChunks cuts files into chunks and packs them, in order, into
// requests of at most maxContent decoded bytes and maxEntries entries.
func planChunks(files []*upload, maxContent int64, maxEntries int) [][]chunk {
	var reqs [][]chunk
	var cur []chunk
	var n int64
	for _, f := range files {
		for start := int64(0); ; {
			end := min(start+wire.ChunkSize, f.Size)
			if len(cur) > 0 && (n+end-start > maxContent || len(cur) >= maxEntries) {
				reqs, cur, n = append(reqs, cur), nil, 0
			}
			cur, n = append(cur, chunk{f: f, start: start, end: end}), n+end-start
			if start = end; start >= f.Size {
				break
			}
		}
	}
	if len(cur) > 0 {
		reqs = append(reqs, cur)
	}
	return reqs
}

// writeChunks sends files as chunk writes. A file that fails gets its err
// set and its later chunks are not sent.
func (c *Client) writeChunks(ctx context.Context, files []*upload) {
	for _, req := range planChunks(files, wire.ClientSyncRequestContent, maxBatchEntries) {
		var live []chunk
		for _, ch := range req {
			if ch.f.err == nil {
				live = append(live, ch)
			}
		}
		if len(live) > 0 {
			c.sendChunks(ctx, live)
		}
	}
}

// sendChunks sends one request of chunks, retried as a whole (the same
// bytes under the same upload ids) while it fails in a transient way,
// including a transient per-entry error; then it checks each entry's
// result.
func (c *Client) sendChunks(ctx context.Context, chunks []chunk) {
	body, err := chunkBody(chunks)
	if err != nil {
		for _, ch := range chunks {
			ch.f.fail(err)
		}
		return
	}
	x := &exchange{op: "sync write", path: chunks[0].f.Path, method: http.MethodPost,
		url: c.vmURL(wire.SuffixSync), body: body, json: true}
	var resp wire.SyncWriteResponse
	err = c.retry.do(ctx, x.op, true, func(ctx context.Context) error {
		resp = wire.SyncWriteResponse{}
		if _, err := c.doJSON(ctx, x, &resp); err != nil {
			return err
		}
		if len(resp.Results) != len(chunks) {
			return &Error{Code: CodeProtocol, Op: x.op, Path: x.path,
				Message: fmt.Sprintf("%d results for %d entries", len(resp.Results), len(chunks))}
		}
		for k, r := range resp.Results {
			if r.Error != nil {
				if e := entryError(*r.Error, x.op, chunks[k].f.Path); shouldRetry(e, true) {
					return e
				}
			}
		}
		return nil
	})
	if err != nil {
		for _, ch := range chunks {
			ch.f.fail(forPath(err, ch.f.Path))
		}
		return
	}
	for k, r := range resp.Results {
		ch := chunks[k]
		switch {
		case r.Error != nil:
			ch.f.fail(entryError(*r.Error, x.op, ch.f.Path))
		case r.Size != ch.f.Size:
			ch.f.fail(&Error{Code: CodeProtocol, Op: x.op, Path: ch.f.Path,
				Message: fmt.Sprintf("the result is for a file of %d bytes, not %d", r.Size, ch.f.Size)})
		case ch.last() && !(r.Complete && r.Written):
			ch.f.fail(&Error{Code: CodeIO, Op: x.op, Path: ch.f.Path,
				Message: fmt.Sprintf("the upload did not complete (%d of %d bytes received, complete %v, written %v)",
					r.ReceivedBytes, r.Size, r.Complete, r.Written)})
		}
	}
}

// chunkBody reads the chunks' bytes and builds the request body.
func chunkBody(chunks []chunk) ([]byte, error) {
	writes := make([]wire.SyncChunkWrite, len(chunks))
	for k, ch := range chunks {
		data := make([]byte, ch.end-ch.start)
		if err := readFullAt(ch.f.Source, data, ch.start); err != nil {
			return nil, &Error{Code: CodeIO, Op: "upload", Path: ch.f.Path, Message: "reading the source", Err: err}
		}
		sum := ch.f.sum
		writes[k] = wire.SyncChunkWrite{Path: ch.f.tmp, Size: ch.f.Size, UploadID: ch.f.uploadID,
			Content: base64.StdEncoding.EncodeToString(data), Start: ch.start, End: ch.end, SHA256: &sum}
	}
	return jsonBody(wire.SyncWriteRequest{Op: wire.OpWrite, Writes: writes})
}

// fail records f's first failure.
func (f *upload) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// forPath is err, told of path when it is an *Error about another file
// of the same request.
func forPath(err error, path string) error {
	e, ok := err.(*Error)
	if !ok || e.Path == path {
		return err
	}
	c := *e
	c.Path = path
	return &c
}

// readFullAt fills p from src at off; a source shorter than that is an
// error (io.ErrUnexpectedEOF).
func readFullAt(src io.ReaderAt, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	n, err := src.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}
