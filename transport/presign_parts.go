package transport

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// maxParts is the most parts the server accepts for one upload.
const maxParts = 10000

// partSizeFor is the part size of a file of size bytes: wire.PartSize, or
// for a file that would need more than maxParts parts, the smallest whole
// number of MiB that fits it in maxParts.
func partSizeFor(size int64) int64 {
	ps := int64(wire.PartSize)
	if (size+ps-1)/ps > maxParts {
		ps = (size + maxParts - 1) / maxParts
		ps = (ps + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return ps
}

// partURLs holds the current part URLs of one presigned upload, and
// renews them (a new presign under the same upload id) when they expire.
type partURLs struct {
	c        *Client
	u        Upload
	partSize int64

	mu      sync.Mutex // protects the fields below; never held across a request
	parts   []wire.PresignedPart
	expires time.Time // on the local clock; zero = unknown (used until refused)
	gen     int       // counts presigns

	renew singleflight.Group // one renewal at a time, shared by the parts in flight
}

// layout returns the parts' ranges (the same in every generation).
func (pu *partURLs) layout() []wire.SyncByteRange {
	pu.mu.Lock()
	defer pu.mu.Unlock()
	out := make([]wire.SyncByteRange, len(pu.parts))
	for i, p := range pu.parts {
		out[i] = p.Range
	}
	return out
}

// get returns part i's URL and its generation, renewing the URLs when
// they are near expiry or when generation bad was refused (0: none).
func (pu *partURLs) get(ctx context.Context, i, bad int) (wire.PresignedPart, int, error) {
	if part, gen, ok := pu.current(i, bad); ok {
		return part, gen, nil
	}
	ch := pu.renew.DoChan("", func() (any, error) {
		if _, _, ok := pu.current(i, bad); ok {
			return nil, nil // renewed while this caller waited
		}
		// Detached from one part's cancellation, bounded by RequestTimeout.
		return nil, pu.fetch(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return wire.PresignedPart{}, 0, r.Err
		}
	case <-ctx.Done():
		return wire.PresignedPart{}, 0, ctxFailure(ctx, "upload part", pu.u.Path)
	}
	pu.mu.Lock()
	defer pu.mu.Unlock()
	return pu.parts[i], pu.gen, nil
}

// current returns part i's URL if it may be used.
func (pu *partURLs) current(i, bad int) (wire.PresignedPart, int, bool) {
	pu.mu.Lock()
	defer pu.mu.Unlock()
	ok := pu.gen != bad && (pu.expires.IsZero() || time.Until(pu.expires) > refreshMargin)
	return pu.parts[i], pu.gen, ok
}

// fetch is one presign exchange; it installs the URLs it answers.
func (pu *partURLs) fetch(ctx context.Context) error {
	parts, expires, err := pu.c.presign(ctx, pu.u.Path, pu.u.UploadID, pu.u.Size, pu.partSize)
	if err != nil {
		return err
	}
	pu.mu.Lock()
	defer pu.mu.Unlock()
	if pu.parts != nil && len(pu.parts) != len(parts) {
		return &Error{Code: CodeProtocol, Op: "presign", Path: pu.u.Path, Message: "renewed URLs have another layout"}
	}
	pu.parts, pu.expires = parts, expires
	pu.gen++
	return nil
}

// presign is one presign exchange: the part URLs of upload id of path laid
// out as size bytes in parts of partSize, and their expiry on the local
// clock (zero when the server gives none).
func (c *Client) presign(ctx context.Context, path, id string, size, partSize int64) ([]wire.PresignedPart, time.Time, error) {
	p, enc := encodePath(path)
	req := wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{{Type: wire.WritePresign, Path: p, PathEncoding: enc,
		UploadID: id, Size: &size, PartSize: partSize}}}
	x, err := c.apiCall("presign", path, http.MethodPost, wire.SuffixSync, req)
	if err != nil {
		return nil, time.Time{}, err
	}
	var resp wire.SyncWriteResponse
	hdr, err := c.doJSON(ctx, x, &resp)
	received := time.Now()
	if err != nil {
		return nil, time.Time{}, err
	}
	if len(resp.Results) != 1 {
		return nil, time.Time{}, &Error{Code: CodeProtocol, Op: x.op, Path: path, Message: "want one result"}
	}
	r := resp.Results[0]
	if r.Error != nil {
		return nil, time.Time{}, bodyError(*r.Error, 0, x.op, path)
	}
	if err := checkLayout(r.Parts, size, partSize); err != nil {
		return nil, time.Time{}, &Error{Code: CodeProtocol, Op: x.op, Path: path, Err: err}
	}
	return r.Parts, localExpiry(r.ExpiresAt, hdr.Get("Date"), received), nil
}

// checkLayout checks that parts, in order, cover size bytes in pieces of
// partSize (the last one shorter), each with a URL.
func checkLayout(parts []wire.PresignedPart, size, partSize int64) error {
	if want := (size + partSize - 1) / partSize; int64(len(parts)) != want {
		return fmt.Errorf("%d parts for %d bytes in parts of %d", len(parts), size, partSize)
	}
	var off int64
	for i, p := range parts {
		want := min(partSize, size-off)
		if p.Range.Offset != off || p.Range.Length != want || p.URL == "" {
			return fmt.Errorf("part %d (#%d) is %d+%d, want %d+%d with a URL", i, p.Part, p.Range.Offset, p.Range.Length, off, want)
		}
		off += want
	}
	return nil
}
