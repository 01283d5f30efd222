// Package transport is the Arker client: configuration and routing, bearer
// auth, typed errors, retries with backoff, sync reads (inline and through
// presigned ranged GETs), sync writes (chunk batches and parallel presigned
// multipart uploads) and runs, plus the metadata helper run through them.
// It knows nothing of inodes; every wire name lives in transport/wire.
//
// Every failure is an *Error (errors.go). Every exchange is bounded: API
// calls by Config.RequestTimeout, runs by their own timeout plus a margin,
// and body transfers of any size by a watchdog that cuts them when no byte
// moves for Config.TransferStall (watchdog.go).
package transport

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// Client talks to one VM. It is safe for concurrent use.
type Client struct {
	cfg   Config
	base  string // resolved API base URL, no trailing slash
	http  *http.Client
	retry retrier
}

// New validates cfg, fills in its defaults and builds a client.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.APIKey == "" {
		return nil, errors.New("no API key: set ARKER_API_KEY (or AUTH_KEY) or pass --api-key-file")
	}
	if cfg.VMID == "" {
		return nil, errors.New("no VM id given")
	}
	base, err := cfg.Endpoint()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, base: base, http: &http.Client{Transport: newHTTPTransport()}}
	c.retry = retrier{policy: cfg.Retry, logf: c.debugf}
	return c, nil
}

// newHTTPTransport is the one transport a client shares among all its
// requests, tuned for many parallel transfers to one host: HTTP/1.1 with
// keep-alive (one TCP connection per transfer in flight rather than
// HTTP/2 streams sharing one window), enough idle connections kept for a
// full parallel upload or read-ahead, large buffers, and no transparent
// compression (ranges of binary files).
func newHTTPTransport() *http.Transport {
	var protos http.Protocols
	protos.SetHTTP1(true)
	return &http.Transport{
		Protocols:             &protos,
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        256 << 10,
	}
}

// Close releases the client's idle connections. A client is still usable
// after Close (new connections are made as needed).
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Config returns the client's configuration, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// debugf logs through Config.Debug. Nothing logged carries the key or a
// presigned URL's token.
func (c *Client) debugf(format string, args ...any) {
	if c.cfg.Debug != nil {
		c.cfg.Debug(format, args...)
	}
}

// vmURL is the URL of a per-VM endpoint; the VM id is one escaped segment.
func (c *Client) vmURL(suffix string) string {
	return c.base + wire.PathVM + url.PathEscape(c.cfg.VMID) + suffix
}

// apiCall is an exchange with the API proper: bearer auth, a JSON body,
// bounded by RequestTimeout as a whole.
func (c *Client) apiCall(op, path, method, suffix string, body any) (*exchange, error) {
	x := &exchange{op: op, path: path, method: method, url: c.vmURL(suffix), limit: c.cfg.RequestTimeout}
	if body != nil {
		b, err := jsonBody(body)
		if err != nil {
			return nil, &Error{Code: CodeInvalid, Op: op, Path: path, Err: err}
		}
		x.body, x.json = b, true
	}
	return x, nil
}

// VMInfo is what GET /v1/vms/{id} says about the VM.
type VMInfo struct {
	ID    string
	Name  string
	State string
}

// DescribeVM asks the API about the VM: the one call that proves the key
// and the VM id (unknown VM: CodeNotFound; bad key: CodeUnauthorized).
func (c *Client) DescribeVM(ctx context.Context) (*VMInfo, error) {
	x, err := c.apiCall("describe VM", "", http.MethodGet, "", nil)
	if err != nil {
		return nil, err
	}
	var vm wire.VM
	err = c.retry.do(ctx, x.op, func(ctx context.Context) error {
		_, err := c.doJSON(ctx, x, &vm)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &VMInfo{ID: vm.VMID, Name: vm.Name, State: vm.State}, nil
}
