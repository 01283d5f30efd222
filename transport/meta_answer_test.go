package transport_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
	"github.com/arker-ai/arkerfs/transport/wire"
)

// runAnswerer is an HTTP server whose run endpoint gives canned answers:
// the emulator runs the real helper, which never answers garbage, so the
// transport's handling of broken answers is checked against this.
type runAnswerer struct {
	mu     sync.Mutex // protects the fields below
	answer wire.RunResponse
	keys   []string // Idempotency-Key of each run request
}

func (a *runAnswerer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, wire.SuffixRun) {
		http.NotFound(w, r)
		return
	}
	a.mu.Lock()
	a.keys = append(a.keys, r.Header.Get(wire.HeaderIdempotencyKey))
	answer := a.answer
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

func (a *runAnswerer) set(stdout, stderr string, exit int) {
	a.mu.Lock()
	a.answer = wire.RunResponse{RunID: "run_1", State: wire.RunCompleted, Stdout: stdout, StdoutEncoding: wire.EncodingUTF8,
		Stderr: stderr, StderrEncoding: wire.EncodingUTF8, ExitCode: exit}
	a.mu.Unlock()
}

func TestMetaBrokenAnswers(t *testing.T) {
	a := &runAnswerer{}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	c, err := transport.New(transport.Config{APIKey: testKey, BaseURL: srv.URL, VMID: "local", Retry: fastRetry,
		RequestTimeout: 10 * time.Second, TransferStall: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := ctxT(t)
	op := transport.MetaOp{Kind: helper.OpStat, Path: wire.HomeDir}

	a.set("arkerfs-meta\x001\x00op\x000\x00stat\x00ok\x00", "", 0)
	_, err = c.Meta(ctx, op)
	wantCode(t, "output cut short", err, transport.CodeProtocol)

	a.set("", "sh: 1: syntax error", 2)
	_, err = c.Meta(ctx, op)
	wantCode(t, "non-zero exit", err, transport.CodeProtocol)
	if err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("error lacks the stderr excerpt: %v", err)
	}

	a.set("arkerfs-meta\x001\x00fatal\x00ENOTSUP\x00GNU find is required\x00", "", 0)
	res, err := c.Meta(ctx, op, op)
	wantCode(t, "fatal", err, transport.CodeUnsupportedOperation)
	if len(res) != 2 || res[0].Err != err || res[1].Err != err {
		t.Errorf("results of a failed run: %+v", res)
	}

	a.mu.Lock()
	keys := append([]string(nil), a.keys...)
	a.mu.Unlock()
	seen := map[string]bool{}
	for _, k := range keys {
		if k == "" || seen[k] {
			t.Errorf("run keys %q: each run needs its own", keys)
			break
		}
		seen[k] = true
	}
}
