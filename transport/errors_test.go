package transport_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/emulator"
)

// rawServer answers every request with handler: for answers the emulator
// cannot give (bodies that are not JSON, statuses without a body, stalls).
func rawServer(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(handler)
	t.Cleanup(s.Close)
	return s.URL
}

// rawClient is a client of a raw server, retries off unless mods say so.
func rawClient(t *testing.T, url string, mods ...func(*transport.Config)) *transport.Client {
	t.Helper()
	cfg := transport.Config{APIKey: testKey, BaseURL: url, VMID: "local", Retry: transport.RetryPolicy{Attempts: 1},
		RequestTimeout: 5 * time.Second, TransferStall: 5 * time.Second}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := transport.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		status    int
		body      string
		code      transport.Code
		retryable bool
	}{
		// Statuses without a JSON body.
		{400, "bad", transport.CodeBadRequest, false},
		{401, "", transport.CodeUnauthorized, false},
		{403, "<html>", transport.CodeForbidden, false},
		{404, "", transport.CodeNotFound, false},
		{409, "", transport.CodeConflict, false},
		{412, "", transport.CodeStale, false},
		{413, "", transport.CodePayloadTooLarge, false},
		{429, "", transport.CodeResourcePressure, true},
		{500, "oops", transport.CodeInternal, true},
		{501, "", transport.CodeNotImplemented, false},
		{502, "", transport.CodeUnavailable, true},
		{503, "", transport.CodeUnavailable, true},
		{504, "", transport.CodeTimeout, true},
		{507, "", transport.CodeNoSpace, false},
		// API error bodies, with and without errno.
		{404, `{"code":"not_found","message":"no such file","errno":"ENOENT"}`, transport.CodeNotFound, false},
		{400, `{"code":"bad_request","message":"is a directory","errno":"EISDIR"}`, transport.CodeIsDir, false},
		{400, `{"code":"bad_request","errno":"ENOTDIR"}`, transport.CodeNotDir, false},
		{403, `{"code":"forbidden","errno":"EACCES"}`, transport.CodePermission, false},
		{507, `{"code":"resource_pressure","message":"disk full","errno":"ENOSPC"}`, transport.CodeNoSpace, false},
		{503, `{"code":"resource_pressure","message":"memory"}`, transport.CodeResourcePressure, true},
		{412, `{"code":"conflict","errno":"ESTALE"}`, transport.CodeStale, false},
		{500, `{"code":"internal","errno":"EWHATEVER"}`, transport.CodeInternal, true},
		{501, `{"code":"unsupported_operation"}`, transport.CodeUnsupportedOperation, false},
		{401, `{"code":"unauthorized","message":"bad key"}`, transport.CodeUnauthorized, false},
		{418, `{"code":"some_new_code"}`, transport.Code("some_new_code"), false},
	}
	for _, tc := range cases {
		url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(tc.body))
		})
		_, err := rawClient(t, url).Open(ctxT(t), "/home/user/f")
		var e *transport.Error
		if !errors.As(err, &e) {
			t.Errorf("%d %s: %T %v, want *Error", tc.status, tc.body, err, err)
			continue
		}
		if e.Code != tc.code || e.Status != tc.status || e.Op != "sync read" || e.Path != "/home/user/f" {
			t.Errorf("%d %s: %+v, want code %s", tc.status, tc.body, e, tc.code)
		}
		if transport.IsRetryable(err) != tc.retryable {
			t.Errorf("%d %s: retryable %v", tc.status, tc.body, !tc.retryable)
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	for _, body := range []string{"not json", `{"path":"/home/user/f","size":3}`, `{"size":2,"content":"abc","encoding":"utf-8"}`, `{"size":1,"content":"x","encoding":"rot13"}`} {
		url := rawServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
		_, err := rawClient(t, url).Open(ctxT(t), "/home/user/f")
		if transport.CodeOf(err) != transport.CodeProtocol || transport.IsRetryable(err) {
			t.Errorf("answer %s: %v, want a permanent protocol error", body, err)
		}
	}
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"run_id":"r","state":"completed","stdout":"%%%","stdout_encoding":"base64","exit_code":0}`))
	})
	if _, err := rawClient(t, url).Run(ctxT(t), "true", transport.RunOptions{}); transport.CodeOf(err) != transport.CodeProtocol {
		t.Errorf("bad base64 stdout: %v, want protocol", err)
	}
}

func TestNetworkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := rawClient(t, "http://"+addr, func(c *transport.Config) { c.Retry = fastRetry })
	_, err = c.DescribeVM(ctxT(t))
	var e *transport.Error
	if !errors.As(err, &e) || e.Code != transport.CodeNetworkError || e.Err == nil || !transport.IsRetryable(err) {
		t.Fatalf("refused connection: %#v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("the cause is not wrapped: %v", err)
	}
}

func TestUnauthorizedAndUnknownVM(t *testing.T) {
	e := newEmu(t)
	bad := e.client(t, func(c *transport.Config) { c.APIKey = "ark_wrong_key" })
	if _, err := bad.DescribeVM(ctxT(t)); transport.CodeOf(err) != transport.CodeUnauthorized {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := bad.Open(ctxT(t), "/home/user/x"); transport.CodeOf(err) != transport.CodeUnauthorized {
		t.Fatalf("wrong key, sync read: %v", err)
	}
	if n := e.requests(emulator.EndpointVM); n != 1 {
		t.Fatalf("unauthorized was retried: %d requests", n)
	}
	other := e.client(t, func(c *transport.Config) { c.VMID = "no such/vm" })
	if _, err := other.DescribeVM(ctxT(t)); !transport.IsNotFound(err) {
		t.Fatalf("unknown VM: %v", err)
	}
	if _, err := other.Run(ctxT(t), "true", transport.RunOptions{}); !transport.IsNotFound(err) {
		t.Fatalf("unknown VM, run: %v", err)
	}
}

func TestCancelled(t *testing.T) {
	e := newEmu(t)
	c := e.client(t)
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointRun, Kind: emulator.FaultDelay, Delay: 20 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, "true", transport.RunOptions{IdempotencyKey: newID()})
		done <- err
	}()
	// Cancel once the request is in: the emulator counts it before the delay.
	waitFor(t, func() bool { return e.requests(emulator.EndpointRun) == 1 })
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || transport.IsRetryable(err) {
			t.Fatalf("cancelled run: %v", err)
		}
		var te *transport.Error
		if !errors.As(err, &te) || te.Op != "run" {
			t.Fatalf("not an *Error with its op: %#v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("cancellation took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled run did not return")
	}
}

func TestDeadlineIsTimeout(t *testing.T) {
	e := newEmu(t)
	c := e.client(t)
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointSyncRead, Kind: emulator.FaultDelay, Delay: 20 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Open(ctx, "/home/user/x")
	if transport.CodeOf(err) != transport.CodeTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller's deadline: %v", err)
	}
}

func TestRequestTimeout(t *testing.T) {
	e := newEmu(t)
	c := e.client(t, func(c *transport.Config) { c.RequestTimeout = 300 * time.Millisecond })
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointSyncRead, Kind: emulator.FaultDelay, Delay: 20 * time.Second, Times: -1})
	start := time.Now()
	_, err := c.Open(ctxT(t), "/home/user/x")
	d := time.Since(start)
	if transport.CodeOf(err) != transport.CodeTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed answer: %v, want timeout", err)
	}
	// 4 attempts of 300ms and short backoffs: well under the 20s delay.
	if n := e.requests(emulator.EndpointSyncRead); n != 4 || d > 5*time.Second {
		t.Fatalf("%d attempts in %v", n, d)
	}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// A base URL may carry a path prefix, and the VM id is one escaped path
// segment whatever it holds.
func TestBaseURLPrefixAndEscapedVMID(t *testing.T) {
	const vm = "odd id/with?#%"
	s, err := emulator.New(emulator.Options{Home: t.TempDir(), Token: testKey, VMID: vm})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	url := rawServer(t, http.StripPrefix("/api", s.Handler()).ServeHTTP)
	c := rawClient(t, url+"/api/", func(c *transport.Config) { c.VMID = vm })
	info, err := c.DescribeVM(ctxT(t))
	if err != nil || info.ID != vm {
		t.Fatalf("DescribeVM through /api with an odd id: %+v %v", info, err)
	}
	mustUpload(t, c, up("/home/user/x", []byte("prefixed")))
	if got := readAll(t, c, "/home/user/x"); string(got) != "prefixed" {
		t.Fatalf("read %q", got)
	}
}
