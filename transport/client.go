// Package transport is the Arker client: it speaks the published Arker
// HTTP API (package wire; docs/PROTOCOL.md) and nothing else.
//
//   - Configuration and routing as the SDKs (config.go); bearer auth.
//   - Errors: every error envelope of both API lineages and of older
//     servers decoded into one *Error, every wire code mapped once
//     (errors.go, errmap.go); the SDKs' retry rules for requests that are
//     safe to repeat, and CodeUnknownOutcome for the rest (retry.go).
//   - Runs on POST /runs with an Idempotency-Key, 200 or 202 and polling,
//     in a pool of arkerfs's own sessions, never the VM's default one
//     (run.go, sessions.go).
//   - Metadata through the helper, a fixed POSIX-sh script sent as a run
//     (meta*.go, package helper).
//   - Uploads as chunk writes (or /sync-stream where the server has it)
//     to a temporary name, put in place by one helper run (upload.go,
//     chunks.go, stream.go, install.go); tar uploads (tar.go).
//   - Reads inline or through presigned URLs, ranged when the server
//     honours Range, else fetched whole into a spill file (sync_read.go,
//     read_at.go, spill.go); manifests (manifest.go); capability probing
//     (probe.go).
//
// It knows nothing of inodes or caching. Every exchange is bounded: API
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
	"sync/atomic"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// Client talks to one VM. It is safe for concurrent use.
type Client struct {
	cfg      Config
	base     string // resolved API base URL, no trailing slash
	http     *http.Client
	retry    retrier
	sessions *sessionPool
	fast     fastPath // a MetaServer that answers some metadata without runs

	// What the client learnt of the server; each only ever moves one way.
	noStream  atomic.Bool  // POST /sync-stream answered 404: the route is absent
	streamMax atomic.Int64 // the smallest /sync-stream body refused with 413 (0 = none)
	rangeMode atomic.Int32 // rangeUnknown, rangeHonoured or rangeIgnored
}

// New validates cfg, fills in its defaults and builds a client.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.APIKey == "" {
		return nil, errors.New("no API key: set ARKER_API_KEY (or AUTH_KEY)")
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
	c.sessions = newSessionPool(cfg.SessionBase, cfg.Sessions)
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
	return c.base + wire.PathVMs + url.PathEscape(c.cfg.VMID) + suffix
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
	ID       string
	Name     string
	State    string // wire.VMIdle or wire.VMRunning: whether a command is in flight, not whether it is awake
	Region   string
	Provider string
	Hostname string // the VM's inbound hostname, "" when none
}

// DescribeVM asks the API about the VM: the one call that proves the key
// and the VM id (unknown VM: CodeNotFound; bad key: CodeUnauthorized). It
// changes nothing and is retried as any GET.
func (c *Client) DescribeVM(ctx context.Context) (*VMInfo, error) {
	x, err := c.apiCall("describe VM", "", http.MethodGet, "", nil)
	if err != nil {
		return nil, err
	}
	var vm wire.VM
	err = c.retry.do(ctx, x.op, true, func(ctx context.Context) error {
		_, err := c.doJSON(ctx, x, &vm)
		return err
	})
	if err != nil {
		return nil, err
	}
	info := &VMInfo{ID: vm.VMID, Name: vm.Name, State: vm.State, Region: vm.Region, Provider: vm.Provider}
	if vm.Hostname != nil {
		info.Hostname = *vm.Hostname
	}
	return info, nil
}
