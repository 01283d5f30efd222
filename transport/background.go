package transport

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/arker-ai/arkerfs/wire"
)

// StartBackground starts command (sh -c) on the VM in a session made for
// it alone, so that no later run, of arkerfs or of the VM's user, enters
// that session and interrupts it: POST /sessions, then POST /runs with the
// new session_id, no time limit and time_to_background 0, under an
// Idempotency-Key. It returns at once with the run's id; RunOutput follows
// the run. The session is made with one attempt (a lost answer could
// otherwise make two); the run is retried under its key as any run.
func (c *Client) StartBackground(ctx context.Context, command string) (runID string, err error) {
	sx, err := c.apiCall("start background run", "", http.MethodPost, wire.SuffixSessions, wire.CreateSessionRequest{})
	if err != nil {
		return "", err
	}
	var ss wire.Session
	if _, err := c.doJSON(ctx, sx, &ss); err != nil {
		return "", err
	}
	if ss.SessionID == "" {
		return "", &Error{Code: CodeProtocol, Op: "start background run", Message: "a session without a session_id"}
	}
	var none, now int64
	req := wire.RunRequest{Command: command, SessionID: &ss.SessionID, Timeout: &none, TimeToBackground: &now}
	x, err := c.apiCall("start background run", "", http.MethodPost, wire.SuffixRuns, req)
	if err != nil {
		return "", err
	}
	x.header = map[string]string{wire.HeaderIdempotencyKey: newKey()}
	var raw json.RawMessage
	err = c.retry.do(ctx, x.op, true, func(ctx context.Context) error {
		_, err := c.doJSON(ctx, x, &raw)
		return err
	})
	if err != nil {
		return "", err
	}
	var bg wire.BackgroundRunResponse
	if err := json.Unmarshal(raw, &bg); err != nil || bg.RunID == "" {
		var done wire.CompletedRunResponse
		if json.Unmarshal(raw, &done) == nil && done.RunID != "" {
			return done.RunID, nil // it ended already; RunOutput tells how
		}
		return "", &Error{Code: CodeProtocol, Op: x.op, Message: "a background run answered without a run_id", Err: err}
	}
	return bg.RunID, nil
}

// RunOutput reads what a run has printed so far and whether it is still
// going (GET /runs/{run_id}: stdout grows while the run executes).
func (c *Client) RunOutput(ctx context.Context, runID string) (stdout, stderr []byte, running bool, err error) {
	x, err := c.apiCall("read run", "", http.MethodGet, wire.SuffixRuns+"/"+url.PathEscape(runID), nil)
	if err != nil {
		return nil, nil, false, err
	}
	var run wire.Run
	err = c.retry.do(ctx, x.op, true, func(ctx context.Context) error {
		_, err := c.doJSON(ctx, x, &run)
		return err
	})
	if err != nil {
		return nil, nil, false, err
	}
	if stdout, err = decodeOutput(run.Stdout, run.StdoutEncoding); err != nil {
		return nil, nil, false, &Error{Code: CodeProtocol, Op: x.op, Message: "undecodable stdout", Err: err}
	}
	if stderr, err = decodeOutput(run.Stderr, run.StderrEncoding); err != nil {
		return nil, nil, false, &Error{Code: CodeProtocol, Op: x.op, Message: "undecodable stderr", Err: err}
	}
	return stdout, stderr, !terminal(run.State), nil
}
