package transport

import (
	"context"
	"sync"
)

// MetaServer is a faster way than runs to answer some metadata
// operations: the arkerfs agent on the VM (package agent/agentclient).
// Serves says which kinds it answers; Meta answers a batch of them, in
// order, with the same results the helper would give. An error from Meta
// is the server's failure as a whole (unreachable, refused): the client
// then stops using it and answers through runs.
type MetaServer interface {
	Serves(kind string) bool
	Meta(ctx context.Context, ops []MetaOp) ([]MetaResult, error)
	Describe() string // for the log: what serves, and how it is reached
}

// fastPath holds the client's MetaServer, if any.
type fastPath struct {
	mu     sync.Mutex // protects the fields below
	server MetaServer
	logf   func(format string, args ...any)
}

// UseMetaServer makes s answer the batches of operations it serves all of;
// nil goes back to runs alone. logf hears when the client gives s up.
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
	defer c.fast.mu.Unlock()
	if c.fast.server != s {
		return
	}
	c.fast.server = nil
	if c.fast.logf != nil {
		c.fast.logf("%s failed (%v): metadata goes through runs from now on", s.Describe(), err)
	}
}
