// Package agentclient is the client side of the arkerfs agent: it installs
// and starts the agent on the VM through the Arker API (install.go) and
// then answers metadata operations through it (conn.go), as the
// transport.MetaServer of the mount's client. docs/AGENT.md describes both
// ends.
package agentclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// requestTimeout bounds one request to the agent when the caller's
// context does not end sooner.
const requestTimeout = 30 * time.Second

// maxAnswer bounds the body of an agent's answer that is read.
const maxAnswer = 256 << 20

// Conn is a connection to the agent through the VM's inbound hostname. It
// is safe for concurrent use.
type Conn struct {
	base   string // scheme://hostname-port
	http   *http.Client
	apiKey string // for the VM's ingress
	mount  string // the mount's id
	secret string // the mount's secret, for the agent
}

// dialer connects to addr for every host when addr is set (the emulator
// serves the VM's ingress on its own address), else as usual.
func dialer(addr string) func(ctx context.Context, network, host string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if addr == "" {
		return d.DialContext
	}
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
}

func newConn(base, dial, apiKey, mount, secret string) *Conn {
	var protos http.Protocols
	protos.SetHTTP1(true)
	tr := &http.Transport{
		Protocols:           &protos,
		DialContext:         dialer(dial),
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableCompression:  true,
	}
	return &Conn{base: base, http: &http.Client{Transport: tr}, apiKey: apiKey, mount: mount, secret: secret}
}

// Serves reports whether the agent answers operations of kind.
func (c *Conn) Serves(kind string) bool { return proto.Serves(helper.Kind(kind)) }

// Describe names the agent for the log.
func (c *Conn) Describe() string { return "the agent at " + c.base }

// Close drops the connection's idle connections.
func (c *Conn) Close() { c.http.CloseIdleConnections() }

// Hello asks the agent who it is.
func (c *Conn) Hello(ctx context.Context) (proto.Hello, error) {
	var h proto.Hello
	err := c.call(ctx, http.MethodGet, proto.PathHello, nil, &h)
	return h, err
}

// Bye tells the agent the mount ended: it removes the mount's file, and
// the mount's secret opens nothing from then on.
func (c *Conn) Bye(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.send(ctx, http.MethodPost, proto.PathBye, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusNoContent {
		return statusError(http.MethodPost, proto.PathBye, resp, b)
	}
	return nil
}

// Meta runs ops on the agent, in order, and returns their results as the
// helper would give them.
func (c *Conn) Meta(ctx context.Context, ops []transport.MetaOp) ([]transport.MetaResult, error) {
	req := proto.Request{Ops: make([]proto.Op, len(ops))}
	for i, op := range ops {
		req.Ops[i] = proto.FromOp(op)
	}
	var resp proto.Response
	if err := c.call(ctx, http.MethodPost, proto.PathOps, req, &resp); err != nil {
		return nil, err
	}
	if len(resp.Results) != len(ops) {
		return nil, fmt.Errorf("agent: %d results for %d operations", len(resp.Results), len(ops))
	}
	out := make([]transport.MetaResult, len(ops))
	for i, r := range resp.Results {
		out[i] = transport.ResultOf(ops[i], r.ToResult())
	}
	return out, nil
}

// turnedAway reports whether an answer of status means the request was
// refused before anything ran: by the VM's ingress (key, policy, nothing
// listening) or by the agent (credentials, a malformed or oversized
// request, an unknown path or method).
func turnedAway(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusBadGateway:
		return true
	}
	return false
}

// call makes one request with the ingress's and the agent's credentials
// and decodes a 200 answer into out.
func (c *Conn) call(ctx context.Context, method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("agent: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return statusError(method, path, resp, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("agent: undecodable answer to %s: %w", path, err)
	}
	return nil
}

// send makes one request with the ingress's and the agent's credentials,
// in JSON when in is not nil. A connection that could not be made wraps
// transport.ErrNotDelivered.
func (c *Conn) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	if in == nil {
		return c.sendBody(ctx, method, path, nil, 0, "")
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("agent: encoding the request: %w", err)
	}
	return c.sendBody(ctx, method, path, bytes.NewReader(b), int64(len(b)), "application/json")
}

// sendBody makes one request with the credentials and body, of length
// bytes and type ctype.
func (c *Conn) sendBody(ctx context.Context, method, path string, body io.Reader, length int64, ctype string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	req.ContentLength = length
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set(proto.HeaderMount, c.mount)
	req.Header.Set(proto.HeaderSecret, c.secret)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, fmt.Errorf("agent: %w (%w)", err, transport.ErrNotDelivered)
		}
		return nil, fmt.Errorf("agent: %w", err)
	}
	return resp, nil
}

// statusError is the error of an answer other than 200, whose body (or
// its start) is b.
func statusError(method, path string, resp *http.Response, b []byte) error {
	err := fmt.Errorf("agent: %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b[:min(len(b), 200)]))
	if turnedAway(resp.StatusCode) {
		err = fmt.Errorf("%w (%w)", err, transport.ErrNotDelivered)
	}
	return err
}
