package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

const testToken = "ark_test_0123456789"

// env is a started emulator and a plain net/http client for it.
type env struct {
	t      *testing.T
	s      *Server
	home   string
	url    string
	client *http.Client
}

// newEnv starts an emulator over a fresh home directory.
func newEnv(t *testing.T, mods ...func(*Options)) *env {
	t.Helper()
	home := t.TempDir()
	opts := Options{Home: home, Token: testToken}
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
	e := &env{t: t, s: s, home: home, url: url, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		s.Close()
		tr.CloseIdleConnections()
	})
	return e
}

// request sends a request with the bearer token (unless hdr overrides
// Authorization) and returns the status and body. A transport error is
// returned, not fatal.
func (e *env) request(method, path string, body []byte, hdr map[string]string) (*http.Response, []byte, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := path
	if len(path) > 0 && path[0] == '/' {
		url = e.url + path
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set(wire.HeaderAuthorization, "Bearer "+testToken)
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

// call is request with a JSON body that must get an answer.
func (e *env) call(method, path string, v any, hdr map[string]string) (int, []byte) {
	e.t.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
	}
	resp, b, err := e.request(method, path, body, hdr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, b
}

func (e *env) syncPath() string { return wire.PathVM + "local" + wire.SuffixSync }
func (e *env) runPath() string  { return wire.PathVM + "local" + wire.SuffixRun }

// read does a sync read and decodes the answer.
func (e *env) read(path string) (int, wire.SyncReadResponse, wire.ErrorBody) {
	e.t.Helper()
	status, b := e.call(http.MethodPost, e.syncPath(), wire.SyncReadRequest{Path: path}, nil)
	var ok wire.SyncReadResponse
	var bad wire.ErrorBody
	if status == http.StatusOK {
		mustUnmarshal(e.t, b, &ok)
	} else {
		mustUnmarshal(e.t, b, &bad)
	}
	return status, ok, bad
}

// write sends write entries and decodes the results.
func (e *env) write(entries ...wire.SyncWriteEntry) []wire.SyncWriteResult {
	e.t.Helper()
	status, b := e.call(http.MethodPost, e.syncPath(), wire.SyncWriteRequest{Writes: entries}, nil)
	if status != http.StatusOK {
		e.t.Fatalf("write: %d %s", status, b)
	}
	var resp wire.SyncWriteResponse
	mustUnmarshal(e.t, b, &resp)
	if len(resp.Results) != len(entries) {
		e.t.Fatalf("write: %d results for %d entries", len(resp.Results), len(entries))
	}
	return resp.Results
}

// run runs a command and decodes the answer.
func (e *env) run(command string, timeout float64, hdr map[string]string) (int, wire.RunResponse, []byte) {
	e.t.Helper()
	req := wire.RunRequest{Command: command}
	if timeout > 0 {
		req.Timeout = &timeout
	}
	status, b := e.call(http.MethodPost, e.runPath(), req, hdr)
	var resp wire.RunResponse
	if status == http.StatusOK {
		mustUnmarshal(e.t, b, &resp)
	}
	return status, resp, b
}

// put writes a file of home directly.
func (e *env) put(rel string, data []byte) {
	e.t.Helper()
	p := filepath.Join(e.home, rel)
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
	b, err := os.ReadFile(filepath.Join(e.home, rel))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("unmarshal %q: %v", b, err)
	}
}

// errorOf decodes an error body.
func errorOf(t *testing.T, b []byte) wire.ErrorBody {
	t.Helper()
	var eb wire.ErrorBody
	mustUnmarshal(t, b, &eb)
	return eb
}

func ptr[T any](v T) *T { return &v }
