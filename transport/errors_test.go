package transport_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/arker-ai/arkerfs/transport"
)

const testKey = "ark_test_5ecret5ecret5ecret"

// fastRetry keeps retried tests quick: the SDKs' attempts, tiny waits.
var fastRetry = transport.RetryPolicy{Attempts: 4, Base: time.Millisecond, Max: 5 * time.Millisecond}

// rawServer answers every request with handler: for answers the emulator
// does not give (bodies that are not JSON, legacy forms, stalls).
func rawServer(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(handler)
	t.Cleanup(s.Close)
	return s.URL
}

// rawClient is a client of a raw server with fast retries.
func rawClient(t *testing.T, url string, mods ...func(*transport.Config)) *transport.Client {
	t.Helper()
	cfg := transport.Config{APIKey: testKey, BaseURL: url, VMID: "local", Retry: fastRetry,
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

// ctxT is a context bounded for one test step.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// answering is a handler that answers status, headers and body, and
// counts the requests.
func answering(n *atomic.Int64, status int, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

const ts = `"timestamp":"2025-01-01T00:00:00Z"`

func TestErrorEnvelopes(t *testing.T) {
	long := strings.Repeat("é", 400)
	cases := []struct {
		name      string
		status    int
		body      string
		hdr       []string
		code      transport.Code
		wire      string
		retryable bool
		check     func(t *testing.T, e *transport.Error)
	}{
		{"typed", 503, `{"error":{"code":"capacity_unavailable","message":"busy",` + ts + `,"request_id":"req_1",` +
			`"request":{"kind":"matched","operation_id":"sync"},"retry_after_seconds":1,"recovery":{"work":"not_started"}}}`,
			nil, transport.CodeUnavailable, "capacity_unavailable", true, func(t *testing.T, e *transport.Error) {
				if e.RequestID != "req_1" || e.RetryAfter != time.Second || e.Recovery != "not_started" || e.Message != "busy" {
					t.Errorf("typed fields: %+v", e)
				}
			}},
		{"typed, work unknown", 503, `{"error":{"code":"unavailable","message":"m",` + ts + `,"request_id":"r",` +
			`"request":{"kind":"matched","operation_id":"sync"},"recovery":{"work":"unknown"}}}`,
			nil, transport.CodeUnavailable, "unavailable", false, nil},
		{"typed not found", 404, `{"error":{"code":"not_found","message":"no file",` + ts + `,"request_id":"r",` +
			`"request":{"kind":"matched","operation_id":"sync"},"details":{"resource":"file"}}}`,
			nil, transport.CodeNotFound, "not_found", false, nil},
		{"flat", 429, `{"error":{"code":"rate_limited","message":"slow",` + ts + `,"retry_after":2,"retryable":true}}`,
			nil, transport.CodeRateLimited, "rate_limited", true, func(t *testing.T, e *transport.Error) {
				if e.RetryAfter != 2*time.Second {
					t.Errorf("retry_after: %v", e.RetryAfter)
				}
			}},
		{"flat, retryable false wins", 503, `{"error":{"code":"unavailable","message":"m",` + ts + `,"retryable":false}}`,
			nil, transport.CodeUnavailable, "unavailable", false, nil},
		{"flat, retryable true wins", 500, `{"error":{"code":"internal","message":"m",` + ts + `,"retryable":true}}`,
			nil, transport.CodeInternal, "internal", true, nil},
		{"flat B-only code", 502, `{"error":{"code":"stale_route","message":"m",` + ts + `}}`,
			nil, transport.CodeUnavailable, "stale_route", true, nil},
		{"legacy top level", 404, `{"code":"not_found","message":"gone"}`, nil, transport.CodeNotFound, "not_found", false, nil},
		{"older server code", 400, `{"error":{"code":"temporarily_unavailable","message":"m"}}`,
			nil, transport.CodeUnavailable, "temporarily_unavailable", true, nil},
		{"Retry-After header", 429, `{"error":{"code":"rate_limited","message":"m",` + ts + `}}`, []string{"Retry-After", "3"},
			transport.CodeRateLimited, "rate_limited", true, func(t *testing.T, e *transport.Error) {
				if e.RetryAfter != 3*time.Second {
					t.Errorf("Retry-After: %v", e.RetryAfter)
				}
			}},
		{"gateway timeout", 504, `{"error":{"code":"gateway_timeout","message":"m",` + ts + `,"request_id":"r","request":{"kind":"matched","operation_id":"sync"}}}`,
			nil, transport.CodeTimeout, "gateway_timeout", true, nil},
		{"unknown code", 418, `{"error":{"code":"some_new_code","message":"m",` + ts + `}}`,
			nil, transport.CodeInternal, "some_new_code", false, nil},
		{"unknown code, known status", 409, `{"error":{"code":"some_new_code","message":"m"}}`,
			nil, transport.CodeConflict, "some_new_code", false, nil},
		{"not JSON", 502, "<html>" + long + "</html>", nil, transport.CodeInternal, "", true, func(t *testing.T, e *transport.Error) {
			if n := utf8.RuneCountInString(e.Message); n != 300 || !strings.HasPrefix(e.Message, "<html>é") {
				t.Errorf("message of %d characters: %.40q", n, e.Message)
			}
		}},
		{"empty body", 500, "", nil, transport.CodeInternal, "", false, func(t *testing.T, e *transport.Error) {
			if e.Message != "HTTP 500" {
				t.Errorf("message %q", e.Message)
			}
		}},
		{"error plus other keys", 400, `{"error":{"code":"not_found","message":"m"},"x":1}`, nil, transport.CodeInternal, "", false, nil},
		{"code not a string", 400, `{"error":{"code":7,"message":"m"}}`, nil, transport.CodeInternal, "", false, nil},
		{"error-shaped 200", 200, `{"error":{"code":"forbidden","message":"no",` + ts + `}}`, nil, transport.CodeForbidden, "forbidden", false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			c := rawClient(t, rawServer(t, answering(&n, tc.status, tc.body, tc.hdr...)),
				func(c *transport.Config) { c.Retry = transport.RetryPolicy{Attempts: 1} })
			_, err := c.Open(ctxT(t), "/home/user/f")
			var e *transport.Error
			if !errors.As(err, &e) {
				t.Fatalf("%T %v, want *Error", err, err)
			}
			if e.Code != tc.code || e.Wire != tc.wire || e.Status != tc.status || e.Op != "sync read" || e.Path != "/home/user/f" {
				t.Errorf("%+v, want code %s wire %q", e, tc.code, tc.wire)
			}
			if transport.IsRetryable(err) != tc.retryable {
				t.Errorf("retryable %v, want %v", !tc.retryable, tc.retryable)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	for _, body := range []string{"not json", `{"ok":true,"op":"read","path":"/home/user/f","size":3}`,
		`{"ok":true,"op":"read","path":"/f","size":2,"content":"abc","encoding":"utf8"}`,
		`{"ok":true,"op":"read","path":"/f","size":1,"content":"x","encoding":"rot13"}`} {
		var n atomic.Int64
		_, err := rawClient(t, rawServer(t, answering(&n, 200, body))).Open(ctxT(t), "/home/user/f")
		if transport.CodeOf(err) != transport.CodeProtocol || transport.IsRetryable(err) || n.Load() != 1 {
			t.Errorf("answer %s: %v after %d requests, want one permanent protocol error", body, err, n.Load())
		}
	}
}

// TestRetryRules: replay-safe requests are retried on transient answers
// only, 4 attempts in all, and never when recovery.work forbids it.
func TestRetryRules(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		body     string
		attempts int64
	}{
		{"503", 503, `{"error":{"code":"unavailable","message":"m",` + ts + `}}`, 4},
		{"429", 429, "", 4},
		{"502", 502, "bad gateway", 4},
		{"500", 500, `{"error":{"code":"internal","message":"m",` + ts + `}}`, 1},
		{"400", 400, `{"error":{"code":"bad_request","message":"m",` + ts + `}}`, 1},
		{"409 with a transient code", 409, `{"error":{"code":"capacity_unavailable","message":"m"}}`, 4},
		{"work stopped", 503, `{"error":{"code":"unavailable","message":"m",` + ts + `,"request_id":"r",` +
			`"request":{"kind":"matched","operation_id":"getVm"},"recovery":{"work":"stopped"}}}`, 1},
		{"retryable false", 503, `{"error":{"code":"unavailable","message":"m",` + ts + `,"retryable":false}}`, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			_, err := rawClient(t, rawServer(t, answering(&n, tc.status, tc.body))).DescribeVM(ctxT(t))
			if err == nil || n.Load() != tc.attempts {
				t.Fatalf("%d attempts (%v), want %d", n.Load(), err, tc.attempts)
			}
		})
	}
}

// TestRetryHint: a server's hint replaces the backoff, and a hint that
// would outlast the caller's deadline ends the retries at once.
func TestRetryHint(t *testing.T) {
	var n atomic.Int64
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			answering(new(atomic.Int64), 503, `{"error":{"code":"unavailable","message":"m",`+ts+`,"retry_after":1}}`)(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"vm_id":"local","owner_org_id":"o","created_at":"2025-01-01T00:00:00Z","description":null,` +
			`"public":false,"state":"idle","sessions":[],"resources":{"vcpu":1,"memory_mib":1,"disk_mib":1},"network":{}}`))
	})
	c := rawClient(t, url)
	start := time.Now()
	if _, err := c.DescribeVM(ctxT(t)); err != nil || n.Load() != 2 {
		t.Fatalf("%v after %d requests", err, n.Load())
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("retried after %v, the hint said 1 s", d)
	}

	n.Store(0)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err := c.DescribeVM(ctx)
	if transport.CodeOf(err) != transport.CodeUnavailable || n.Load() != 1 || time.Since(start) > 250*time.Millisecond {
		t.Errorf("a hint past the deadline: %v after %d requests and %v", err, n.Load(), time.Since(start))
	}
}

// dropServer accepts connections and closes them without an answer.
func dropServer(t *testing.T, n *atomic.Int64) string {
	return rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
}

func TestNoAnswer(t *testing.T) {
	// Safe to repeat: retried, then a network error.
	var n atomic.Int64
	c := rawClient(t, dropServer(t, &n))
	_, err := c.DescribeVM(ctxT(t))
	if transport.CodeOf(err) != transport.CodeNetworkError || !transport.IsRetryable(err) || n.Load() != 4 {
		t.Errorf("GET without answers: %v after %d attempts", err, n.Load())
	}
	// Not safe to repeat (a raw upload carries no key): one attempt, and
	// the outcome is unknown.
	n.Store(0)
	err = c.UploadTar(ctxT(t), "/home/user/d", bytes.NewReader(make([]byte, 1024)), 1024)
	if transport.CodeOf(err) != transport.CodeUnknownOutcome || transport.IsRetryable(err) || n.Load() != 1 {
		t.Errorf("stream without an answer: %v after %d attempts, want one and unknown_outcome", err, n.Load())
	}
	// Nothing listening: the cause is kept.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = rawClient(t, "http://"+addr).DescribeVM(ctxT(t))
	var opErr *net.OpError
	if transport.CodeOf(err) != transport.CodeNetworkError || !errors.As(err, &opErr) {
		t.Errorf("refused connection: %#v", err)
	}
}

func TestCancelled(t *testing.T) {
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := rawClient(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := c.DescribeVM(ctx); errc <- err }()
	time.AfterFunc(50*time.Millisecond, cancel)
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || transport.IsRetryable(err) {
			t.Fatalf("cancelled call: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not end the call")
	}
}

func TestDeadlineIsTimeout(t *testing.T) {
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := rawClient(t, url).DescribeVM(ctx)
	if transport.CodeOf(err) != transport.CodeTimeout || !errors.Is(err, context.DeadlineExceeded) || transport.IsRetryable(err) {
		t.Fatalf("deadline: %v", err)
	}
}

func TestRequestTimeoutRetried(t *testing.T) {
	var n atomic.Int64
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	c := rawClient(t, url, func(c *transport.Config) { c.RequestTimeout = 100 * time.Millisecond })
	_, err := c.DescribeVM(ctxT(t))
	if transport.CodeOf(err) != transport.CodeTimeout || !transport.IsRetryable(err) || n.Load() != 4 {
		t.Fatalf("silent server: %v after %d attempts", err, n.Load())
	}
}

func TestBaseURLPrefixAndEscapedVMID(t *testing.T) {
	var path, auth string
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		path, auth = r.URL.EscapedPath(), r.Header.Get("Authorization")
		w.WriteHeader(404)
	})
	c := rawClient(t, url+"/api/", func(c *transport.Config) { c.VMID = "my vm/1" })
	_, _ = c.DescribeVM(ctxT(t))
	if path != "/api/v1/vms/my%20vm%2F1" || auth != "Bearer "+testKey {
		t.Fatalf("path %q auth %q", path, auth)
	}
}
