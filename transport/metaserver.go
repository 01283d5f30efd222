package transport

import (
	"context"
	"errors"
	"sync"
)

// MetaServer is a faster way than runs to answer metadata operations: the
// arkerfs agent on the VM (package agent/agentclient). Serves says which
// kinds it answers; Meta answers a batch of them, in order, with the same
// results the helper would give. An error from Meta is the server's
// failure as a whole (unreachable, refused): the client then stops using
// it. A batch that changes nothing is then answered through runs; one
// with changes is sent again through runs only when the error wraps
// ErrNotDelivered (the server certainly did not act on it), else its ops
// fail with CodeUnknownOutcome, since running them twice could do harm
// (a second exclusive create would fail, a second rename would miss).
type MetaServer interface {
	Serves(kind string) bool
	Meta(ctx context.Context, ops []MetaOp) ([]MetaResult, error)
	Describe() string // for the log: what serves, and how it is reached
}

// ErrNotDelivered marks a MetaServer failure that certainly did not act on
// the batch: the connection was refused, the VM's ingress or the server
// turned the request away before running anything.
var ErrNotDelivered = errors.New("not delivered")

// fastPath holds the client's MetaServer, if any.
type fastPath struct {
	mu     sync.Mutex // protects the fields below
	server MetaServer
	logf   func(format string, args ...any)
}

// UseMetaServer makes s answer the batches of operations it serves all of;
// nil goes back to runs alone. logf hears when the client gives s up; it
// is called without the client's locks held.
func (c *Client) UseMetaServer(s MetaServer, logf func(format string, args ...any)) {
	c.fast.mu.Lock()
	defer c.fast.mu.Unlock()
	c.fast.server, c.fast.logf = s, logf
}

// MetaServerInUse describes the MetaServer in use, "" when runs answer
// every operation.
func (c *Client) MetaServerInUse() string {
	c.fast.mu.Lock()
	defer c.fast.mu.Unlock()
	if c.fast.server == nil {
		return ""
	}
	return c.fast.server.Describe()
}

// serverFor returns the MetaServer that serves every op of ops, or nil.
func (c *Client) serverFor(ops []MetaOp) MetaServer {
	c.fast.mu.Lock()
	s := c.fast.server
	c.fast.mu.Unlock()
	if s == nil || len(ops) == 0 {
		return nil
	}
	for _, op := range ops {
		if !s.Serves(string(op.Kind)) {
			return nil
		}
	}
	return s
}

// dropServer gives s up after its failure err, unless another took its
// place meanwhile.
func (c *Client) dropServer(s MetaServer, err error) {
	c.fast.mu.Lock()
	if c.fast.server != s {
		c.fast.mu.Unlock()
		return
	}
	c.fast.server = nil
	logf := c.fast.logf
	c.fast.mu.Unlock()
	if logf != nil { // unlocked: logf may ask the client which server it uses
		logf("%s failed (%v): metadata goes through runs from now on", s.Describe(), err)
	}
}
