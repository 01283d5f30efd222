package emulator

import (
	"io"
	"sync"
	"sync/atomic"
)

// Endpoint names, as Stats and Fault name them. A sync request is named by
// its op; one whose body is too large counts as sync.write, one with no
// valid op as sync.read.
const (
	EndpointHealth       = "health"        // GET /v1/health
	EndpointWhoami       = "whoami"        // GET /v1/whoami
	EndpointVM           = "vm"            // GET /v1/vms/{id}
	EndpointSyncRead     = "sync.read"     // POST …/sync op read
	EndpointSyncWrite    = "sync.write"    // POST …/sync op write
	EndpointSyncManifest = "sync.manifest" // POST …/sync op manifest
	EndpointSyncStream   = "sync.stream"   // POST …/sync-stream (lineage B)
	EndpointRunsCreate   = "runs.create"   // POST …/runs
	EndpointRunsGet      = "runs.get"      // GET …/runs and …/runs/{run_id}
	EndpointRunsCancel   = "runs.cancel"   // DELETE …/runs/{run_id}
	EndpointSessions     = "sessions"      // every …/sessions operation
	EndpointPresignedGet = "presigned.get" // GET of a presigned URL
	EndpointIngress      = "ingress"       // any request to the VM's inbound hostnames
)

// endpoints lists every endpoint name.
var endpoints = []string{EndpointHealth, EndpointWhoami, EndpointVM, EndpointSyncRead, EndpointSyncWrite,
	EndpointSyncManifest, EndpointSyncStream, EndpointRunsCreate, EndpointRunsGet, EndpointRunsCancel,
	EndpointSessions, EndpointPresignedGet, EndpointIngress}

// Stats counts what the server was asked since it started or since the
// last ResetStats. Admin endpoints and requests that match no operation
// are not counted.
type Stats struct {
	Requests map[string]int64 `json:"requests"`  // by endpoint name
	Ingress  map[string]int64 `json:"ingress"`   // ingress requests (counted in Requests too) by the guest's URL path
	BytesIn  int64            `json:"bytes_in"`  // request body bytes read
	BytesOut int64            `json:"bytes_out"` // response body bytes written
}

// counters accumulates Stats.
type counters struct {
	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	mu       sync.Mutex // protects requests and ingress
	requests map[string]int64
	ingress  map[string]int64
}

// countIngress counts an ingress request for the guest's path, which
// count(EndpointIngress) counts as well.
func (c *counters) countIngress(path string) {
	c.mu.Lock()
	if c.ingress == nil {
		c.ingress = make(map[string]int64)
	}
	if _, known := c.ingress[path]; known || len(c.ingress) < maxIngressPaths {
		c.ingress[path]++
	}
	c.mu.Unlock()
}

// maxIngressPaths bounds the paths Stats.Ingress counts: a guest may be
// asked for any number of them.
const maxIngressPaths = 256

func (c *counters) count(endpoint string) {
	c.mu.Lock()
	if c.requests == nil {
		c.requests = make(map[string]int64)
	}
	c.requests[endpoint]++
	c.mu.Unlock()
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{Requests: make(map[string]int64, len(c.requests)), Ingress: make(map[string]int64, len(c.ingress))}
	for k, v := range c.requests {
		st.Requests[k] = v
	}
	for k, v := range c.ingress {
		st.Ingress[k] = v
	}
	st.BytesIn = c.bytesIn.Load()
	st.BytesOut = c.bytesOut.Load()
	return st
}

func (c *counters) reset() {
	c.mu.Lock()
	c.requests, c.ingress = nil, nil
	c.bytesIn.Store(0)
	c.bytesOut.Store(0)
	c.mu.Unlock()
}

// countingReader counts the bytes read from a request body.
type countingReader struct {
	r io.ReadCloser
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c countingReader) Close() error { return c.r.Close() }
