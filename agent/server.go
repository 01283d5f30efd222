package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// handler serves the protocol (docs/AGENT.md): every request names a
// mount and carries its secret; GET /v1/hello says who serves, POST
// /v1/ops runs operations in order, GET /v1/events follows the changes
// below the mount's root, POST /v1/read reads a byte range, POST /v1/bye
// ends the mount.
type handler struct {
	version string
	logf    func(string, ...any)
	mounts  *mounts
	idle    *idleWatch
	exec    func(helper.Op) helper.Result // Exec; tests may count calls
	feeds   *feeds                        // the change feeds, one per root
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.idle.begin()
	defer h.idle.end()
	id := r.Header.Get(proto.HeaderMount)
	if !validMountID.MatchString(id) {
		http.Error(w, "missing or malformed "+proto.HeaderMount+" header", http.StatusBadRequest)
		return
	}
	m, err := h.mounts.authorize(id, r.Header.Get(proto.HeaderSecret))
	if err != nil {
		h.logf("mount %s: refused %s %s: %v", id, r.Method, r.URL.Path, err)
		http.Error(w, "unknown mount or wrong secret", http.StatusUnauthorized)
		return
	}
	rt, ok := routes[r.URL.Path]
	if !ok {
		http.Error(w, "no such endpoint", http.StatusNotFound)
		return
	}
	if allow(w, r, rt.method) {
		rt.serve(h, w, r, id, m)
	}
}

// route is one endpoint: the method it takes and what answers it.
type route struct {
	method string
	serve  func(h *handler, w http.ResponseWriter, r *http.Request, id string, m *mount)
}

// routes are the protocol's endpoints (docs/AGENT.md), by path.
var routes = map[string]route{
	proto.PathHello:  {http.MethodGet, (*handler).hello},
	proto.PathOps:    {http.MethodPost, func(h *handler, w http.ResponseWriter, r *http.Request, _ string, m *mount) { h.ops(w, r, m) }},
	proto.PathEvents: {http.MethodGet, func(h *handler, w http.ResponseWriter, r *http.Request, _ string, m *mount) { h.events(w, r, m) }},
	proto.PathRead:   {http.MethodPost, func(h *handler, w http.ResponseWriter, r *http.Request, _ string, m *mount) { h.read(w, r, m) }},
	proto.PathWrite:  {http.MethodPost, func(h *handler, w http.ResponseWriter, r *http.Request, _ string, m *mount) { h.write(w, r, m) }},
	proto.PathBye:    {http.MethodPost, (*handler).bye},
}

// hello answers GET /v1/hello: who serves, and the mount's root.
func (h *handler) hello(w http.ResponseWriter, _ *http.Request, _ string, m *mount) {
	writeJSON(w, proto.Hello{Version: h.version, Protocol: proto.Version, Root: []byte(m.root)})
}

// bye answers POST /v1/bye: the mount ended; its file is removed (204).
func (h *handler) bye(w http.ResponseWriter, _ *http.Request, id string, _ *mount) {
	if err := h.mounts.forget(id); err != nil {
		h.logf("mount %s: removing its file: %v", id, err)
		http.Error(w, "cannot remove the mount's file", http.StatusInternalServerError)
		return
	}
	h.logf("mount %s ended", id)
	w.WriteHeader(http.StatusNoContent)
}

// ops answers POST /v1/ops: a proto.Request (decodeBody) of at most
// proto.MaxOps ops (else 400); one result per op, in order.
func (h *handler) ops(w http.ResponseWriter, r *http.Request, m *mount) {
	var req proto.Request
	if !decodeBody(w, r, &req) {
		return
	}
	if len(req.Ops) > proto.MaxOps {
		http.Error(w, "more operations than the protocol allows", http.StatusBadRequest)
		return
	}
	resp := proto.Response{Results: make([]proto.Result, len(req.Ops))}
	for i, op := range req.Ops {
		if r.Context().Err() != nil {
			return // the client is gone
		}
		resp.Results[i] = proto.FromResult(h.run(m, op.ToOp()))
	}
	writeJSON(w, resp)
}

// read answers POST /v1/read: a proto.ReadRequest (decodeBody) whose
// offset, length and size are in range (else 400); 409 with a
// proto.Failure when the file cannot be read as asked, else 200 with
// the bytes and the file's version in headers.
func (h *handler) read(w http.ResponseWriter, r *http.Request, m *mount) {
	var req proto.ReadRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Offset < 0 || req.Length <= 0 || req.Length > proto.MaxRead || req.Size < 0 {
		http.Error(w, "offset, length or size out of range", http.StatusBadRequest)
		return
	}
	if !within(m.root, string(req.Path)) {
		writeFailure(w, proto.Failure{Errno: "EACCES", Message: "outside the mount's root"})
		return
	}
	b, v, fail := readRange(req)
	if fail != nil {
		writeFailure(w, *fail)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set(proto.HeaderSize, strconv.FormatInt(v.Size, 10))
	w.Header().Set(proto.HeaderMtime, strconv.FormatInt(v.MtimeNs, 10))
	w.Write(b)
}

// maxWriteHead bounds the JSON line that heads a write.
const maxWriteHead = 1 << 20

// write answers POST /v1/write: a proto.WriteRequest on one line of at
// most maxWriteHead bytes, no unknown fields, then exactly the spans'
// bytes (a Content-Length that says otherwise is 400 before anything is
// written); spans, sizes and path in range (else 400, or 409 EACCES for
// a path outside the root); 409 with a proto.Failure when the file
// cannot be changed as asked; else 200 with its attributes.
func (h *handler) write(w http.ResponseWriter, r *http.Request, m *mount) {
	body := bufio.NewReaderSize(http.MaxBytesReader(w, r.Body, maxWriteHead+proto.MaxWrite), maxWriteHead)
	line, err := body.ReadSlice('\n')
	if err != nil {
		http.Error(w, "the body does not start with a request line", http.StatusBadRequest)
		return
	}
	var req proto.WriteRequest
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		http.Error(w, "malformed request line", http.StatusBadRequest)
		return
	}
	total, ok := spansTotal(req)
	if !ok {
		http.Error(w, "spans or sizes out of range", http.StatusBadRequest)
		return
	}
	if r.ContentLength >= 0 && r.ContentLength != int64(len(line))+total {
		http.Error(w, "the body's length is not the request line's and its spans'", http.StatusBadRequest)
		return
	}
	if !within(m.root, string(req.Path)) {
		writeFailure(w, proto.Failure{Errno: "EACCES", Message: "outside the mount's root"})
		return
	}
	attr, fail := writeSpans(req, body)
	if fail != nil {
		writeFailure(w, *fail)
		return
	}
	writeJSON(w, proto.WriteResult{Attr: attr})
}

// spansTotal checks a write's spans and sizes and returns its bytes.
func spansTotal(req proto.WriteRequest) (int64, bool) {
	const maxSize = 1 << 62
	if len(req.Spans) > proto.MaxSpans ||
		req.TruncateTo != nil && (*req.TruncateTo < 0 || *req.TruncateTo > maxSize) ||
		req.Size != nil && (*req.Size < 0 || *req.Size > maxSize) {
		return 0, false
	}
	var total int64
	for _, sp := range req.Spans {
		if sp[0] < 0 || sp[1] < 1 || sp[0] > maxSize || sp[1] > proto.MaxWrite-total {
			return 0, false
		}
		total += sp[1]
	}
	return total, true
}

// writeFailure answers 409 with f.
func writeFailure(w http.ResponseWriter, f proto.Failure) {
	b, _ := json.Marshal(f) // a struct of strings and numbers always encodes
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusConflict)
	w.Write(append(b, '\n'))
}

// decodeBody decodes r's JSON body into v: at most proto.MaxBody bytes
// (else 413), one value with no unknown fields (else 400). It answers
// the failure itself and reports whether v may be used.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, proto.MaxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("data after the request")
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		http.Error(w, "request body larger than the protocol allows", http.StatusRequestEntityTooLarge)
		return false
	}
	http.Error(w, "malformed request: "+err.Error(), http.StatusBadRequest)
	return false
}

// run answers one op of mount m: a kind protocol 1 serves, valid, on
// paths in the mount's root (else EACCES), by exec.
func (h *handler) run(m *mount, op helper.Op) helper.Result {
	if r, refused := refusal(op); refused {
		return r
	}
	if !within(m.root, op.Path) || op.Path2 != "" && !within(m.root, op.Path2) {
		return failed("EACCES", "outside the mount's root")
	}
	return h.exec(op)
}

// refusal answers an op that is not run at all: a kind protocol 1 does
// not serve (ENOSYS), or one helper.Validate rejects (its errno, as the
// client answers it without sending it to the script).
func refusal(op helper.Op) (helper.Result, bool) {
	if !proto.Serves(op.Kind) {
		return failed("ENOSYS", "not served by agent protocol 1"), true
	}
	if err := helper.Validate(op); err != nil {
		var oe *helper.OpError
		if errors.As(err, &oe) {
			return helper.Result{Err: oe}, true
		}
		return failed("EINVAL", err.Error()), true
	}
	return helper.Result{}, false
}

// allow answers 405 and reports false unless r's method is method.
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// failed is a result that failed with errno and msg.
func failed(errno, msg string) helper.Result {
	return helper.Result{Err: &helper.OpError{Errno: errno, Message: msg}}
}

// writeJSON answers 200 with v.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}
