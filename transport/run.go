package transport

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// RunOptions for Run.
type RunOptions struct {
	// Timeout is the command's own time limit on the VM, sent in whole
	// seconds rounded up (default 60s). The VM kills the command and
	// everything it started when it passes.
	Timeout time.Duration
	// IdempotencyKey is sent as the Idempotency-Key header (1 to 64
	// printable ASCII characters); empty means a fresh "arkerfs-<ULID>"
	// for this call. Every attempt of one call sends the same key and the
	// same body, so the server runs the command at most once. A caller
	// that repeats a call whose outcome it does not know may pass the same
	// key again (to the same Client): the run goes to the same session,
	// and the server answers the first run's result; the same key with
	// another command is CodeConflict.
	IdempotencyKey string
}

// RunResult is a finished run, outputs decoded.
type RunResult struct {
	RunID      string
	SessionID  string
	State      string // wire.RunCompleted, wire.RunFailed or wire.RunCancelled
	Stdout     []byte
	Stderr     []byte
	ExitCode   int    // -1 when the run ended without an exit status
	FailReason string // the platform's reason when State is failed, e.g. "timeout"
}

const (
	defaultRunTimeout = 60 * time.Second
	// runPollMargin is how long past a run's own timeout the client keeps
	// polling it (as the SDKs).
	runPollMargin = 30 * time.Second
	// maxPollFailures ends the polling of a run after that many failed
	// polls in a row (CodeUnavailable), as the SDKs.
	maxPollFailures = 10
)

// Run runs a shell command (sh -c) on the VM, in one of arkerfs's own
// sessions (sessions.go), and returns its outputs once it has finished.
//
// The request is POST /runs with the command, a session_idx of the pool,
// the timeout and Config.TimeToBackground, and an Idempotency-Key; it is
// retried under the SDKs' rules with the same key and body, so the command
// runs at most once. A 200 answer is the finished run; a 202 means it goes
// on, and Run polls GET /runs/{run_id} (PollBase, ×1.5, at most PollMax)
// until it ends, for at most Timeout plus 30s (then CodeTimeout) and
// through at most 10 failed polls in a row (then CodeUnavailable); the run
// itself goes on on the VM in both cases.
//
// A non-zero exit status is a result, not an error. A run that did not
// complete (state failed or cancelled, or a negative exit status: killed
// or its compute lost) returns its result and an *Error: CodeTimeout when
// it ran out of time, else CodeIO.
func (c *Client) Run(ctx context.Context, command string, opt RunOptions) (*RunResult, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = defaultRunTimeout
	}
	callerKey := opt.IdempotencyKey
	if opt.IdempotencyKey == "" {
		opt.IdempotencyKey = newKey()
	}
	idx, err := c.sessions.acquire(ctx, callerKey)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r, abandoned, err := c.run(ctx, command, idx, opt)
	// An abandoned run ends at the latest when the VM kills it: its
	// timeout after it started, which is after the request was sent.
	c.sessions.release(idx, abandoned, start.Add(time.Duration(wholeSeconds(opt.Timeout))*time.Second+runPollMargin))
	return r, err
}

// run is Run in session idx; abandoned says the run may still be going on
// on the VM without anyone waiting for it.
func (c *Client) run(ctx context.Context, command string, idx int, opt RunOptions) (_ *RunResult, abandoned bool, _ error) {
	secs := wholeSeconds(opt.Timeout)
	ttb := wholeSeconds(c.cfg.TimeToBackground)
	req := wire.RunRequest{Command: command, SessionIdx: &idx, Timeout: &secs, TimeToBackground: &ttb}
	x, err := c.apiCall("run", "", http.MethodPost, wire.SuffixRuns, req)
	if err != nil {
		return nil, false, err
	}
	x.header = map[string]string{wire.HeaderIdempotencyKey: opt.IdempotencyKey}
	x.wait = time.Duration(ttb)*time.Second + c.cfg.RequestTimeout
	x.limit = x.wait
	deadline := time.Now().Add(time.Duration(secs)*time.Second + runPollMargin)
	var raw json.RawMessage
	var status int
	err = c.retry.do(ctx, "run", true, func(ctx context.Context) error {
		var err error
		status, err = c.doJSON(ctx, x, &raw)
		return err
	})
	if err != nil {
		return nil, !answered(err), err
	}
	if status == http.StatusAccepted {
		var bg wire.BackgroundRunResponse
		if err := json.Unmarshal(raw, &bg); err != nil || bg.RunID == "" {
			return nil, true, &Error{Code: CodeProtocol, Op: "run", Message: "a 202 answer without a run_id", Err: err}
		}
		run, err := c.poll(ctx, bg.RunID, deadline)
		if err != nil {
			return nil, true, err
		}
		return c.runResult(ctx, run.RunID, run.SessionID, run.State, run.ExitCode, failReason(run.FailReason),
			run.Stdout, run.StdoutEncoding, run.Stderr, run.StderrEncoding)
	}
	var done wire.CompletedRunResponse
	if err := json.Unmarshal(raw, &done); err != nil {
		return nil, false, &Error{Code: CodeProtocol, Op: "run", Status: status, Message: "undecodable run answer", Err: err}
	}
	state := done.State
	if state == "" {
		state = wire.RunCompleted
	}
	return c.runResult(ctx, done.RunID, done.SessionID, state, done.ExitCode, "",
		done.Stdout, done.StdoutEncoding, done.Stderr, done.StderrEncoding)
}

// poll follows a backgrounded run until it ends.
func (c *Client) poll(ctx context.Context, runID string, deadline time.Time) (*wire.Run, error) {
	x, err := c.apiCall("run", "", http.MethodGet, wire.SuffixRuns+"/"+url.PathEscape(runID), nil)
	if err != nil {
		return nil, err
	}
	wait, failures := c.cfg.PollBase, 0
	for {
		t := time.NewTimer(min(wait, max(time.Until(deadline), 0)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctxFailure(ctx, "run", "")
		case <-t.C:
		}
		var run wire.Run
		_, err := c.doJSON(ctx, x, &run)
		switch {
		case err == nil && terminal(run.State):
			return &run, nil
		case err == nil:
			failures = 0
		case IsPermanent(err) && answered(err):
			return nil, err
		default:
			failures++
			c.debugf("run %s: poll %d failed: %v", runID, failures, err)
			if failures >= maxPollFailures {
				return nil, &Error{Code: CodeUnavailable, Op: "run", Err: err,
					Message: "the run's state could not be read; it may still be running"}
			}
		}
		if !time.Now().Before(deadline) {
			return nil, &Error{Code: CodeTimeout, Op: "run", Message: "the run did not end in time; it may still be running"}
		}
		wait = min(time.Duration(float64(wait)*1.5), c.cfg.PollMax)
	}
}

// terminal reports whether a run state is final; an unknown state is not.
func terminal(state string) bool {
	return state == wire.RunCompleted || state == wire.RunFailed || state == wire.RunCancelled
}

// runResult decodes a finished run. A run answered 200 that did not
// complete carries no fail_reason; it is asked for once (best effort).
func (c *Client) runResult(ctx context.Context, runID, sessionID, state string, exit *int, reason string,
	stdout, stdoutEnc, stderr, stderrEnc string) (*RunResult, bool, error) {
	r := &RunResult{RunID: runID, SessionID: sessionID, State: state, ExitCode: -1, FailReason: reason}
	if exit != nil {
		r.ExitCode = *exit
	}
	var err error
	if r.Stdout, err = decodeOutput(stdout, stdoutEnc); err != nil {
		return nil, false, &Error{Code: CodeProtocol, Op: "run", Message: "undecodable stdout", Err: err}
	}
	if r.Stderr, err = decodeOutput(stderr, stderrEnc); err != nil {
		return nil, false, &Error{Code: CodeProtocol, Op: "run", Message: "undecodable stderr", Err: err}
	}
	if exit != nil && *exit < 0 && r.State == wire.RunCompleted {
		r.State = wire.RunFailed // killed, or its compute was lost
	}
	if r.State == wire.RunFailed && r.FailReason == "" && runID != "" {
		r.FailReason = c.failReasonOf(ctx, runID)
	}
	switch {
	case r.State == wire.RunCompleted && exit != nil:
		return r, false, nil
	case r.State == wire.RunCompleted:
		return r, false, &Error{Code: CodeIO, Op: "run", Message: "the run ended without an exit status"}
	case r.State == wire.RunFailed:
		code := CodeIO
		if r.FailReason == "timeout" {
			code = CodeTimeout
		}
		msg := "the run failed"
		if r.FailReason != "" {
			msg += ": " + r.FailReason
		}
		return r, false, &Error{Code: code, Op: "run", Message: msg}
	case r.State == wire.RunCancelled:
		return r, false, &Error{Code: CodeIO, Op: "run", Message: "the run was cancelled"}
	}
	return nil, false, &Error{Code: CodeProtocol, Op: "run", Message: "unknown run state " + r.State}
}

// failReasonOf reads a finished run's fail_reason; "" when it cannot.
func (c *Client) failReasonOf(ctx context.Context, runID string) string {
	x, err := c.apiCall("run", "", http.MethodGet, wire.SuffixRuns+"/"+url.PathEscape(runID), nil)
	if err != nil {
		return ""
	}
	var run wire.Run
	if _, err := c.doJSON(ctx, x, &run); err != nil {
		return ""
	}
	return failReason(run.FailReason)
}

func failReason(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// wholeSeconds is d in whole seconds, rounded up.
func wholeSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// answered reports whether err is the server's answer (so the request
// was not left in flight).
func answered(err error) bool {
	e, ok := err.(*Error)
	return ok && e.answered
}
