package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// vmStatus does GET /v1/vms/local and returns the status, or 0 when the
// connection failed.
func (e *env) vmStatus() int {
	e.t.Helper()
	resp, _, err := e.request(http.MethodGet, wire.PathVM+"local", nil, nil)
	if err != nil {
		return 0
	}
	return resp.StatusCode
}

func TestFaultStatusCounts(t *testing.T) {
	e := newEnv(t)
	e.s.InjectFault(Fault{Endpoint: EndpointVM, Kind: FaultStatus, Status: 500, Code: wire.CodeInternal, After: 1, Times: 2})
	var got []int
	for range 4 {
		got = append(got, e.vmStatus())
	}
	if fmt.Sprint(got) != "[200 500 500 200]" {
		t.Fatalf("statuses %v", got)
	}
	// The error body carries the code; the default is 503 unavailable.
	e.s.InjectFault(Fault{Kind: FaultStatus})
	status, b := e.call(http.MethodPost, e.syncPath(), wire.SyncReadRequest{Path: "/home/user/x"}, nil)
	if status != 503 || errorOf(t, b).Code != wire.CodeUnavailable {
		t.Fatalf("%d %s", status, b)
	}
	// Times -1 lasts until ClearFaults; other endpoints are untouched.
	e.s.InjectFault(Fault{Endpoint: EndpointVM, Kind: FaultStatus, Status: 429, Code: wire.CodeResourcePressure, Times: -1})
	for range 3 {
		if st := e.vmStatus(); st != 429 {
			t.Fatalf("status %d", st)
		}
	}
	if st, _, _ := e.read("/home/user/x"); st != 404 {
		t.Fatalf("sync read hit by a vm fault: %d", st)
	}
	e.s.ClearFaults()
	if st := e.vmStatus(); st != 200 {
		t.Fatalf("after ClearFaults: %d", st)
	}
}

func TestFaultDrop(t *testing.T) {
	e := newEnv(t)
	e.s.InjectFault(Fault{Endpoint: EndpointSyncWrite, Kind: FaultDrop})
	_, _, err := e.request(http.MethodPost, e.syncPath(), mustJSON(t, wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{chunk("/home/user/d", "d1", []byte("x"))}}), nil)
	if err == nil {
		t.Fatal("dropped request answered")
	}
	if _, err := os.Stat(filepath.Join(e.home, "d")); err == nil {
		t.Fatal("a dropped write landed")
	}
	if r := e.write(chunk("/home/user/d", "d1", []byte("x")))[0]; r.Error != nil {
		t.Fatalf("retry: %+v", r.Error)
	}
}

func TestFaultDropAfter(t *testing.T) {
	e := newEnv(t)
	e.s.InjectFault(Fault{Endpoint: EndpointSyncWrite, Kind: FaultDropAfter})
	w := chunk("/home/user/da", "da1", []byte("landed"))
	_, _, err := e.request(http.MethodPost, e.syncPath(), mustJSON(t, wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{w}}), nil)
	if err == nil {
		t.Fatal("dropped request answered")
	}
	if got := e.get("da"); string(got) != "landed" {
		t.Fatalf("content %q", got)
	}
	// The retry is answered from the stored result.
	if r := e.write(w)[0]; r.Error != nil || !r.Committed {
		t.Fatalf("retry: %+v", r)
	}
}

func TestFaultTruncate(t *testing.T) {
	e := newEnv(t)
	e.put("t.txt", bytes.Repeat([]byte("t"), 3000))
	e.s.InjectFault(Fault{Endpoint: EndpointSyncRead, Kind: FaultTruncate})
	req, _ := http.NewRequest(http.MethodPost, e.url+e.syncPath(), strings.NewReader(`{"path":"/home/user/t.txt"}`))
	req.Header.Set(wire.HeaderAuthorization, "Bearer "+testToken)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil || resp.ContentLength <= 0 || int64(len(b)) != resp.ContentLength/2 {
		t.Fatalf("read %d of %d bytes, err %v", len(b), resp.ContentLength, err)
	}
	// Blobs too.
	data := bigFile(t, e, "big")
	r := e.presigned("/home/user/big")
	e.s.InjectFault(Fault{Endpoint: EndpointBlobGet, Kind: FaultTruncate})
	if _, _, err := e.request(http.MethodGet, r.PresignedURL, nil, nil); err == nil {
		t.Fatal("truncated blob read whole")
	}
	if _, b, err := e.request(http.MethodGet, r.PresignedURL, nil, nil); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("after the fault: %v", err)
	}
}

func TestFaultExpire(t *testing.T) {
	e := newEnv(t)
	bigFile(t, e, "big")
	r := e.presigned("/home/user/big")
	e.s.InjectFault(Fault{Kind: FaultExpire})
	if st := e.vmStatus(); st != 200 {
		t.Fatalf("expire hit a non-blob request: %d", st)
	}
	resp, b, err := e.request(http.MethodGet, r.PresignedURL, nil, map[string]string{"Range": "bytes=0-0"})
	if err != nil || resp.StatusCode != 403 || errorOf(t, b).Message != "presigned URL expired" {
		t.Fatalf("%v %v %s", err, resp, b)
	}
	resp, _, _ = e.request(http.MethodGet, r.PresignedURL, nil, map[string]string{"Range": "bytes=0-0"})
	if resp.StatusCode != 206 {
		t.Fatalf("after the fault: %d", resp.StatusCode)
	}
}

func TestFaultDelay(t *testing.T) {
	logs := make(chan string, 100)
	e := newEnv(t, func(o *Options) {
		o.Logf = func(format string, args ...any) {
			select {
			case logs <- fmt.Sprintf(format, args...):
			default:
			}
		}
	})
	e.s.InjectFault(Fault{Endpoint: EndpointVM, Kind: FaultDelay, Delay: 150 * time.Millisecond})
	start := time.Now()
	if st := e.vmStatus(); st != 200 || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("status %d after %v", st, time.Since(start))
	}
	// A client that gives up cancels the delayed request: it is not processed.
	e.s.InjectFault(Fault{Endpoint: EndpointSyncWrite, Kind: FaultDelay, Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	body := mustJSON(t, wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{chunk("/home/user/late", "l1", []byte("x"))}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+e.syncPath(), bytes.NewReader(body))
	req.Header.Set(wire.HeaderAuthorization, "Bearer "+testToken)
	if _, err := e.client.Do(req); err == nil {
		t.Fatal("request answered")
	}
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case l := <-logs:
			done = strings.Contains(l, "POST sync.write:")
		case <-deadline:
			t.Fatal("the delayed handler did not end")
		}
	}
	if _, err := os.Stat(filepath.Join(e.home, "late")); err == nil {
		t.Fatal("a cancelled write landed")
	}
}

func TestLatency(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Latency = 40 * time.Millisecond })
	for _, d := range []time.Duration{40 * time.Millisecond, 0, 25 * time.Millisecond} {
		if d != 40*time.Millisecond {
			e.s.SetLatency(d)
		}
		start := time.Now()
		if st := e.vmStatus(); st != 200 {
			t.Fatalf("status %d", st)
		}
		took := time.Since(start)
		if took < 2*d {
			t.Errorf("latency %v: request took %v", d, took)
		}
		if d == 0 && took > 20*time.Millisecond {
			t.Logf("latency 0: request took %v", took)
		}
	}
	// Blobs too.
	bigFile(t, e, "big")
	r := e.presigned("/home/user/big")
	start := time.Now()
	if resp, _, err := e.request(http.MethodGet, r.PresignedURL, nil, map[string]string{"Range": "bytes=0-0"}); err != nil || resp.StatusCode != 206 {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("blob GET took %v", took)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	data := bigFile(t, e, "big")
	e.s.ResetStats()
	var in, out int64
	track := func(method, path string, body []byte, hdr map[string]string) []byte {
		resp, b, err := e.request(method, path, body, hdr)
		if err != nil || resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %v %v %s", method, path, err, resp, b)
		}
		in += int64(len(body))
		out += int64(len(b))
		return b
	}
	track(http.MethodGet, wire.PathVM+"local", nil, nil)
	b := track(http.MethodPost, e.syncPath(), []byte(`{"path":"/home/user/big"}`), nil)
	var rr wire.SyncReadResponse
	mustUnmarshal(t, b, &rr)
	track(http.MethodGet, rr.PresignedURL, nil, nil)
	size := int64(10)
	b = track(http.MethodPost, e.syncPath(), mustJSON(t, wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{{Type: wire.WritePresign, Path: "/home/user/p", UploadID: "p1", Size: &size}}}), nil)
	var wr wire.SyncWriteResponse
	mustUnmarshal(t, b, &wr)
	track(http.MethodPut, wr.Results[0].Parts[0].URL, data[:10], nil)
	track(http.MethodPost, e.runPath(), []byte(`{"command":"echo hi"}`), nil)
	st := e.s.Stats()
	want := map[string]int64{EndpointVM: 1, EndpointSyncRead: 1, EndpointBlobGet: 1, EndpointSyncWrite: 1, EndpointBlobPut: 1, EndpointRun: 1}
	if fmt.Sprint(st.Requests) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", st.Requests, want)
	}
	if st.BytesIn != in || st.BytesOut != out {
		t.Errorf("bytes in %d out %d, want %d and %d", st.BytesIn, st.BytesOut, in, out)
	}
	e.s.ResetStats()
	if st := e.s.Stats(); len(st.Requests) != 0 || st.BytesIn != 0 || st.BytesOut != 0 {
		t.Errorf("after reset: %+v", st)
	}
}

func TestAdminEndpoints(t *testing.T) {
	e := newEnv(t)
	e.vmStatus()
	status, b := e.call(http.MethodGet, "/_emulator/stats", nil, nil)
	var raw map[string]json.RawMessage
	mustUnmarshal(t, b, &raw)
	if status != 200 || string(raw["requests"]) != `{"vm":1}` || raw["bytes_in"] == nil || raw["bytes_out"] == nil {
		t.Fatalf("stats: %d %s", status, b)
	}
	if status, _ := e.call(http.MethodPost, "/_emulator/reset", nil, nil); status != 200 || len(e.s.Stats().Requests) != 0 {
		t.Fatalf("reset: %d %v", status, e.s.Stats())
	}
	fault := map[string]any{"endpoint": "vm", "kind": "status", "status": 502, "code": "unavailable", "times": -1}
	if status, b := e.call(http.MethodPost, "/_emulator/faults", fault, nil); status != 200 {
		t.Fatalf("faults: %d %s", status, b)
	}
	if st := e.vmStatus(); st != 502 {
		t.Fatalf("status %d", st)
	}
	if status, _ := e.call(http.MethodDelete, "/_emulator/faults", nil, nil); status != 200 || e.vmStatus() != 200 {
		t.Fatal("faults not cleared")
	}
	for _, bad := range []map[string]any{{"kind": "explode"}, {"kind": "drop", "endpoint": "nope"}, {"kind": "status", "status": 42}} {
		if status, b := e.call(http.MethodPost, "/_emulator/faults", bad, nil); status != 400 {
			t.Errorf("%v: %d %s", bad, status, b)
		}
	}
	e.call(http.MethodPost, "/_emulator/faults", map[string]any{"endpoint": "vm", "kind": "delay", "delay_ms": 60}, nil)
	start := time.Now()
	e.vmStatus()
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("delay fault: %v", took)
	}
	if status, _ := e.call(http.MethodPost, "/_emulator/latency", map[string]any{"latency_ms": 30}, nil); status != 200 {
		t.Fatal("latency")
	}
	start = time.Now()
	e.vmStatus()
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("latency 30ms: request took %v", took)
	}
	// Admin calls are not delayed nor counted.
	start = time.Now()
	e.call(http.MethodPost, "/_emulator/latency", map[string]any{"latency_ms": 0}, nil)
	if took := time.Since(start); took > 30*time.Millisecond {
		t.Logf("admin call took %v", took)
	}
	if n := e.s.Stats().Requests["vm"]; n != 4 {
		t.Errorf("vm requests %d", n)
	}
}

func TestRestartAfterClose(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(e.url, "http://")
	// An upload started before the server went down goes on after.
	e.write(wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/r", UploadID: "r1", Data: b64([]byte("part one, "))})
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := e.vmStatus(); st != 0 {
		t.Fatalf("closed server answered %d", st)
	}
	var url string
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for url, err = e.s.Start(addr); err != nil; url, err = e.s.Start(addr) {
		if time.Now().After(deadline) {
			t.Fatalf("restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if url != e.url || e.s.URL() != e.url {
		t.Fatalf("url %s, want %s", url, e.url)
	}
	if _, err := e.s.Start(addr); err == nil {
		t.Fatal("second Start succeeded")
	}
	r := e.write(wire.SyncWriteEntry{Type: wire.WriteChunk, Path: "/home/user/r", UploadID: "r1", Offset: 10, Data: b64([]byte("part two")), Final: true})[0]
	if r.Error != nil || string(e.get("r")) != "part one, part two" {
		t.Fatalf("%+v %q", r, e.get("r"))
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("/home/user/c%d", i)
			data := bytes.Repeat([]byte{byte(i)}, 1000*i)
			body := mustJSON(t, wire.SyncWriteRequest{Writes: []wire.SyncWriteEntry{chunk(name, fmt.Sprint("c", i), data)}})
			resp, b, err := e.request(http.MethodPost, e.syncPath(), body, nil)
			if err != nil || resp.StatusCode != 200 || !strings.Contains(string(b), `"committed":true`) {
				errs <- fmt.Errorf("%s: %v %s", name, err, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
