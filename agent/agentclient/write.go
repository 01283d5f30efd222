package agentclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport"
)

// WriteSpans changes the existing file path in place: cut to low, the
// spans ({offset, length}) written with src's bytes, cut or extended to
// size (transport.RangeWriter). It sends requests of at most
// proto.MaxWrite bytes and proto.MaxSpans spans: the first cuts, the
// last sets the size. Every step can be repeated, so a failed call may be
// made again, or replaced by a whole upload.
func (c *Conn) WriteSpans(ctx context.Context, path string, low, size int64, spans [][2]int64, src io.ReaderAt) (transport.Attr, error) {
	reqs := splitWrites(path, low, size, spans)
	var attr transport.Attr
	for _, req := range reqs {
		var err error
		if attr, err = c.writeOnce(ctx, req, src); err != nil {
			return transport.Attr{}, err
		}
	}
	return attr, nil
}

// splitWrites cuts a change of path into requests within the protocol's
// bounds, a span longer than proto.MaxWrite into several.
func splitWrites(path string, low, size int64, spans [][2]int64) []proto.WriteRequest {
	cur := proto.WriteRequest{Path: []byte(path), TruncateTo: &low}
	var out []proto.WriteRequest
	var bytes int64
	for _, sp := range spans {
		for off, n := sp[0], sp[1]; n > 0; {
			if bytes == proto.MaxWrite || len(cur.Spans) == proto.MaxSpans {
				out = append(out, cur)
				cur, bytes = proto.WriteRequest{Path: []byte(path)}, 0
			}
			take := min(n, proto.MaxWrite-bytes)
			cur.Spans = append(cur.Spans, [2]int64{off, take})
			bytes += take
			off, n = off+take, n-take
		}
	}
	cur.Size = &size
	return append(out, cur)
}

// writeOnce is one POST /v1/write of req's spans, read from src.
func (c *Conn) writeOnce(ctx context.Context, req proto.WriteRequest, src io.ReaderAt) (transport.Attr, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	head, err := json.Marshal(req)
	if err != nil {
		return transport.Attr{}, fmt.Errorf("agent: encoding the request: %w", err)
	}
	head = append(head, '\n')
	parts := []io.Reader{bytes.NewReader(head)}
	length := int64(len(head))
	for _, sp := range req.Spans {
		parts = append(parts, io.NewSectionReader(src, sp[0], sp[1]))
		length += sp[1]
	}
	resp, err := c.sendBody(ctx, http.MethodPost, proto.PathWrite, io.MultiReader(parts...), length, "application/octet-stream")
	if err != nil {
		return transport.Attr{}, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		var res proto.WriteResult
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return transport.Attr{}, fmt.Errorf("agent: reading the answer: %w", err)
		}
		if err := json.Unmarshal(b, &res); err != nil {
			return transport.Attr{}, fmt.Errorf("agent: undecodable answer to a write: %w", err)
		}
		return res.Attr, nil
	case http.StatusConflict:
		return transport.Attr{}, failureOf(resp, "write", string(req.Path))
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return transport.Attr{}, statusError(http.MethodPost, proto.PathWrite, resp, b)
	}
}

// Conn changes files in place as well.
var _ transport.RangeWriter = (*Conn)(nil)
