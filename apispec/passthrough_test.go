package apispec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// The validator must change nothing: not the request bytes (no defaults
// filled in, no re-encoding), not the answer.
func TestTrafficPassesUnchanged(t *testing.T) {
	s := specFor(t, wire.LineageA)
	// Odd spacing, escapes, and no is_secret (whose default is false).
	reqBody := "{ \"op\" : \"write\",\n\"writes\":[{\"path\":\"/home/user/\\u00e9t\\u00e9\",\"size\":3," +
		"\"upload_id\":\"01J9Z8Y7X6W5V4T3S2R1Q0P9N8\",\"content\":\"YWJj\",\"start\":0,\"end\":3}] }"
	var seen []byte
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if seen, err = io.ReadAll(r.Body); err != nil {
			t.Errorf("handler read: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Trace", "t1")
		_, _ = io.WriteString(w, writeResult)
	})
	srv := httptest.NewServer(s.Middleware(h))
	defer srv.Close()

	req, err := http.NewRequest("POST", srv.URL+"/v1/vms/vm1/sync", bytes.NewReader([]byte(reqBody)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if string(seen) != reqBody {
		t.Errorf("handler got body\n%q\nwant\n%q", seen, reqBody)
	}
	if string(got) != writeResult || resp.StatusCode != 200 || resp.Header.Get("X-Trace") != "t1" {
		t.Errorf("client got %d %q X-Trace=%q", resp.StatusCode, got, resp.Header.Get("X-Trace"))
	}
	expect(t, s.Violations())
}

// A raw /sync-stream body reaches the handler while the client is still
// sending it: a validator that buffered it would wait for the end first.
func TestRawBodyIsNotBuffered(t *testing.T) {
	s := specFor(t, wire.LineageB)
	const size = 8 << 20
	started := make(chan struct{})
	var got int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		got, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"op":"write_stream","path":"/a","size":%d,"complete":%t,"written":true}`, got, got == size)
	})
	srv := httptest.NewServer(s.Middleware(h))
	defer srv.Close()

	pr, pw := io.Pipe()
	go func() {
		half := make([]byte, size/2)
		if _, err := pw.Write(half); err != nil {
			return
		}
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			pw.CloseWithError(errors.New("the handler did not start before the body was complete"))
			return
		}
		_, _ = pw.Write(half)
		_ = pw.Close()
	}()
	req, err := http.NewRequest("POST", srv.URL+"/v1/vms/x/sync-stream?path=/a&size="+strconv.Itoa(size), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got != size {
		t.Errorf("handler read %d bytes, want %d", got, size)
	}
	expect(t, s.Violations())
}

// A flush from the handler reaches the client before the handler ends.
func TestFlushPassesThrough(t *testing.T) {
	s := specFor(t, wire.LineageA)
	first := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"org_id":"org_1",`)
		http.NewResponseController(w).Flush()
		select {
		case <-first:
		case <-time.After(30 * time.Second):
			t.Error("the client never saw the flushed part")
		}
		_, _ = io.WriteString(w, `"org_name":"Org"}`)
	})
	srv := httptest.NewServer(s.Middleware(h))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, len(`{"org_id":"org_1",`))
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	close(first)
	rest, _ := io.ReadAll(resp.Body)
	if got := string(buf) + string(rest); got != whoamiBody {
		t.Errorf("client got %q", got)
	}
	expect(t, s.Violations())
}

func TestConcurrentUseAndReset(t *testing.T) {
	s := specFor(t, wire.LineageA)
	srv := httptest.NewServer(s.Middleware(cannedHandler(answer{body: whoamiBody})))
	defer srv.Close()
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(t, srv.URL, call{method: "GET", path: "/v1/whoami", noAuth: i%2 == 0})
		}()
	}
	wg.Wait()
	if got := len(s.Violations()); got != n/2 {
		t.Errorf("%d violations, want %d: %v", got, n/2, s.Violations())
	}
	s.Reset()
	expect(t, s.Violations())
}
