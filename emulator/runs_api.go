package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"regexp"
	"syscall"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// maxRunBody bounds a run request body.
const maxRunBody = 4 << 20

// shapeRun is RunRequest's schema: nothing required.
var shapeRun = shape{nullable: []string{"session_id", "session_idx", "timeout", "time_to_background",
	"queueing_timeout", "end_symbol", "memory_backend", "signal"}}

// idemKeyPattern is the schema of Idempotency-Key: 1–64 printable ASCII.
var idemKeyPattern = regexp.MustCompile(`^[ -~]{1,64}$`)

// signals are the signals a run request may carry.
var signals = map[string]syscall.Signal{
	wire.SignalINT: syscall.SIGINT, wire.SignalTERM: syscall.SIGTERM,
	wire.SignalKILL: syscall.SIGKILL, wire.SignalHUP: syscall.SIGHUP,
}

// decodeRun reads and checks a run request.
func decodeRun(r *http.Request) (wire.RunRequest, *apiError) {
	var req wire.RunRequest
	if aerr := checkJSONType(r); aerr != nil {
		return req, aerr
	}
	data, err := readBody(r, maxRunBody)
	if err != nil {
		return req, bodyError(err, maxRunBody)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return req, badRequest("a run request needs a JSON body")
	}
	if aerr := decodeStrict(data, &req, shapeRun, ""); aerr != nil {
		return req, aerr
	}
	var vs []wire.Violation
	checkRange(&vs, "session_idx", req.SessionIdx, 0, 1<<31-1)
	checkRange(&vs, "timeout", req.Timeout, 0, 1<<40)
	checkRange(&vs, "time_to_background", req.TimeToBackground, 0, 1<<40)
	checkRange(&vs, "queueing_timeout", req.QueueingTimeout, 0, 1<<40)
	checkRange(&vs, "vcpu_count", req.VCPUCount, 0, 255)
	checkRange(&vs, "memory_mib", req.MemoryMiB, 0, 1<<40)
	checkRange(&vs, "disk_mib", req.DiskMiB, 0, 1<<40)
	checkEnum(&vs, "memory_backend", req.MemoryBackend, "file", "uffd")
	checkEnum(&vs, "signal", req.Signal, wire.SignalINT, wire.SignalTERM, wire.SignalKILL, wire.SignalHUP)
	if req.Background != nil && req.TimeToBackground != nil {
		vs = append(vs, wire.Violation{Field: "background", Message: "must not be sent with time_to_background"})
	}
	if req.Signal != nil && (req.Background != nil || req.TimeToBackground != nil) {
		vs = append(vs, wire.Violation{Field: "time_to_background", Message: "is not accepted on a signal request"})
	}
	if req.Signal == nil && !hasKey(data, "command") {
		vs = append(vs, wire.Violation{Field: "command", Message: "is required unless signal is sent"})
	}
	if len(vs) > 0 {
		return req, invalid(vs)
	}
	return req, nil
}

// hasKey reports whether the JSON object data has key (it was decoded
// before, so it is an object).
func hasKey(data []byte, key string) bool {
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(data, &obj)
	_, ok := obj[key]
	return ok
}

// createRun answers POST …/runs.
func (s *Server) createRun(c *call) {
	req, aerr := decodeRun(c.r)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	key, hasKey := c.r.Header[http.CanonicalHeaderKey(wire.HeaderIdempotencyKey)]
	if hasKey && (len(key) != 1 || !idemKeyPattern.MatchString(key[0])) {
		c.fail(invalidField(wire.HeaderIdempotencyKey, "must be 1 to 64 printable ASCII characters"))
		return
	}
	ttb := int64(defaultTimeToBackground)
	if req.TimeToBackground != nil {
		ttb = *req.TimeToBackground
	} else if req.Background != nil && *req.Background {
		ttb = 0
	}
	rs := s.runs
	if _, aerr := rs.getSandbox(); aerr != nil {
		c.fail(aerr)
		return
	}
	rs.mu.Lock()
	if req.Signal != nil {
		ack, aerr := rs.signalLocked(req)
		rs.mu.Unlock()
		if aerr != nil {
			c.fail(aerr)
			return
		}
		c.reply(http.StatusOK, ack)
		return
	}
	var digest [32]byte
	if hasKey {
		canon, _ := json.Marshal(req) // a struct: one canonical form per request
		digest = sha256.Sum256(canon)
		if e, ok := rs.idem[key[0]]; ok && rs.runs[e.runID] != nil {
			r := rs.runs[e.runID]
			rs.mu.Unlock()
			if e.digest != digest {
				code := wire.CodeIdempotencyConflict
				if s.opts.Lineage == wire.LineageB {
					code = wire.CodeConflict
				}
				c.fail(newError(code, "Idempotency-Key %q was used with another request", key[0]))
				return
			}
			s.answerRun(c, r, ttb)
			return
		}
	}
	ss, aerr := rs.sessionForLocked(req.SessionID, req.SessionIdx)
	if aerr != nil {
		rs.mu.Unlock()
		c.fail(aerr)
		return
	}
	r := &run{id: newID("run_"), sess: ss, command: req.Command, created: time.Now(), out: newOutput(),
		done: make(chan struct{}), state: wire.RunPending}
	if req.Timeout != nil {
		r.timeout = seconds(*req.Timeout)
	}
	rs.enqueueLocked(r)
	if hasKey {
		rs.idem[key[0]] = &idemEntry{digest: digest, runID: r.id}
	}
	rs.mu.Unlock()
	s.answerRun(c, r, ttb)
}

// answerRun waits up to ttb seconds for r: 200 with its outcome when it
// ended, else 202 with its id (ttb 0: 202 at once). A run whose caller got
// a 202 or went away is backgrounded (see the interrupt rule).
func (s *Server) answerRun(c *call, r *run, ttb int64) {
	if ttb > 0 {
		t := time.NewTimer(seconds(ttb))
		select {
		case <-r.done:
		case <-t.C:
		case <-c.r.Context().Done():
		}
		t.Stop()
	}
	rs := s.runs
	rs.mu.Lock()
	if ttb > 0 && isClosed(r.done) {
		resp := r.completedResponse()
		rs.mu.Unlock()
		c.reply(http.StatusOK, resp)
		return
	}
	if !isClosed(r.done) {
		r.backgrounded = true
	}
	resp := wire.BackgroundRunResponse{RunID: r.id, SessionID: r.sess.id, State: wire.RunRunning}
	rs.mu.Unlock()
	if c.r.Context().Err() == nil {
		c.reply(http.StatusAccepted, resp)
	}
}

// seconds converts whole seconds to a Duration, saturating.
func seconds(n int64) time.Duration {
	const most = int64(1<<63-1) / int64(time.Second)
	return time.Duration(min(n, most)) * time.Second
}

// completedResponse is the 200 answer of a finished run.
// LOCKS_REQUIRED(rs.mu)
func (r *run) completedResponse() wire.CompletedRunResponse {
	resp := wire.CompletedRunResponse{ExitCode: r.exitCode, SessionID: r.sess.id, RunID: r.id, State: r.state}
	resp.Stdout, resp.StdoutEncoding, resp.Stderr, resp.StderrEncoding = r.out.encoded()
	return resp
}

// signalLocked delivers a signal request to its session's foreground
// process group (if there is one) and returns the ack.
// LOCKS_REQUIRED(rs.mu)
func (rs *runStore) signalLocked(req wire.RunRequest) (wire.CompletedRunResponse, *apiError) {
	ss, aerr := rs.sessionForLocked(req.SessionID, req.SessionIdx)
	if aerr != nil {
		return wire.CompletedRunResponse{}, aerr
	}
	if cur := ss.current; cur != nil && cur.pgid != 0 && !cur.exited {
		_ = syscall.Kill(-cur.pgid, signals[*req.Signal])
	}
	zero := 0
	return wire.CompletedRunResponse{StdoutEncoding: wire.RunEncodingUTF8, StderrEncoding: wire.RunEncodingUTF8,
		ExitCode: &zero, SessionID: ss.id, State: wire.RunCompleted}, nil
}

// view is the run as GET …/runs/{run_id} shows it.
// LOCKS_REQUIRED(rs.mu)
func (r *run) view(vmID, vmName string) wire.Run {
	started := r.started
	if started.IsZero() {
		started = r.created
	}
	v := wire.Run{RunID: r.id, State: r.state, StartedAt: rfc3339(started), ExitCode: r.exitCode,
		SessionID: r.sess.id, Command: r.command, VMID: vmID, VMName: vmName}
	v.Stdout, v.StdoutEncoding, v.Stderr, v.StderrEncoding = r.out.encoded()
	if !r.completed.IsZero() {
		t := rfc3339(r.completed)
		v.CompletedAt = &t
	}
	if r.failReason != "" && r.state == wire.RunFailed {
		reason := r.failReason
		v.FailReason = &reason
	}
	return v
}

// getRun answers GET …/runs/{run_id}.
func (s *Server) getRun(c *call) {
	rs := s.runs
	rs.mu.Lock()
	r, ok := rs.runs[c.rt.sub]
	var v wire.Run
	if ok {
		v = r.view(s.opts.VMID, s.opts.VMName)
	}
	rs.mu.Unlock()
	if !ok {
		c.fail(notFound(wire.ResourceRun, "no such run: %q", c.rt.sub))
		return
	}
	c.reply(http.StatusOK, v)
}

// cancelRun answers DELETE …/runs/{run_id}: the record is marked cancelled
// (a pending run never starts); a running process is not killed.
func (s *Server) cancelRun(c *call) {
	rs := s.runs
	rs.mu.Lock()
	r, ok := rs.runs[c.rt.sub]
	cancelled := false
	if ok {
		switch r.state {
		case wire.RunPending:
			r.cancelled = true
			rs.endLocked(r, "cancelled")
			cancelled = true
		case wire.RunRunning:
			r.cancelled = true
			r.state = wire.RunCancelled
			cancelled = true
		}
	}
	rs.mu.Unlock()
	if !ok {
		c.fail(notFound(wire.ResourceRun, "no such run: %q", c.rt.sub))
		return
	}
	c.reply(http.StatusOK, wire.CancelRunResponse{Cancelled: cancelled})
}
