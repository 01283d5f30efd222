package transport_test

import (
	"bytes"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/emulator"
	"github.com/arker-ai/arkerfs/transport/wire"
)

// clock is a settable clock for the emulator's URL expiry.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func withClock(c *clock) func(*emulator.Options) {
	return func(o *emulator.Options) { o.Now = c.now }
}

// A URL close to expiry (a short TTL: always within the 30s margin) is
// re-resolved before each read, without the caller noticing.
func TestURLNearExpiryRefreshed(t *testing.T) {
	e := newEmu(t, func(o *emulator.Options) { o.PresignTTL = 5 * time.Second })
	c := e.client(t)
	data := randBytes(2<<20 + 1)
	e.writeLocal(t, "/home/user/f", data)
	o, err := c.Open(ctxT(t), "/home/user/f")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	for i := range 3 {
		off := int64(i * 333333)
		if _, err := c.ReadAt(ctxT(t), o, buf, off); err != nil || !bytes.Equal(buf, data[off:off+1000]) {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if n := e.requests(emulator.EndpointSyncRead); n != 4 {
		t.Fatalf("%d sync reads, want 4 (open, then one refresh per read)", n)
	}
	if n := e.requests(emulator.EndpointBlobGet); n != 3 {
		t.Fatalf("%d GETs, want 3 (no refused URL)", n)
	}
}

// A URL that has expired on the server (its clock moved on) is refused
// with 403; the reader re-resolves it and carries on.
func TestExpiredURLRefreshed(t *testing.T) {
	var clk clock
	e := newEmu(t, withClock(&clk))
	c := e.client(t)
	data := randBytes(3<<20 + 7)
	e.writeLocal(t, "/home/user/f", data)
	o, err := c.Open(ctxT(t), "/home/user/f")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, err := c.ReadAt(ctxT(t), o, buf, 5); err != nil {
		t.Fatal(err)
	}
	clk.advance(wire.PresignTTL + time.Minute)
	if _, err := c.ReadAt(ctxT(t), o, buf, 1<<20+1); err != nil || !bytes.Equal(buf, data[1<<20+1:1<<20+1+4096]) {
		t.Fatalf("read after expiry: %v", err)
	}
	if n := e.requests(emulator.EndpointSyncRead); n != 2 {
		t.Fatalf("%d sync reads, want 2", n)
	}
	// Many readers meet the expiry together: they share one refresh.
	clk.advance(wire.PresignTTL + time.Minute)
	e.ResetStats()
	got := make([]byte, len(data))
	var wg sync.WaitGroup
	var failed atomic.Int32
	for off := 0; off < len(data); off += 256 << 10 {
		wg.Go(func() {
			end := min(off+256<<10, len(data))
			if _, err := c.ReadAt(ctxT(t), o, got[off:end], int64(off)); err != nil && err != io.EOF {
				t.Error(err)
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 || !bytes.Equal(got, data) {
		t.Fatal("parallel reads across an expiry failed")
	}
	if n := e.requests(emulator.EndpointSyncRead); n != 1 {
		t.Fatalf("%d refreshes for one expiry, want 1", n)
	}
}

func TestExpireFaultOnGet(t *testing.T) {
	e := newEmu(t)
	c := e.client(t, func(c *transport.Config) { c.Retry = transport.RetryPolicy{Attempts: 1} })
	data := randBytes(2 << 20)
	e.writeLocal(t, "/home/user/f", data)
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointBlobGet, Kind: emulator.FaultExpire})
	// Even with retries off: a refused URL is re-resolved within the read.
	if got := readAll(t, c, "/home/user/f"); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	// A URL refused again after its renewal is an error, not a loop.
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointBlobGet, Kind: emulator.FaultExpire, Times: -1})
	o, err := c.Open(ctxT(t), "/home/user/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadAt(ctxT(t), o, make([]byte, 10), 0); transport.CodeOf(err) != transport.CodeForbidden {
		t.Fatalf("always refused: %v, want forbidden", err)
	}
}

func TestExpiredPartURLsRenewed(t *testing.T) {
	data := randBytes(5*wire.PartSize + 3)
	// Even with retries off, a refused part URL is renewed within the
	// part's attempt.
	e := newEmu(t)
	c := e.client(t, func(c *transport.Config) { c.Retry = transport.RetryPolicy{Attempts: 1}; c.MaxParallel = 4 })
	e.InjectFault(emulator.Fault{Endpoint: emulator.EndpointBlobPut, Kind: emulator.FaultExpire, After: 2})
	mustUpload(t, c, up("/home/user/big", data))
	if got, _ := os.ReadFile(e.local("/home/user/big")); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if n := e.requests(emulator.EndpointSyncWrite); n != 3 {
		t.Fatalf("%d sync writes, want presign, renewal, commit", n)
	}
	// The server's clock jumps past the URLs' expiry while parts are in
	// flight: the parts refused renew their URLs, sharing renewals.
	var clk clock
	e = newEmu(t, withClock(&clk))
	c = e.client(t, func(c *transport.Config) { c.MaxParallel = 4 })
	src := &hookSource{ReaderAt: bytes.NewReader(data), at: 2 * wire.PartSize, fn: func() { clk.advance(wire.PresignTTL + time.Minute) }}
	mustUpload(t, c, transport.Upload{Path: "/home/user/big", UploadID: newID(), Size: int64(len(data)), Source: src})
	if got, _ := os.ReadFile(e.local("/home/user/big")); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if n := e.requests(emulator.EndpointSyncWrite); n < 3 || n > 7 {
		t.Fatalf("%d sync writes: presign, 1 to 4 renewals, commit", n)
	}
	if n := e.requests(emulator.EndpointBlobPut); n <= 6 {
		t.Fatalf("%d PUTs for 6 parts: the clock jump refused none", n)
	}
	// Short-lived URLs are renewed before use.
	e2 := newEmu(t, func(o *emulator.Options) { o.PresignTTL = 5 * time.Second })
	c2 := e2.client(t)
	mustUpload(t, c2, up("/home/user/big", data))
	if got, _ := os.ReadFile(e2.local("/home/user/big")); !bytes.Equal(got, data) {
		t.Fatal("content differs (short TTL)")
	}
}

// The file changes under an open object: the bound URL answers 412, and a
// refresh sees another version. Both are CodeStale.
func TestStaleDetection(t *testing.T) {
	var clk clock
	e := newEmu(t, withClock(&clk))
	c := e.client(t)
	e.writeLocal(t, "/home/user/f", randBytes(2<<20))
	o, err := c.Open(ctxT(t), "/home/user/f")
	if err != nil {
		t.Fatal(err)
	}
	e.writeLocal(t, "/home/user/f", randBytes(2<<20+1))
	if _, err := c.ReadAt(ctxT(t), o, make([]byte, 10), 0); transport.CodeOf(err) != transport.CodeStale || transport.IsRetryable(err) {
		t.Fatalf("changed file, live URL: %v", err)
	}
	o, err = c.Open(ctxT(t), "/home/user/f")
	if err != nil {
		t.Fatal(err)
	}
	e.writeLocal(t, "/home/user/f", randBytes(2<<20+2))
	clk.advance(wire.PresignTTL + time.Minute)
	if _, err := c.ReadAt(ctxT(t), o, make([]byte, 10), 0); transport.CodeOf(err) != transport.CodeStale {
		t.Fatalf("changed file, expired URL: %v", err)
	}
}

// hookSource calls fn once, when the first read at or past at happens.
type hookSource struct {
	io.ReaderAt
	at   int64
	fn   func()
	once sync.Once
}

func (h *hookSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= h.at {
		h.once.Do(h.fn)
	}
	return h.ReaderAt.ReadAt(p, off)
}
