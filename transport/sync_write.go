package transport

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Upload is one file to write whole. The content is read from Source at
// offsets 0..Size. UploadID must be stable across retries of one logical
// write (a fresh random id per flush); the server is idempotent on it.
// Mode nil keeps an existing file's mode (0644 for a new one).
type Upload struct {
	Path     string
	UploadID string
	Size     int64
	Mode     *uint32
	Source   io.ReaderAt
}

// UploadResult is the outcome of one Upload; Err is nil on success.
type UploadResult struct {
	Path    string
	Size    int64
	SHA256  string
	Version string
	MtimeNs int64
	Ino     uint64
	Err     error
}

// perEntryOverhead bounds the JSON around one chunk entry's data.
const perEntryOverhead = 1024

// Upload writes files whole. Files up to wire.ChunkSize go inline, as
// many to a sync request as fit; larger files go by presigned multipart
// PUT with parts in parallel. Each file succeeds or fails alone.
func (c *Client) Upload(ctx context.Context, ups []Upload) []UploadResult {
	res := make([]UploadResult, len(ups))
	var batch []int
	size := 0
	flush := func() {
		if len(batch) > 0 {
			c.uploadInline(ctx, ups, batch, res)
			batch, size = nil, 0
		}
	}
	for i, u := range ups {
		res[i].Path = u.Path
		if u.Size > wire.ChunkSize {
			res[i] = c.uploadLarge(ctx, u)
			continue
		}
		need := int(u.Size)*4/3 + 4 + perEntryOverhead + len(u.Path)*2
		if size+need > wire.MaxSyncBody {
			flush()
		}
		batch = append(batch, i)
		size += need
	}
	flush()
	return res
}

// uploadInline sends the files ups[idx] in one sync write request, one
// final chunk entry each.
func (c *Client) uploadInline(ctx context.Context, ups []Upload, idx []int, res []UploadResult) {
	req := wire.SyncWriteRequest{}
	var sent []int
	for _, i := range idx {
		u := ups[i]
		buf := make([]byte, u.Size)
		if _, err := u.Source.ReadAt(buf, 0); err != nil && err != io.EOF {
			res[i].Err = &Error{Code: CodeIO, Op: "upload", Path: u.Path, Message: "reading staged data", Err: err}
			continue
		}
		sum := sha256.Sum256(buf)
		p, enc := encodePath(u.Path)
		size := u.Size
		req.Writes = append(req.Writes, wire.SyncWriteEntry{Type: wire.WriteChunk, Path: p, PathEncoding: enc,
			UploadID: u.UploadID, Data: base64.StdEncoding.EncodeToString(buf), Encoding: wire.EncodingBase64,
			Final: true, Size: &size, SHA256: hex.EncodeToString(sum[:]), Mode: u.Mode})
		sent = append(sent, i)
	}
	if len(sent) == 0 {
		return
	}
	var resp wire.SyncWriteResponse
	err := c.retry(ctx, true, func(ctx context.Context) error {
		return c.do(ctx, call{op: "sync write", path: ups[sent[0]].Path, method: http.MethodPost,
			url: c.vmURL(wire.SuffixSync), body: req, timeout: c.bodyTimeout(int64(wire.MaxSyncBody))}, &resp)
	})
	for k, i := range sent {
		switch {
		case err != nil:
			res[i].Err = err
		case k >= len(resp.Results):
			res[i].Err = &Error{Code: CodeProtocol, Op: "upload", Path: ups[i].Path, Message: "missing result"}
		default:
			res[i] = writeResult(ups[i].Path, resp.Results[k])
		}
	}
}

// bodyTimeout bounds an exchange that carries n body bytes: the request
// timeout plus time for the bytes at a pessimistic 1 MiB/s.
func (c *Client) bodyTimeout(n int64) (d timeDuration) {
	return c.cfg.RequestTimeout + timeDuration(n>>20)*timeSecond
}

// writeResult turns one wire result into an UploadResult.
func writeResult(path string, r wire.SyncWriteResult) UploadResult {
	out := UploadResult{Path: path, Size: r.Size, SHA256: r.SHA256, Version: r.Version, MtimeNs: r.MtimeNs, Ino: r.Ino}
	if r.Error != nil {
		out.Err = bodyError(*r.Error, 0, "upload", path)
	} else if !r.Committed {
		out.Err = &Error{Code: CodeProtocol, Op: "upload", Path: path, Message: "the server did not commit the upload"}
	}
	return out
}

// hashSource computes the sha256 of a source's first size bytes.
func hashSource(src io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(src, 0, size)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var _ = fmt.Sprintf
