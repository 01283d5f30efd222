package transport

import (
	"context"
	"net/http"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// RunOptions for Run. Timeout is the command's own time limit on the VM
// (default 60s); the exchange is bounded by Timeout plus runMargin. A run
// is retried only when IdempotencyKey is set.
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

const (
	defaultRunTimeout = 60 * time.Second
	runMargin         = 10 * time.Second
)

// Run runs a shell command in the VM in the foreground. A non-zero exit
// is a result, not an error; a run the platform failed (state "failed")
// returns its result and an *Error (CodeTimeout for a timeout).
func (c *Client) Run(ctx context.Context, command string, opt RunOptions) (*RunResult, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = defaultRunTimeout
	}
	secs := opt.Timeout.Seconds()
	req := wire.RunRequest{Command: command, Timeout: &secs}
	var hdr map[string]string
	if opt.IdempotencyKey != "" {
		hdr = map[string]string{wire.HeaderIdempotencyKey: opt.IdempotencyKey}
	}
	var resp wire.RunResponse
	err := c.retry(ctx, opt.IdempotencyKey != "", func(ctx context.Context) error {
		return c.do(ctx, call{op: "run", method: http.MethodPost, url: c.vmURL(wire.SuffixRun), body: req,
			header: hdr, timeout: opt.Timeout + runMargin}, &resp)
	})
	if err != nil {
		return nil, err
	}
	r := &RunResult{RunID: resp.RunID, State: resp.State, ExitCode: resp.ExitCode}
	if resp.FailReason != nil {
		r.FailReason = *resp.FailReason
	}
	if r.Stdout, err = decodeBytes(resp.Stdout, resp.StdoutEncoding); err != nil {
		return nil, &Error{Code: CodeProtocol, Op: "run", Message: "bad stdout encoding", Err: err}
	}
	if r.Stderr, err = decodeBytes(resp.Stderr, resp.StderrEncoding); err != nil {
		return nil, &Error{Code: CodeProtocol, Op: "run", Message: "bad stderr encoding", Err: err}
	}
	if r.State == wire.RunFailed {
		code := CodeIO
		if r.FailReason == "timeout" {
			code = CodeTimeout
		}
		return r, &Error{Code: code, Op: "run", Message: "run failed: " + r.FailReason}
	}
	return r, nil
}
