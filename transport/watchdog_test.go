package transport_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/wire"
)

// The emulator has no fault that stalls a body half way, so these tests
// use a small raw server that does.

// presignedAnswer is a sync read answer pointing at url.
func presignedAnswer(size int, url string) string {
	return fmt.Sprintf(`{"ok":true,"op":"read","path":"/home/user/f","size":%d,"presigned_url":"%s/blob?t=secrettoken","expires_in":900,"method":"GET"}`, size, url)
}

// A download that stops moving is cut after TransferStall.
func TestDownloadStallCut(t *testing.T) {
	const size = 4 << 20
	var url string
	url = rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/blob" {
			fmt.Fprint(w, presignedAnswer(size, url))
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", size-1, size))
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(make([]byte, 64<<10))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // then nothing, until the client goes
	})
	c := rawClient(t, url, func(c *transport.Config) { c.TransferStall = 300 * time.Millisecond; c.Retry.Attempts = 1 })
	o, err := c.Open(ctxT(t), "/home/user/f")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.ReadAt(ctxT(t), o, make([]byte, size), 0)
	if transport.CodeOf(err) != transport.CodeTimeout || !strings.Contains(err.Error(), "stalled") || !transport.IsRetryable(err) {
		t.Fatalf("stalled download: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cut after %v", d)
	}
	if strings.Contains(err.Error(), "secrettoken") {
		t.Fatalf("the error shows the URL's token: %v", err)
	}
}

// An upload whose body the server stops reading, or whose answer never
// comes, is cut too.
func TestUploadStallCut(t *testing.T) {
	quit := make(chan struct{})
	url := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		// Read nothing, answer nothing. (With the body unread the server
		// does not notice the client leave, so the test ends it.)
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	})
	t.Cleanup(func() { close(quit) }) // runs before the server's Close
	c := rawClient(t, url, func(c *transport.Config) {
		c.TransferStall = 300 * time.Millisecond
		c.RequestTimeout = time.Second
		c.Retry.Attempts = 1
	})
	start := time.Now()
	ups := []transport.Upload{up("/home/user/a", randBytes(wire.ChunkSize)), up("/home/user/b", randBytes(wire.ChunkSize))}
	for i, r := range c.Upload(ctxT(t), ups) {
		if transport.CodeOf(r.Err) != transport.CodeTimeout || !transport.IsRetryable(r.Err) {
			t.Fatalf("stalled upload: %v", r.Err)
		}
		if e := r.Err.(*transport.Error); e.Path != ups[i].Path {
			t.Fatalf("error of %s names %s", ups[i].Path, e.Path)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cut after %v", d)
	}
}

// A slow body that keeps moving is not cut, however long it takes in all.
func TestSlowDownloadNotCut(t *testing.T) {
	const size = 40 << 10
	var url string
	url = rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/blob" {
			fmt.Fprint(w, presignedAnswer(size, url))
			return
		}
		if r.Header.Get("Authorization") != "" {
			t.Error("a presigned GET carried the API key")
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", size-1, size))
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusPartialContent)
		for range 10 { // 10 pieces, 100ms apart: 1s in all, 3x the stall limit
			_, _ = w.Write(make([]byte, size/10))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	})
	c := rawClient(t, url, func(c *transport.Config) {
		c.TransferStall = 300 * time.Millisecond
		c.RequestTimeout = 300 * time.Millisecond
	})
	o, err := c.Open(ctxT(t), "/home/user/f")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.ReadAt(ctxT(t), o, make([]byte, size), 0); n != size || (err != nil && !errors.Is(err, io.EOF)) {
		t.Fatalf("slow download: %d %v", n, err)
	}
}
