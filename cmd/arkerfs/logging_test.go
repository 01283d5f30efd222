package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
)

// TestLogNeverShowsTheKey logs the key every way a line can carry it (the
// message, attributes, a transport line with the Authorization header, an
// error) in both formats, and finds it in none.
func TestLogNeverShowsTheKey(t *testing.T) {
	const key = `ark_live_Zq9"x\y<&>0123456789`
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			log, err := newLogger(&b, format, slog.LevelDebug, key)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("key is " + key)
			log.Warn("attr", "key", key, "group", slog.GroupValue(slog.String("k", key)))
			log.Error("err", "reason", fmt.Errorf("Authorization: Bearer %s refused", key))
			transportLogf(log, nil)("%s %q: header %v", "GET", "/home/user/x", "Bearer "+key)
			fsLogf(log)("upload %q: %v", "/home/user/f", fmt.Errorf("key %s", key))
			out := b.String()
			if n := strings.Count(out, "\n"); n != 5 {
				t.Fatalf("%d lines, want 5:\n%s", n, out)
			}
			for _, leak := range []string{key, "Zq9", "0123456789"} {
				if strings.Contains(out, leak) {
					t.Fatalf("%q is in the log:\n%s", leak, out)
				}
			}
			if !strings.Contains(out, redacted) {
				t.Fatalf("no %s mark:\n%s", redacted, out)
			}
		})
	}
}

func TestLoggerFormatsAndLevels(t *testing.T) {
	var b bytes.Buffer
	log, err := newLogger(&b, "json", slog.LevelWarn)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	fsLogf(log)("could not upload %q: %v; its content is kept", "/home/user/a b", "409 conflict")
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, b.String())
	}
	if rec["level"] != "WARN" || rec["path"] != "/home/user/a b" || !strings.Contains(rec["msg"].(string), "409 conflict") {
		t.Fatalf("record %v", rec)
	}
	if _, err := newLogger(&b, "xml", slog.LevelInfo); err == nil {
		t.Fatal("format xml accepted")
	}
	if _, err := parseLevel("loud"); err == nil {
		t.Fatal("level loud accepted")
	}
	if l, err := parseLevel("debug"); err != nil || l != slog.LevelDebug {
		t.Fatalf("debug: %v %v", l, err)
	}
}

func TestPathAttrs(t *testing.T) {
	cases := []struct {
		format string
		args   []any
		want   string
	}{
		{"mkdir %q: %v", []any{"/home/user/d", "x"}, "/home/user/d"},
		{"%d file(s), first %q", []any{3, "/home/user/f"}, "/home/user/f"},
		{"100%% of %q", []any{"/a"}, "/a"},
		{"%s %q", []any{"op", "relative"}, ""},
		{"%-10s %q", []any{"op", "/p"}, "/p"},
		{"no args", nil, ""},
	}
	for _, c := range cases {
		got := ""
		if a := pathAttrs(c.format, c.args); len(a) == 1 {
			got = a[0].(slog.Attr).Value.String()
		}
		if got != c.want {
			t.Errorf("pathAttrs(%q) = %q, want %q", c.format, got, c.want)
		}
	}
}

func TestRetryStormOneLinePerWindow(t *testing.T) {
	var b bytes.Buffer
	log, _ := newLogger(&b, "text", slog.LevelInfo)
	now := time.Unix(0, 0)
	r := &retryStorm{log: log, window: 10 * time.Second, threshold: 3, now: func() time.Time { return now }}
	for i := 0; i < 10; i++ {
		r.note("sync.read", "503 unavailable")
	}
	if n := strings.Count(b.String(), "being retried"); n != 1 {
		t.Fatalf("%d warnings in one window, want 1:\n%s", n, b.String())
	}
	now = now.Add(11 * time.Second)
	r.note("sync.read", "503 unavailable")
	r.note("sync.read", "503 unavailable")
	if n := strings.Count(b.String(), "being retried"); n != 1 {
		t.Fatalf("warned below the threshold of a new window:\n%s", b.String())
	}
	r.note("sync.read", "503 unavailable")
	if n := strings.Count(b.String(), "being retried"); n != 2 {
		t.Fatalf("no warning in the second window:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "retries=3") || !strings.Contains(b.String(), `reason="503 unavailable"`) {
		t.Fatalf("warning lacks the count or the reason:\n%s", b.String())
	}
}

// TestRetryStormFromTransport drives a real client against a server that
// always answers 503, and checks that its retry lines reach the storm
// detector: retryLineFormat matches what transport logs.
func TestRetryStormFromTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":"unavailable","message":"try later"}}`))
	}))
	defer srv.Close()
	var b bytes.Buffer
	log, _ := newLogger(&b, "text", slog.LevelInfo)
	storm := &retryStorm{log: log, window: time.Minute, threshold: 3, now: time.Now}
	c, err := transport.New(transport.Config{APIKey: "ark_test_key", BaseURL: srv.URL, VMID: "vm",
		Retry: transport.RetryPolicy{Attempts: 5, Base: time.Millisecond, Max: time.Millisecond},
		Debug: transportLogf(log, storm)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.DescribeVM(ctx); err == nil {
		t.Fatal("DescribeVM succeeded against a 503 server")
	}
	out := b.String()
	if strings.Count(out, "being retried") != 1 || strings.Count(out, "\n") != 1 {
		t.Fatalf("want exactly one storm line at info level, got:\n%s", out)
	}
}

func TestLineLogger(t *testing.T) {
	var b bytes.Buffer
	log, _ := newLogger(&b, "text", slog.LevelInfo)
	fmt.Fprintf(lineLogger{log, slog.LevelWarn}, "arkerfs: removed a stale mount at %s\n\n", "/m")
	if out := b.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, `msg="removed a stale mount at /m"`) ||
		!strings.Contains(out, "level=WARN") {
		t.Fatalf("%s", out)
	}
}
