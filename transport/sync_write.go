package transport

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Upload is one file to write whole. The content is read from Source at
// offsets 0..Size. UploadID must be stable across retries of one logical
// write (a fresh random id per flush): the server is idempotent on it, so
// a retried write lands once and never overwrites a later one. Mode nil
// keeps an existing file's mode (0644 for a new one).
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
	SHA256  string // lowercase hex of the content written
	Version string // what a sync read of the file answers next
	MtimeNs int64
	Ino     uint64
	Err     error
}

// maxBatchEntries bounds the files of one sync write request, so that the
// server's answer does not wait on thousands of commits.
const maxBatchEntries = 1024

// Upload writes files whole and returns one result per file, in order; a
// file's failure does not fail the others. Files of at most wire.ChunkSize
// go as one final chunk entry each, packed into as few sync requests as fit
// under wire.MaxSyncBody. Larger files go by presigned multipart upload:
// presign, parts PUT in parallel (Config.MaxParallel), commit with the
// sha256. Requests are retried under the same upload ids with the same
// bytes. Memory stays bounded: one request body for small files, at most
// MaxParallel parts for a large one.
func (c *Client) Upload(ctx context.Context, ups []Upload) []UploadResult {
	res := make([]UploadResult, len(ups))
	var small, large []int
	for i, u := range ups {
		res[i].Path = u.Path
		switch err := checkUpload(u); {
		case err != nil:
			res[i].Err = err
		case u.Size <= wire.ChunkSize:
			small = append(small, i)
		default:
			large = append(large, i)
		}
	}
	for _, batch := range planBatches(ups, small) {
		c.uploadBatch(ctx, ups, batch, res)
	}
	for _, i := range large {
		res[i] = c.uploadLarge(ctx, ups[i])
	}
	return res
}

// checkUpload refuses an Upload the server could only refuse later.
func checkUpload(u Upload) error {
	msg := ""
	switch {
	case u.UploadID == "" || len(u.UploadID) > 256:
		msg = "upload id must have 1 to 256 bytes"
	case u.Size < 0:
		msg = "negative size"
	case u.Source == nil && u.Size > 0:
		msg = "no source"
	default:
		return nil
	}
	return &Error{Code: CodeInvalid, Op: "upload", Path: u.Path, Message: msg}
}

// envelope is the JSON around a sync write's entries: {"writes":[…]}.
const envelopeHead, envelopeTail = `{"writes":[`, `]}`

// planBatches packs the small uploads idx into requests under
// wire.MaxSyncBody, first fit by decreasing size: few requests, each
// planned from exact entry sizes.
func planBatches(ups []Upload, idx []int) [][]int {
	type bin struct {
		idx  []int
		size int
	}
	sizes := make(map[int]int, len(idx))
	for _, i := range idx {
		sizes[i] = entrySize(ups[i])
	}
	order := append([]int(nil), idx...)
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sizes[b], sizes[a]) })
	var bins []*bin
	for _, i := range order {
		var dst *bin
		for _, b := range bins {
			if len(b.idx) < maxBatchEntries && b.size+1+sizes[i] <= wire.MaxSyncBody {
				dst = b
				break
			}
		}
		if dst == nil {
			dst = &bin{size: len(envelopeHead) + len(envelopeTail) - 1}
			bins = append(bins, dst)
		}
		dst.idx = append(dst.idx, i)
		dst.size += 1 + sizes[i] // the entry and a comma (one too many counted above)
	}
	out := make([][]int, len(bins))
	for k, b := range bins {
		out[k] = b.idx
	}
	return out
}

// entrySize is the exact JSON size of u's chunk entry: the entry without
// its data, plus the base64 of Size bytes.
func entrySize(u Upload) int {
	e := chunkEntry(u, strings.Repeat("0", sha256.Size*2), "")
	if u.Size > 0 {
		e.Data = "A"
	}
	b, _ := json.Marshal(e)
	n := len(b)
	if u.Size > 0 {
		n += base64.StdEncoding.EncodedLen(int(u.Size)) - 1
	}
	return n
}

// chunkEntry is u as one final chunk entry.
func chunkEntry(u Upload, sum, data string) wire.SyncWriteEntry {
	p, enc := encodePath(u.Path)
	size := u.Size
	return wire.SyncWriteEntry{Type: wire.WriteChunk, Path: p, PathEncoding: enc, UploadID: u.UploadID,
		Data: data, Encoding: wire.EncodingBase64, Final: true, Size: &size, SHA256: sum, Mode: u.Mode}
}

// batchEntry is one file of a batch, ready to send.
type batchEntry struct {
	i    int    // index in ups
	json []byte // the marshalled entry
	sum  string
}

// uploadBatch sends the small files ups[idx] in one sync write request,
// and fills in their results. Entries that fail in a retryable way are
// sent again (alone with the others that did), under the retry policy.
func (c *Client) uploadBatch(ctx context.Context, ups []Upload, idx []int, res []UploadResult) {
	var pending []batchEntry
	for _, i := range idx {
		e, err := prepareEntry(ups[i])
		if err != nil {
			res[i].Err = err
			continue
		}
		e.i = i
		pending = append(pending, e)
	}
	if len(pending) == 0 {
		return
	}
	err := c.retry.do(ctx, "sync write", func(ctx context.Context) error {
		var err error
		pending, err = c.sendBatch(ctx, ups, pending, res)
		return err
	})
	for _, e := range pending {
		res[e.i] = UploadResult{Path: ups[e.i].Path, Err: forPath(err, ups[e.i].Path)}
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

// prepareEntry reads u and marshals its entry.
func prepareEntry(u Upload) (batchEntry, error) {
	data := make([]byte, u.Size)
	if err := readFullAt(u.Source, data, 0); err != nil {
		return batchEntry{}, &Error{Code: CodeIO, Op: "upload", Path: u.Path, Message: "reading the source", Err: err}
	}
	s := sha256.Sum256(data)
	sum := hex.EncodeToString(s[:])
	b, err := json.Marshal(chunkEntry(u, sum, base64.StdEncoding.EncodeToString(data)))
	if err != nil {
		return batchEntry{}, &Error{Code: CodeInvalid, Op: "upload", Path: u.Path, Err: err}
	}
	return batchEntry{json: b, sum: sum}, nil
}

// sendBatch is one sync write exchange carrying entries. It records the
// results that are final and returns the entries to send again, with the
// error of one of them (nil when none is left).
func (c *Client) sendBatch(ctx context.Context, ups []Upload, entries []batchEntry, res []UploadResult) ([]batchEntry, error) {
	var body bytes.Buffer
	body.WriteString(envelopeHead)
	for k, e := range entries {
		if k > 0 {
			body.WriteByte(',')
		}
		body.Write(e.json)
	}
	body.WriteString(envelopeTail)
	x := &exchange{op: "sync write", path: ups[entries[0].i].Path, method: http.MethodPost,
		url: c.vmURL(wire.SuffixSync), body: body.Bytes(), json: true}
	var resp wire.SyncWriteResponse
	if _, err := c.doJSON(ctx, x, &resp); err != nil {
		return entries, err
	}
	if len(resp.Results) != len(entries) {
		return entries, &Error{Code: CodeProtocol, Op: x.op, Path: x.path, Message: "the answer's results do not match the entries"}
	}
	var again []batchEntry
	var againErr error
	for k, r := range resp.Results {
		e := entries[k]
		out := writeResult(ups[e.i], e.sum, r)
		if out.Err != nil && IsRetryable(out.Err) {
			again, againErr = append(again, e), out.Err
			continue
		}
		res[e.i] = out
	}
	return again, againErr
}

// writeResult checks a committed write's result against what was sent.
func writeResult(u Upload, sum string, r wire.SyncWriteResult) UploadResult {
	out := UploadResult{Path: u.Path, Size: r.Size, SHA256: r.SHA256, Version: r.Version, MtimeNs: r.MtimeNs, Ino: r.Ino}
	bad := func(msg string) UploadResult {
		out.Err = &Error{Code: CodeProtocol, Op: "upload", Path: u.Path, Message: msg}
		return out
	}
	switch {
	case r.Error != nil:
		out.Err = bodyError(*r.Error, 0, "upload", u.Path)
		return out
	case !r.Committed:
		return bad("the server did not commit the upload")
	case r.UploadID != "" && r.UploadID != u.UploadID:
		return bad("the result is for another upload id")
	case r.Size != u.Size:
		return bad("the server committed another size")
	case r.SHA256 != "" && !strings.EqualFold(r.SHA256, sum):
		// The id was committed before with other bytes: a reused id.
		out.Err = &Error{Code: CodeConflict, Op: "upload", Path: u.Path,
			Message: "upload id " + u.UploadID + " was committed with other content"}
		return out
	}
	out.SHA256 = sum
	return out
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
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
