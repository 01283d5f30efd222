package transport

// This file is the surface the rest of arkerfs uses. Bodies live in the
// files named beside each method.

import (
	"context"
	"io"
	"time"
)

// Config says where the VM is and how to talk to it. Build it with
// ConfigFromEnv and override fields from flags. (config.go)
type Config struct {
	APIKey         string                           // bearer key; never printed (String redacts it)
	BaseURL        string                           // overrides Region routing when set
	BurstBaseURL   string                           // overrides the burst endpoint when set
	Region         string                           // e.g. "us-west-2" or legacy "aws-us-west-2"
	VMID           string                           // the VM to talk to
	Retry          RetryPolicy                      // retries of retryable failures
	RequestTimeout time.Duration                    // bound on one HTTP exchange without a deadline of its own (default 30s)
	TransferStall  time.Duration                    // a body transfer making no progress this long is cancelled (default 20s)
	MaxParallel    int                              // parts in flight for one large upload or download (default 8)
	Debug          func(format string, args ...any) // debug log sink; nil = off; the key is redacted
}

// RetryPolicy: exponential backoff with full jitter between Base and Max,
// for at most Attempts attempts in all. Attempts <= 1 disables retries.
// Defaults (SDK): 4 attempts, 200 ms base, 2 s cap.
type RetryPolicy struct {
	Attempts int
	Base     time.Duration
	Max      time.Duration
}

// Object is a file as the last sync read saw it. Inline holds the whole
// content when the server answered inline; otherwise ReadAt fetches ranges
// through the presigned URL, re-resolving it when it expires. (sync_read.go)
type Object struct {
	Path    string
	Size    int64
	Version string // changes whenever the content may have changed
	MtimeNs int64
	Inline  []byte // nil when the content is behind a presigned URL
	// unexported: presigned URL, method, expiry, guarded by a mutex
	p presigned // unexported: URL, method, expiry (sync_read.go)
}

// Upload is one file to write whole. The content is read from Source
// (offsets 0..Size). UploadID must be stable across retries of the same
// logical write (a fresh random id per flush); Mode nil keeps the mode of
// an existing file (0644 for a new one). (sync_write.go)
type Upload struct {
	Path     string
	UploadID string
	Size     int64
	Mode     *uint32
	Source   io.ReaderAt
}

// UploadResult is the outcome of one Upload; Err is nil on success.
type UploadResult struct {
	Path    string
	Size    int64
	SHA256  string
	Version string
	MtimeNs int64
	Ino     uint64
	Err     error
}

// RunOptions for Run. Timeout is the command's own time limit on the VM
// (default 60s); the HTTP exchange is bounded by Timeout plus a margin.
// A run is retried only when IdempotencyKey is set.
type RunOptions struct {
	Timeout        time.Duration
	IdempotencyKey string
}

// RunResult is a completed (or failed) foreground run, outputs decoded.
type RunResult struct {
	RunID      string
	State      string
	Stdout     []byte
	Stderr     []byte
	ExitCode   int
	FailReason string
}

// VMInfo is what GET /v1/vms/{id} says about the VM.
type VMInfo struct {
	ID    string
	Name  string
	State string
}

// Client methods (bodies in client.go, sync_read.go, sync_write.go, run.go):
//
//	func New(cfg Config) (*Client, error)
//	func (c *Client) DescribeVM(ctx context.Context) (*VMInfo, error)
//	func (c *Client) Open(ctx context.Context, path string) (*Object, error)
//	func (c *Client) ReadAt(ctx context.Context, o *Object, p []byte, off int64) (int, error)
//	func (c *Client) Upload(ctx context.Context, ups []Upload) []UploadResult
//	func (c *Client) Run(ctx context.Context, command string, opt RunOptions) (*RunResult, error)
//	func (c *Client) Meta(ctx context.Context, ops ...MetaOp) ([]MetaResult, error)   (meta.go)
var _ = context.Background
