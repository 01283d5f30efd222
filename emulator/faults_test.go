package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

func TestFaultStatus(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		after, yes := int64(3), true
		e.s.InjectFault(Fault{Endpoint: EndpointVM, Kind: FaultStatus, Times: 2, After: 1, RetryAfter: &after, Retryable: &yes, Work: wire.WorkNotStarted})
		if status, _ := e.call("GET", vm(""), nil, nil); status != 200 {
			t.Fatalf("after 1: %d", status)
		}
		for range 2 {
			resp, b := e.do("GET", vm(""), nil, nil)
			obj := e.wantError(resp.StatusCode, b, 503, wire.CodeUnavailable)
			if resp.Header.Get("Retry-After") != "3" {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			if l == wire.LineageA {
				rec, _ := obj["recovery"].(map[string]any)
				if obj["retry_after_seconds"] != float64(3) || rec["work"] != wire.WorkNotStarted {
					t.Errorf("typed hints: %s", b)
				}
			} else if obj["retry_after"] != float64(3) || obj["retryable"] != true {
				t.Errorf("flat hints: %s", b)
			}
		}
		if status, _ := e.call("GET", vm(""), nil, nil); status != 200 {
			t.Fatalf("used up: %d", status)
		}
		e.s.InjectFault(Fault{Kind: FaultStatus, Code: wire.CodeRateLimited})
		status, b := e.call("GET", "/v1/whoami", nil, nil)
		e.wantError(status, b, 429, wire.CodeRateLimited)
	})
}

func TestFaultConnection(t *testing.T) {
	e := newEnv(t, wire.LineageA)
	e.s.InjectFault(Fault{Endpoint: EndpointSyncWrite, Kind: FaultDrop})
	if _, _, err := e.try("POST", vm("/sync"), []byte(`{"op":"write","writes":[`+entryJSON("/home/user/d1")+`]}`), nil); err == nil {
		t.Fatal("drop: answered")
	}
	if _, err := readFile(e, "d1"); err == nil {
		t.Fatal("drop: the write landed")
	}
	e.s.InjectFault(Fault{Endpoint: EndpointSyncWrite, Kind: FaultDropAfter})
	if _, _, err := e.try("POST", vm("/sync"), []byte(`{"op":"write","writes":[`+entryJSON("/home/user/d2")+`]}`), nil); err == nil {
		t.Fatal("drop_after: answered")
	}
	if b, err := readFile(e, "d2"); err != nil || string(b) != "x" {
		t.Fatalf("drop_after: the write did not land: %v", err)
	}
	e.s.InjectFault(Fault{Endpoint: EndpointWhoami, Kind: FaultTruncate})
	if resp, b, err := e.try("GET", "/v1/whoami", nil, nil); err == nil {
		t.Fatalf("truncate: %d %q", resp.StatusCode, b)
	}
	e.s.InjectFault(Fault{Endpoint: EndpointHealth, Kind: FaultDelay, Delay: 200 * time.Millisecond})
	start := time.Now()
	e.call("GET", "/v1/health", nil, nil)
	if time.Since(start) < 200*time.Millisecond {
		t.Error("delay: no delay")
	}
	// expire hits presigned GETs only.
	e.s.opts.InlineReadMax = 1
	e.put("f", []byte("abc"))
	e.s.InjectFault(Fault{Kind: FaultExpire})
	r := e.read("/home/user/f")
	resp, b := e.presigned(r.PresignedURL, "")
	e.wantError(resp.StatusCode, b, 403, wire.CodeForbidden)
	resp, b = e.presigned(r.PresignedURL, "")
	if resp.StatusCode != 200 || string(b) != "abc" {
		t.Fatalf("after expire: %d %q", resp.StatusCode, b)
	}
}

func entryJSON(path string) string {
	b, _ := json.Marshal(chunk(path, "F"+path, []byte("x"), 0, 1))
	return string(b)
}

func readFile(e *env, rel string) ([]byte, error) {
	e.t.Helper()
	status, b := e.call("POST", vm("/sync"), map[string]any{"op": "read", "path": "/home/user/" + rel}, nil)
	if status != 200 {
		return nil, fmt.Errorf("read %s: %d %s", rel, status, b)
	}
	var r wire.SyncReadResponse
	mustJSON(e.t, b, &r)
	return []byte(*r.Content), nil
}

func TestAdminEndpoints(t *testing.T) {
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		e.call("GET", "/v1/health", nil, nil)
		status, b := e.call("GET", "/_emulator/stats", nil, nil)
		var st Stats
		mustJSON(t, b, &st)
		if status != 200 || st.Requests[EndpointHealth] != 1 {
			t.Fatalf("stats: %d %s", status, b)
		}
		if status, _ := e.call("POST", "/_emulator/faults", `{"endpoint":"whoami","kind":"status","code":"internal","times":1}`, nil); status != 200 {
			t.Fatalf("add fault: %d", status)
		}
		status, b = e.call("GET", "/v1/whoami", nil, nil)
		e.wantError(status, b, 500, wire.CodeInternal)
		for _, body := range []string{`{"kind":"nope"}`, `{"kind":"drop","endpoint":"run"}`, `{"kind":"drop","extra":1}`} {
			status, b := e.call("POST", "/_emulator/faults", body, nil)
			e.wantError(status, b, 400, wire.CodeBadRequest)
		}
		e.call("POST", "/_emulator/faults", `{"kind":"status","times":-1}`, nil)
		if status, _ := e.call("DELETE", "/_emulator/faults", nil, nil); status != 200 {
			t.Fatal("clear faults")
		}
		if status, _ := e.call("GET", "/v1/whoami", nil, nil); status != 200 {
			t.Fatal("faults not cleared")
		}
		if status, _ := e.call("POST", "/_emulator/latency", `{"latency_ms":5}`, nil); status != 200 || e.s.latency.Load() != int64(5*time.Millisecond) {
			t.Fatal("latency")
		}
		e.call("POST", "/_emulator/reset", nil, nil)
		if st := e.s.Stats(); len(st.Requests) != 0 {
			t.Errorf("after reset: %+v", st)
		}
		resp, b := e.do("GET", "/_emulator/stats", nil, map[string]string{"Authorization": ""})
		if resp.StatusCode != 401 {
			t.Errorf("admin without a key: %d %s", resp.StatusCode, b)
		}
		status, b = e.call("GET", "/_emulator/nope", nil, nil)
		e.wantError(status, b, 404, wire.CodeNotFound)
		if !strings.Contains(string(b), "not_found") {
			t.Error(string(b))
		}
	})
}

func TestLatency(t *testing.T) {
	e := newEnv(t, wire.LineageA, func(o *Options) { o.Latency = 50 * time.Millisecond })
	start := time.Now()
	e.call("GET", "/v1/health", nil, nil)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("a round trip took %v with 50ms each way", d)
	}
}

func TestRunLatency(t *testing.T) {
	requireRun(t)
	e := newEnv(t, wire.LineageA, func(o *Options) { o.RunLatency = 300 * time.Millisecond })
	start := time.Now()
	r := e.run(map[string]any{"command": "true"}, nil)
	if r.Status != 200 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("run %d in %v", r.Status, time.Since(start))
	}
}
