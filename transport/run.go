package transport

import (
	"context"
	"net/http"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// RunOptions for Run. Timeout is the command's own time limit on the VM
// (default 60s); the exchange is bounded by Timeout plus 10s. A run is
// retried only when IdempotencyKey is set: the server answers a repeated
// key with the first run's result instead of running it again.
type RunOptions struct {
	Timeout        time.Duration
	IdempotencyKey string
}

// RunResult is a completed (or failed) foreground run, outputs decoded.
type RunResult struct {
	RunID      string
	State      string // wire.RunCompleted or wire.RunFailed
	Stdout     []byte
	Stderr     []byte
	ExitCode   int
	FailReason string // set when State is failed, e.g. "timeout"
}

const (
	defaultRunTimeout = 60 * time.Second
	runMargin         = 10 * time.Second // time the exchange allows beyond the run's own limit
)

// Run runs a shell command in the VM in the foreground and returns its
// outputs, decoded from their encodings. A non-zero exit is a result, not
// an error. A run the platform failed (state "failed") returns its result
// and an *Error: CodeTimeout when it ran out of time, else CodeIO.
func (c *Client) Run(ctx context.Context, command string, opt RunOptions) (*RunResult, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = defaultRunTimeout
	}
	secs := opt.Timeout.Seconds()
	x, err := c.apiCall("run", "", http.MethodPost, wire.SuffixRun, wire.RunRequest{Command: command, Timeout: &secs})
	if err != nil {
		return nil, err
	}
	x.limit = opt.Timeout + runMargin
	x.wait = x.limit
	var resp wire.RunResponse
	attempt := func(ctx context.Context) error {
		_, err := c.doJSON(ctx, x, &resp)
		return err
	}
	if opt.IdempotencyKey != "" {
		x.header = map[string]string{wire.HeaderIdempotencyKey: opt.IdempotencyKey}
		err = c.retry.do(ctx, x.op, attempt)
	} else {
		err = attempt(ctx) // not safe to repeat: the command may have run
	}
	if err != nil {
		return nil, err
	}
	return runResult(&resp)
}

// runResult decodes a run's answer.
func runResult(resp *wire.RunResponse) (*RunResult, error) {
	r := &RunResult{RunID: resp.RunID, State: resp.State, ExitCode: resp.ExitCode}
	if resp.FailReason != nil {
		r.FailReason = *resp.FailReason
	}
	var err error
	if r.Stdout, err = decodeBytes(resp.Stdout, resp.StdoutEncoding); err != nil {
		return nil, &Error{Code: CodeProtocol, Op: "run", Message: "undecodable stdout", Err: err}
	}
	if r.Stderr, err = decodeBytes(resp.Stderr, resp.StderrEncoding); err != nil {
		return nil, &Error{Code: CodeProtocol, Op: "run", Message: "undecodable stderr", Err: err}
	}
	switch r.State {
	case wire.RunCompleted:
		return r, nil
	case wire.RunFailed:
		code := CodeIO
		if r.FailReason == "timeout" {
			code = CodeTimeout
		}
		return r, &Error{Code: code, Op: "run", Message: "the run failed: " + r.FailReason}
	}
	return nil, &Error{Code: CodeProtocol, Op: "run", Message: "unknown run state " + r.State}
}
