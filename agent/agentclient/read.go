package agentclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport"
)

// ReadRange reads len(p) bytes of the file path at off, fewer only where
// it ends, if it is of size bytes (and of mtime mtimeNs, when not 0):
// transport.RangeReader, in requests of at most proto.MaxRead bytes.
func (c *Conn) ReadRange(ctx context.Context, path string, p []byte, off, size, mtimeNs int64) (int, error) {
	n := 0
	for n < len(p) {
		chunk := p[n:min(len(p), n+proto.MaxRead)]
		got, err := c.readOnce(ctx, proto.ReadRequest{Path: []byte(path), Offset: off + int64(n), Length: int64(len(chunk)), Size: size, MtimeNs: mtimeNs}, chunk)
		n += got
		if err != nil || got < len(chunk) {
			return n, err
		}
	}
	return n, nil
}

// readOnce is one POST /v1/read into p. A 409 answer is the file's
// failure, as a *transport.Error.
func (c *Conn) readOnce(ctx context.Context, req proto.ReadRequest, p []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.send(ctx, http.MethodPost, proto.PathRead, req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		n, err := readBody(resp.Body, p)
		if err != nil {
			return n, fmt.Errorf("agent: reading %d bytes of %q: %w", len(p), req.Path, err)
		}
		return n, nil
	case http.StatusConflict:
		return 0, failureOf(resp, "read", string(req.Path))
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return 0, statusError(http.MethodPost, proto.PathRead, resp, b)
	}
}

// failureOf is the *transport.Error of a 409 answer: the file's failure.
func failureOf(resp *http.Response, op, path string) error {
	var f proto.Failure
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(b, &f); err != nil || f.Errno == "" {
		return fmt.Errorf("agent: undecodable failure of a %s: %q", op, b)
	}
	return &transport.Error{Code: transport.CodeForErrno(f.Errno), Op: op, Path: path, Message: f.Errno + ": " + f.Message}
}

// readBody reads a body into p, to its end: fewer bytes only when the
// body ends cleanly (a cut one is an error, io.ErrUnexpectedEOF), and a
// body longer than p is an error.
func readBody(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	if m, _ := r.Read(make([]byte, 1)); m > 0 {
		return n, errors.New("the answer is longer than asked")
	}
	return n, nil
}

// Conn reads ranges as well as metadata.
var _ transport.RangeReader = (*Conn)(nil)
