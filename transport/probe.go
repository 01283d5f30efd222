package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// RangeSupport says whether presigned GETs honour Range.
type RangeSupport int

// Range support values.
const (
	RangeUnknown  RangeSupport = iota // not tested (no presigned file at hand)
	RangeHonoured                     // 206 with the range asked for
	RangeIgnored                      // 200 with the whole file: files are fetched whole
)

func (r RangeSupport) String() string {
	switch r {
	case RangeHonoured:
		return "honoured"
	case RangeIgnored:
		return "ignored"
	}
	return "unknown"
}

// Capabilities is what Probe found the service offers.
type Capabilities struct {
	Lineage    wire.Lineage // LineageA (typed errors), LineageB (flat errors), "" when not told
	SyncStream bool         // POST /sync-stream exists: raw and tar uploads go there
	Sessions   bool         // a run in the client's own session index worked
	SessionID  string       // that session's id
	Range      RangeSupport // Range on presigned GETs
	Problems   []string     // probes that failed, in words
}

// Probe asks the service what it offers, for `arkerfs doctor`:
//
//   - the lineage, from the error form of a harmless bad request (a sync
//     read of a relative path: typed envelope with request_id → A, flat
//     envelope → B);
//   - /sync-stream, from a valid raw upload of an empty file to a
//     temporary name in /tmp (200: the route exists; 404, or 422
//     unsupported_operation: it does not);
//   - sessions, from a run in the client's own session pool that removes
//     that file;
//   - Range on presigned GETs, from a one-byte ranged GET of presignedPath
//     when it is given and answered with a presigned URL.
//
// It leaves nothing on the VM (but a shell in one of arkerfs's sessions),
// sends only requests the published API declares, and teaches the client
// what it learns (as its requests would). The error is for a failure that stops everything (a bad key, an
// unknown VM); the failure of one probe is in Problems.
func (c *Client) Probe(ctx context.Context, presignedPath string) (*Capabilities, error) {
	caps := &Capabilities{}
	lineage, err := c.probeLineage(ctx)
	if err != nil {
		return nil, err
	}
	caps.Lineage = lineage
	tmp := tarTempDir + "/" + tempPrefix + "probe-" + newULID() + tempSuffix
	if caps.SyncStream, err = c.probeStream(ctx, tmp); err != nil {
		caps.Problems = append(caps.Problems, "sync-stream: "+err.Error())
	}
	if r, err := c.Run(ctx, "rm -f -- "+shellQuote(tmp), RunOptions{Timeout: 30 * time.Second}); err != nil {
		caps.Problems = append(caps.Problems, "sessions: "+err.Error())
	} else {
		caps.Sessions, caps.SessionID = r.ExitCode == 0, r.SessionID
	}
	if presignedPath != "" {
		if caps.Range, err = c.probeRange(ctx, presignedPath); err != nil {
			caps.Problems = append(caps.Problems, "range: "+err.Error())
		}
	}
	return caps, nil
}

// probeLineage tells the lineage by the form of a bad_request.
func (c *Client) probeLineage(ctx context.Context) (wire.Lineage, error) {
	x, err := c.apiCall("probe", "", http.MethodPost, wire.SuffixSync, wire.SyncReadRequest{Op: wire.OpRead, Path: "arkerfs-probe"})
	if err != nil {
		return "", err
	}
	status, body, err := c.rawCall(ctx, x)
	if err != nil {
		return "", err
	}
	if status/100 == 2 {
		return "", nil
	}
	if status == http.StatusUnauthorized || status == http.StatusNotFound {
		return "", answerError(status, http.Header{}, body, x.op, "")
	}
	var env struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return "", nil
	}
	_, reqID := env.Error["request_id"]
	_, req := env.Error["request"]
	if reqID || req {
		return wire.LineageA, nil
	}
	return wire.LineageB, nil
}

// probeStream tells whether /sync-stream exists, with a valid request
// that does next to nothing: an empty file written to the temporary path
// tmp (the caller removes it).
func (c *Client) probeStream(ctx context.Context, tmp string) (bool, error) {
	_, err := c.stream(ctx, "probe", tmp, nil, 0, "", "")
	var e *Error
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &e) && e.answered && routeAbsent(e):
		return false, nil
	}
	return false, err
}

// probeRange asks one byte of a presigned file with Range.
func (c *Client) probeRange(ctx context.Context, p string) (RangeSupport, error) {
	o, err := c.Open(ctx, p)
	if err != nil {
		return RangeUnknown, err
	}
	defer o.Release()
	if o.Inline != nil || o.Size < 2 {
		return RangeUnknown, fmt.Errorf("%q is answered inline: give a larger file", p)
	}
	a, err := c.presignedGet(ctx, o, "bytes=1-1")
	if err != nil {
		return RangeUnknown, err
	}
	defer a.Close()
	if a.StatusCode == http.StatusPartialContent {
		c.rangeMode.CompareAndSwap(rangeUnknown, rangeHonoured)
		return RangeHonoured, nil
	}
	c.rangeMode.Store(rangeIgnored)
	return RangeIgnored, nil
}

// rawCall performs x once and returns the status and (the start of) the
// body, whatever the status.
func (c *Client) rawCall(ctx context.Context, x *exchange) (int, []byte, error) {
	a, err := c.send(ctx, x)
	if err != nil {
		return 0, nil, err
	}
	defer a.Close()
	b, err := io.ReadAll(io.LimitReader(a.Body, maxErrorBody))
	if err != nil {
		return 0, nil, a.fail(err)
	}
	return a.StatusCode, b, nil
}
