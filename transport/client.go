// Package transport is the Arker client: configuration and routing, bearer
// auth, typed errors, retries with backoff, sync reads (inline and through
// presigned ranged GETs), sync writes (chunk batches and parallel presigned
// multipart uploads) and runs, plus the metadata helper run through them.
// It knows nothing of inodes; every wire name lives in transport/wire.
package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Client talks to one VM. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base string // resolved API base URL, no trailing slash
	http *http.Client
}

// New validates cfg and builds a client.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.APIKey == "" {
		return nil, errors.New("no API key: set ARKER_API_KEY (or AUTH_KEY), or pass --api-key-file")
	}
	if cfg.VMID == "" {
		return nil, errors.New("no VM id given")
	}
	base, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0, // bounded by each request's context
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Client{cfg: cfg, base: base, http: &http.Client{Transport: tr}}, nil
}

// Config returns the client's configuration (with defaults filled in).
func (c *Client) Config() Config { return c.cfg }

func (c *Client) debugf(format string, args ...any) {
	if c.cfg.Debug != nil {
		c.cfg.Debug(format, args...)
	}
}

// vmURL is the URL of a per-VM endpoint.
func (c *Client) vmURL(suffix string) string {
	return c.base + wire.PathVM + url.PathEscape(c.cfg.VMID) + suffix
}

// call is one JSON exchange with the API.
type call struct {
	op, path string // for errors: what and which VM path
	method   string
	url      string
	body     any               // marshalled as JSON when non-nil
	header   map[string]string // extra headers
	timeout  time.Duration     // 0 = cfg.RequestTimeout
}

// do performs one attempt of c and decodes a 2xx answer into out.
func (cl *Client) do(ctx context.Context, c call, out any) error {
	timeout := c.timeout
	if timeout == 0 {
		timeout = cl.cfg.RequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return &Error{Code: CodeProtocol, Op: c.op, Path: c.path, Err: fmt.Errorf("encoding request: %w", err)}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, body)
	if err != nil {
		return &Error{Code: CodeBadRequest, Op: c.op, Path: c.path, Err: err}
	}
	req.Header.Set(wire.HeaderAuthorization, "Bearer "+cl.cfg.APIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := cl.http.Do(req)
	if err != nil {
		cl.debugf("%s %s: %v", c.method, c.op, err)
		return netError(ctx, c.op, c.path, err)
	}
	defer resp.Body.Close()
	cl.debugf("%s %s → %d in %v", c.method, c.op, resp.StatusCode, time.Since(start).Round(time.Millisecond))
	if resp.StatusCode/100 != 2 {
		return statusError(resp, c.op, c.path)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return netError(ctx, c.op, c.path, err)
		}
		return &Error{Code: CodeNetworkError, Op: c.op, Path: c.path, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	return nil
}

// netError classifies a failure to get an answer.
func netError(ctx context.Context, op, path string, err error) error {
	switch {
	case errors.Is(context.Cause(ctx), errStalled):
		return &Error{Code: CodeTimeout, Op: op, Path: path, Message: "transfer stalled", Err: errStalled}
	case errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled):
		return &Error{Code: CodeNetworkError, Op: op, Path: path, Message: "cancelled", Err: context.Canceled}
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeTimeout, Op: op, Path: path, Message: "timed out", Err: err}
	}
	return &Error{Code: CodeNetworkError, Op: op, Path: path, Err: err}
}

// errStalled cancels a transfer that stopped making progress.
var errStalled = errors.New("no progress within the stall limit")

// statusError reads an error answer: {code, message, errno} when the body
// is JSON, else a code from the status alone.
func statusError(resp *http.Response, op, path string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb wire.ErrorBody
	if json.Unmarshal(b, &eb) != nil || eb.Code == "" {
		eb.Code = codeForStatus(resp.StatusCode)
		eb.Message = http.StatusText(resp.StatusCode)
	}
	return bodyError(eb, resp.StatusCode, op, path)
}

// bodyError turns an error body into an *Error; an errno names the file
// condition more precisely than the API code.
func bodyError(eb wire.ErrorBody, status int, op, path string) *Error {
	code := Code(eb.Code)
	if eb.Errno != "" {
		if fc := CodeForErrno(eb.Errno); fc != CodeIO || eb.Errno == "EIO" {
			code = fc
		}
	}
	return &Error{Code: code, Message: eb.Message, Status: status, Op: op, Path: path}
}

func codeForStatus(status int) string {
	switch {
	case status == 400 || status == 416:
		return wire.CodeBadRequest
	case status == 401:
		return wire.CodeUnauthorized
	case status == 403:
		return wire.CodeForbidden
	case status == 404:
		return wire.CodeNotFound
	case status == 409 || status == 412:
		return wire.CodeConflict
	case status == 413:
		return wire.CodePayloadTooLarge
	case status == 429:
		return wire.CodeResourcePressure
	case status == 501:
		return wire.CodeNotImplemented
	case status == 503:
		return wire.CodeUnavailable
	case status >= 500:
		return wire.CodeInternal
	}
	return wire.CodeBadRequest
}

// DescribeVM asks the API about the VM: the one call that proves the key
// and the VM id.
func (c *Client) DescribeVM(ctx context.Context) (*VMInfo, error) {
	var vm wire.VM
	err := c.retry(ctx, true, func(ctx context.Context) error {
		return c.do(ctx, call{op: "describe VM", method: http.MethodGet, url: c.vmURL("")}, &vm)
	})
	if err != nil {
		return nil, err
	}
	return &VMInfo{ID: vm.VMID, Name: vm.Name, State: vm.State}, nil
}

// VMInfo is what GET /v1/vms/{id} says about the VM.
type VMInfo struct {
	ID    string
	Name  string
	State string
}
