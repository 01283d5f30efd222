package emulator

import (
	"bytes"
	"net/http"
	"path"
	"strings"

	"github.com/arker-ai/arkerfs/wire"
)

// maxSessionBody bounds the bodies of session requests.
const maxSessionBody = 1 << 20

var (
	shapeCreateSession = shape{nullable: []string{"env", "cwd", "command"}}
	shapePatchSession  = shape{}
)

// readOptional reads a JSON body that may be empty (then "{}").
func readOptional(r *http.Request, v any, sh shape) *apiError {
	if aerr := checkJSONType(r); aerr != nil {
		return aerr
	}
	data, err := readBody(r, maxSessionBody)
	if err != nil {
		return bodyError(err, maxSessionBody)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	return decodeStrict(data, v, sh, "")
}

// listSessions answers GET …/sessions: by index, filtered by state.
func (s *Server) listSessions(c *call) {
	lq, aerr := parseList(c.r.URL.Query(), "state")
	if aerr != nil {
		c.fail(aerr)
		return
	}
	state := lq.q.Get("state")
	if lq.q.Has("state") {
		var vs []wire.Violation
		checkEnum(&vs, "state", &state, wire.SessionIdle, wire.SessionRunning)
		if len(vs) > 0 {
			c.fail(invalid(vs))
			return
		}
	}
	all := s.runs.sessionList()
	rows := make([]wire.Session, 0, len(all))
	for _, ss := range all {
		if state == "" || ss.State == state {
			rows = append(rows, ss)
		}
	}
	out, next := page(rows, lq)
	c.reply(http.StatusOK, wire.ListSessionsResponse{Sessions: out, NextCursor: next})
}

// createSession answers POST …/sessions: a new session with the lowest
// free index ≥ 1. pty, cols, rows and command are advisory: checked, kept
// nowhere.
func (s *Server) createSession(c *call) {
	var req wire.CreateSessionRequest
	if aerr := readOptional(c.r, &req, shapeCreateSession); aerr != nil {
		c.fail(aerr)
		return
	}
	var vs []wire.Violation
	checkRange(&vs, "cols", req.Cols, 1, 1000)
	checkRange(&vs, "rows", req.Rows, 1, 1000)
	cwd := HomeDir
	if req.Cwd != nil {
		cwd = path.Clean(*req.Cwd)
		if !strings.HasPrefix(*req.Cwd, "/") || strings.ContainsRune(cwd, 0) {
			vs = append(vs, wire.Violation{Field: "cwd", Message: "must be an absolute path"})
		}
	}
	for k, v := range req.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			vs = append(vs, wire.Violation{Field: "env." + k, Message: "is not a valid environment variable"})
		}
	}
	if len(vs) > 0 {
		c.fail(invalid(vs))
		return
	}
	rs := s.runs
	rs.mu.Lock()
	ss := rs.newSessionLocked(rs.freeIndexLocked(), cwd, req.Env)
	v := ss.view()
	rs.mu.Unlock()
	c.reply(http.StatusOK, v)
}

// getSession answers GET …/sessions/{sid}.
func (s *Server) getSession(c *call) {
	rs := s.runs
	rs.mu.Lock()
	ss, ok := rs.sessions[c.rt.sub]
	var v wire.Session
	if ok {
		v = ss.view()
	}
	rs.mu.Unlock()
	if !ok {
		c.fail(notFound(wire.ResourceSession, "no such session: %q", c.rt.sub))
		return
	}
	c.reply(http.StatusOK, v)
}

// patchSession answers PATCH …/sessions/{sid}: the resize has no PTY to
// go to; timeout_secs is kept.
func (s *Server) patchSession(c *call) {
	var req wire.PatchSessionRequest
	if aerr := readOptional(c.r, &req, shapePatchSession); aerr != nil {
		c.fail(aerr)
		return
	}
	var vs []wire.Violation
	checkRange(&vs, "cols", req.Cols, 1, 1000)
	checkRange(&vs, "rows", req.Rows, 1, 1000)
	checkRange(&vs, "timeout_secs", req.TimeoutSecs, 0, 1<<40)
	if (req.Cols == nil) != (req.Rows == nil) {
		vs = append(vs, wire.Violation{Field: "cols", Message: "cols and rows go together"})
	}
	if len(vs) > 0 {
		c.fail(invalid(vs))
		return
	}
	rs := s.runs
	rs.mu.Lock()
	ss, ok := rs.sessions[c.rt.sub]
	if ok && req.TimeoutSecs != nil {
		t := *req.TimeoutSecs
		ss.timeout = &t
	}
	rs.mu.Unlock()
	if !ok {
		c.fail(notFound(wire.ResourceSession, "no such session: %q", c.rt.sub))
		return
	}
	c.reply(http.StatusOK, wire.PatchSessionResponse{OK: true, SessionID: c.rt.sub})
}

// deleteSession answers DELETE …/sessions/{sid}: its pending runs end
// failed, its running one is killed. A run asking for the index later gets
// a new session.
func (s *Server) deleteSession(c *call) {
	if !s.runs.deleteSession(c.rt.sub) {
		c.fail(notFound(wire.ResourceSession, "no such session: %q", c.rt.sub))
		return
	}
	c.reply(http.StatusOK, wire.DeletedResponse{Deleted: true})
}
