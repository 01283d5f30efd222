package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

const testToken = "ark_test_0123456789"

var lineages = []wire.Lineage{wire.LineageA, wire.LineageB}

// env is a started emulator and a plain net/http client for it.
type env struct {
	t      *testing.T
	s      *Server
	l      wire.Lineage
	home   string
	tmp    string // the host directory of /tmp
	url    string
	client *http.Client
}

// newEnv starts an emulator of lineage l over a fresh home directory.
func newEnv(t *testing.T, l wire.Lineage, mods ...func(*Options)) *env {
	t.Helper()
	home, tmp := t.TempDir(), t.TempDir()
	opts := Options{Home: home, Token: testToken, Lineage: l, Mounts: map[string]string{"/tmp": tmp}}
	if testing.Verbose() {
		opts.Logf = t.Logf
	}
	for _, m := range mods {
		m(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	// No keep-alive: Go's transport silently retries some requests on a
	// reused connection that fails, which would hide injected faults.
	tr := &http.Transport{DisableKeepAlives: true}
	e := &env{t: t, s: s, l: l, home: home, tmp: tmp, url: url, client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
	t.Cleanup(func() {
		s.Close()
		tr.CloseIdleConnections()
	})
	return e
}

// forEach runs f as a subtest in each lineage.
func forEach(t *testing.T, f func(t *testing.T, l wire.Lineage)) {
	for _, l := range lineages {
		t.Run("lineage="+string(l), func(t *testing.T) { f(t, l) })
	}
}

// do sends a request with the bearer token (unless hdr sets Authorization;
// an empty value deletes a header) and returns the answer and its body.
func (e *env) do(method, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	resp, b, err := e.try(method, path, body, hdr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, b
}

// try is do returning a transport error instead of failing.
func (e *env) try(method, path string, body []byte, hdr map[string]string) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := path
	if len(path) > 0 && path[0] == '/' {
		url = e.url + path
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set(wire.HeaderAuthorization, "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// call sends v as JSON (a string or []byte is sent as is) and returns the
// status and body.
func (e *env) call(method, path string, v any, hdr map[string]string) (int, []byte) {
	e.t.Helper()
	var body []byte
	switch v := v.(type) {
	case nil:
	case string:
		body = []byte(v)
	case []byte:
		body = v
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
	}
	resp, b := e.do(method, path, body, hdr)
	return resp.StatusCode, b
}

// vm is the path of the VM's endpoint with suffix.
func vm(suffix string) string { return wire.PathVMs + DefaultVMID + suffix }

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
}

// wantError checks an error answer: status, code, and the envelope form of
// the lineage. It returns the error object.
func (e *env) wantError(status int, body []byte, wantStatus int, wantCode string) map[string]any {
	e.t.Helper()
	if status != wantStatus {
		e.t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	var env map[string]map[string]any
	if err := json.Unmarshal(body, &env); err != nil || len(env) != 1 || env["error"] == nil {
		e.t.Fatalf("not an error envelope: %s", body)
	}
	obj := env["error"]
	if obj["code"] != wantCode {
		e.t.Fatalf("code %v, want %s: %s", obj["code"], wantCode, body)
	}
	if _, ok := obj["message"].(string); !ok {
		e.t.Fatalf("no message: %s", body)
	}
	if ts, _ := obj["timestamp"].(string); ts == "" {
		e.t.Fatalf("no timestamp: %s", body)
	}
	typed := []string{"request_id", "request", "details", "recovery", "retry_after_seconds", "stage"}
	flat := []string{"retry_after", "retryable"}
	other := flat
	if e.l == wire.LineageB {
		other = typed
	}
	for _, k := range other {
		if _, ok := obj[k]; ok {
			e.t.Fatalf("lineage %s error carries %s: %s", e.l, k, body)
		}
	}
	if e.l == wire.LineageA {
		req, _ := obj["request"].(map[string]any)
		if id, _ := obj["request_id"].(string); id == "" || req == nil {
			e.t.Fatalf("typed error without request_id/request: %s", body)
		}
		switch req["kind"] {
		case wire.RequestMatched:
			if op, _ := req["operation_id"].(string); op == "" {
				e.t.Fatalf("matched without operation_id: %s", body)
			}
		case wire.RequestUnmatched:
			if m, _ := req["method"].(string); m == "" {
				e.t.Fatalf("unmatched without method: %s", body)
			}
		default:
			e.t.Fatalf("request.kind %v: %s", req["kind"], body)
		}
		if got := wire.StatusOf(wantCode); got != 0 && got != wantStatus && wantStatus != http.StatusPreconditionFailed &&
			wantStatus != http.StatusRequestedRangeNotSatisfiable {
			e.t.Fatalf("code %s answered with %d, its status is %d", wantCode, wantStatus, got)
		}
	}
	return obj
}

// violations returns the fields of a typed bad_request's violations.
func violations(obj map[string]any) []string {
	d, _ := obj["details"].(map[string]any)
	vs, _ := d["violations"].([]any)
	var out []string
	for _, v := range vs {
		m, _ := v.(map[string]any)
		f, _ := m["field"].(string)
		out = append(out, f)
	}
	return out
}

// put writes a file of home directly.
func (e *env) put(rel string, data []byte) {
	e.t.Helper()
	p := filepath.Join(e.home, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// get reads a file of home directly.
func (e *env) get(rel string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.home, filepath.FromSlash(rel)))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// chunk is a chunk write entry of bytes [start, start+len(data)) of a file
// of size bytes.
func chunk(path, id string, data []byte, start, size int64) map[string]any {
	return map[string]any{"path": path, "size": size, "upload_id": id,
		"content": base64.StdEncoding.EncodeToString(data), "start": start, "end": start + int64(len(data))}
}

// write sends one write request and returns its results.
func (e *env) write(entries ...map[string]any) []wire.SyncWriteResult {
	e.t.Helper()
	status, b := e.call(http.MethodPost, vm("/sync"), map[string]any{"op": "write", "writes": entries}, nil)
	if status != http.StatusOK {
		e.t.Fatalf("write: %d %s", status, b)
	}
	var resp wire.SyncWriteResponse
	mustJSON(e.t, b, &resp)
	if !resp.OK || resp.Op != wire.OpWrite || len(resp.Results) != len(entries) {
		e.t.Fatalf("write answer %s", b)
	}
	return resp.Results
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func requireRun(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("runs need Linux mount namespaces")
	}
}

// runResult is a 200 or 202 answer of POST …/runs, decoded loosely.
type runResult struct {
	Status         int
	RunID          string  `json:"run_id"`
	SessionID      string  `json:"session_id"`
	State          string  `json:"state"`
	Stdout         string  `json:"stdout"`
	StdoutEncoding string  `json:"stdout_encoding"`
	Stderr         string  `json:"stderr"`
	StderrEncoding string  `json:"stderr_encoding"`
	ExitCode       *int    `json:"exit_code"`
	FailReason     *string `json:"fail_reason"`
	Body           string
}

// run posts a run request (a map or raw JSON) with optional headers.
func (e *env) run(req any, hdr map[string]string) runResult {
	e.t.Helper()
	status, b := e.call(http.MethodPost, vm("/runs"), req, hdr)
	var r runResult
	if status == http.StatusOK || status == http.StatusAccepted {
		mustJSON(e.t, b, &r)
	}
	r.Status, r.Body = status, string(b)
	return r
}

// getRun fetches GET …/runs/{id}.
func (e *env) getRun(id string) runResult {
	e.t.Helper()
	status, b := e.call(http.MethodGet, vm("/runs/"+id), nil, nil)
	if status != http.StatusOK {
		e.t.Fatalf("get run %s: %d %s", id, status, b)
	}
	var r runResult
	mustJSON(e.t, b, &r)
	r.Status, r.Body = status, string(b)
	return r
}

// waitRun polls a run until it is terminal.
func (e *env) waitRun(id string, within time.Duration) runResult {
	e.t.Helper()
	var r runResult
	eventually(e.t, within, fmt.Sprintf("run %s ends", id), func() bool {
		r = e.getRun(id)
		return r.State == wire.RunCompleted || r.State == wire.RunFailed || r.State == wire.RunCancelled
	})
	return r
}

func exit(r runResult) int {
	if r.ExitCode == nil {
		return -1000
	}
	return *r.ExitCode
}
