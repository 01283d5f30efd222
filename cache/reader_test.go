package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRemote serves a byte slice as the remote file. hook, when set, runs
// first in every fetch: it may block (on a channel or ctx) or fail.
type fakeRemote struct {
	data []byte
	hook func(ctx context.Context, off int64, n int) error

	calls, bytes, active, peak atomic.Int64

	mu     sync.Mutex // protects ranges
	ranges [][2]int64 // {off, n} of every fetch
}

func newFakeRemote(data []byte) *fakeRemote { return &fakeRemote{data: data} }

func (f *fakeRemote) fetch(ctx context.Context, p []byte, off int64) (int, error) {
	f.calls.Add(1)
	a := f.active.Add(1)
	defer f.active.Add(-1)
	for {
		old := f.peak.Load()
		if a <= old || f.peak.CompareAndSwap(old, a) {
			break
		}
	}
	f.mu.Lock()
	f.ranges = append(f.ranges, [2]int64{off, int64(len(p))})
	f.mu.Unlock()
	if f.hook != nil {
		if err := f.hook(ctx, off, len(p)); err != nil {
			return 0, err
		}
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	f.bytes.Add(int64(n))
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// covering counts the fetches that covered byte off.
func (f *fakeRemote) covering(off int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.ranges {
		if r[0] <= off && off < r[0]+r[1] {
			n++
		}
	}
	return n
}

// pattern returns n deterministic pseudo-random bytes.
func pattern(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// readAll reads the whole file in steps of step bytes and checks it.
func readAll(t testing.TB, r *FileReader, want []byte, step int) {
	t.Helper()
	if err := readCompare(r, want, step); err != nil {
		t.Fatal(err)
	}
}

// readCompare is readAll for goroutines other than the test's (which
// must not call t.Fatal): it returns what went wrong.
func readCompare(r *FileReader, want []byte, step int) error {
	buf := make([]byte, step)
	for off := 0; off < len(want); off += step {
		n, err := r.ReadAt(context.Background(), buf, int64(off))
		if err != nil && !(errors.Is(err, io.EOF) && off+n == len(want)) {
			return fmt.Errorf("ReadAt(%d): %d, %w", off, n, err)
		}
		if !bytes.Equal(buf[:n], want[off:off+n]) {
			return fmt.Errorf("ReadAt(%d): wrong bytes", off)
		}
	}
	return nil
}

func TestReaderSequential(t *testing.T) {
	const size = 64 << 20
	data := pattern(size, 1)
	tests := []struct {
		name string
		opts BlockCacheOptions
	}{
		{"roomy cache", BlockCacheOptions{}},
		{"budget smaller than the window", BlockCacheOptions{MemBudget: 8 << 20}},
		{"small blocks", BlockCacheOptions{BlockSize: 64 << 10, MemBudget: 16 << 20}},
		{"disk tier", BlockCacheOptions{MemBudget: 8 << 20, DiskDir: t.TempDir()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(t, tt.opts)
			rem := newFakeRemote(data)
			rem.hook = func(context.Context, int64, int) error { return c.checkInvariants() }
			r := NewFileReader(c, 1, "v", size, rem.fetch, ReadAheadOptions{})
			defer r.Close()
			readAll(t, r, data, 128<<10)
			if got := r.Fetched(); got > size*105/100 {
				t.Fatalf("fetched %d bytes for %d (%.3fx)", got, size, float64(got)/size)
			}
			if rem.bytes.Load() != r.Fetched() {
				t.Fatalf("remote sent %d, reader counted %d", rem.bytes.Load(), r.Fetched())
			}
			// Read-ahead fetches a chunk at a time (one fetch per run of
			// missing blocks, so a chunk is one fetch).
			if n, max := rem.calls.Load(), size/r.chunk+2; n > max {
				t.Fatalf("%d fetches of %d-byte chunks, want ≤ %d", n, r.chunk, max)
			}
			mustInvariants(t, c)
		})
	}
}

func TestReaderReadAheadWindow(t *testing.T) {
	const bs, size = 1 << 20, 64 << 20
	data := pattern(size, 2)
	c := newTestCache(t, BlockCacheOptions{})
	rem := newFakeRemote(data)
	gate := make(chan struct{})
	rem.hook = func(ctx context.Context, off int64, _ int) error {
		if off == 0 {
			return nil
		}
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r := NewFileReader(c, 1, "v", size, rem.fetch, ReadAheadOptions{})
	defer r.Close()
	buf := make([]byte, 128<<10)
	for _, off := range []int64{0, 128 << 10} {
		if _, err := r.ReadAt(t.Context(), buf, off); err != nil {
			t.Fatal(err)
		}
	}
	// The second sequential read opens a window of 2×FetchSize: two
	// 4 MiB fetches in flight while the reader is still in block 0.
	waitFor(t, "two read-ahead fetches", func() bool { return rem.active.Load() == 2 })
	if got := rem.covering(bs) + rem.covering(5*bs); got != 2 {
		t.Fatalf("read-ahead fetched blocks 1 and 5 %d times, want once each", got)
	}
	close(gate)
	readAll(t, r, data, 128<<10)
	r.mu.Lock()
	window := r.window
	r.mu.Unlock()
	if window != DefaultMaxWindow {
		t.Fatalf("window %d after a long sequential read, want %d", window, DefaultMaxWindow)
	}
	if got := r.Fetched(); got > size*105/100 {
		t.Fatalf("fetched %d bytes for %d", got, size)
	}
}

func TestReaderRandomFetchesOnlyNeededBlocks(t *testing.T) {
	const bs = 64 << 10
	data := pattern(64*bs, 3)
	tests := []struct {
		name      string
		pre       []int64 // blocks read (one byte each) before the read
		off, n    int64
		wantCalls int64
		wantBytes int64
	}{
		{"inside one block", nil, 10*bs + 1000, 4096, 1, bs},
		{"a run of missing blocks is one fetch", nil, 30*bs + 100, 3 * bs, 1, 4 * bs},
		{"a cached block splits the run", []int64{31}, 30*bs + 100, 3 * bs, 2, 3 * bs},
		{"all cached", []int64{5, 6}, 5 * bs, 2 * bs, 0, 0},
		{"short last block", nil, 63*bs + 10, 2 * bs, 1, bs / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(t, BlockCacheOptions{BlockSize: bs})
			rem := newFakeRemote(data[:len(data)-bs/2])
			size := int64(len(rem.data))
			r := NewFileReader(c, 1, "v", size, rem.fetch, ReadAheadOptions{MaxWindow: -1})
			defer r.Close()
			for _, b := range tt.pre {
				if _, err := r.ReadAt(t.Context(), make([]byte, 1), b*bs); err != nil {
					t.Fatal(err)
				}
			}
			calls0, bytes0 := rem.calls.Load(), r.Fetched()
			buf := make([]byte, tt.n)
			n, err := r.ReadAt(t.Context(), buf, tt.off)
			want := rem.data[tt.off:min(tt.off+tt.n, size)]
			if err != nil && !errors.Is(err, io.EOF) || !bytes.Equal(buf[:n], want) {
				t.Fatalf("ReadAt = %d, %v", n, err)
			}
			if calls, got := rem.calls.Load()-calls0, r.Fetched()-bytes0; calls != tt.wantCalls || got != tt.wantBytes {
				t.Fatalf("%d fetches of %d bytes, want %d of %d", calls, got, tt.wantCalls, tt.wantBytes)
			}
		})
	}
}

func TestReaderScatteredReadsDoNotReadAhead(t *testing.T) {
	const bs = 64 << 10
	data := pattern(64*bs, 4)
	c := newTestCache(t, BlockCacheOptions{BlockSize: bs})
	rem := newFakeRemote(data)
	r := NewFileReader(c, 1, "v", int64(len(data)), rem.fetch, ReadAheadOptions{})
	defer r.Close()
	blocks := []int64{10, 40, 3, 55, 20, 41, 12, 60}
	for _, b := range blocks {
		buf := make([]byte, 4096)
		if _, err := r.ReadAt(t.Context(), buf, b*bs+100); err != nil || !bytes.Equal(buf, data[b*bs+100:][:4096]) {
			t.Fatalf("block %d: %v", b, err)
		}
	}
	if got, want := r.Fetched(), int64(len(blocks))*bs; got != want {
		t.Fatalf("fetched %d bytes, want %d", got, want)
	}
	if r.running.Load() != 0 {
		t.Fatal("read-ahead started on scattered reads")
	}
}

func TestReaderConcurrentReadersShareBlocks(t *testing.T) {
	const size = 64 << 20
	data := pattern(size, 5)
	c := newTestCache(t, BlockCacheOptions{})
	rem := newFakeRemote(data)
	var wg sync.WaitGroup
	for i := range 4 {
		r := NewFileReader(c, 1, "v", size, rem.fetch, ReadAheadOptions{})
		defer r.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := readCompare(r, data, 128<<10+i*4096); err != nil {
				t.Errorf("reader %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if got := rem.bytes.Load(); got > size*105/100 {
		t.Fatalf("4 readers fetched %d bytes of a %d-byte file", got, size)
	}
	mustInvariants(t, c)
}

func TestReaderConcurrentReadersSmallBudget(t *testing.T) {
	const bs, size = 64 << 10, 16 << 20
	c := newTestCache(t, BlockCacheOptions{BlockSize: bs, MemBudget: 16 * bs})
	var wg sync.WaitGroup
	for i := range 4 {
		data := pattern(size, uint64(10+i%2))
		rem := newFakeRemote(data)
		rem.hook = func(context.Context, int64, int) error { return c.checkInvariants() }
		r := NewFileReader(c, uint64(i%2), "v", size, rem.fetch, ReadAheadOptions{})
		defer r.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := readCompare(r, data, 100<<10); err != nil {
				t.Errorf("reader %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	mustInvariants(t, c)
}

func TestReaderVersionsNeverMix(t *testing.T) {
	const bs = 4 << 10
	v1, v2 := pattern(10*bs, 6), pattern(10*bs, 7)
	c := newTestCache(t, BlockCacheOptions{BlockSize: bs})
	rem1, rem2 := newFakeRemote(v1), newFakeRemote(v2)
	gate := make(chan struct{})
	rem1.hook = func(ctx context.Context, _ int64, _ int) error {
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r1 := NewFileReader(c, 1, "v1", int64(len(v1)), rem1.fetch, ReadAheadOptions{MaxWindow: -1})
	defer r1.Close()
	r2 := NewFileReader(c, 1, "v2", int64(len(v2)), rem2.fetch, ReadAheadOptions{MaxWindow: -1})
	defer r2.Close()

	// A v1 fetch is in flight when the file moves to v2.
	done := make(chan error, 1)
	buf1 := make([]byte, 2*bs)
	go func() {
		_, err := r1.ReadAt(context.Background(), buf1, 0)
		done <- err
	}()
	waitFor(t, "the v1 fetch", func() bool { return rem1.active.Load() == 1 })
	c.DropOtherVersions(1, "v2")
	close(gate)
	if err := <-done; err != nil || !bytes.Equal(buf1, v1[:2*bs]) {
		t.Fatalf("v1 read: %v", err)
	}
	if _, ok := c.Get(key(1, "v1", 0)); ok {
		t.Fatal("a block of a dropped version was inserted")
	}
	// Interleaved reads of both versions each see their own bytes.
	for i := range int64(10) {
		for _, rv := range []struct {
			r    *FileReader
			want []byte
		}{{r2, v2}, {r1, v1}} {
			buf := make([]byte, bs+100)
			n, err := rv.r.ReadAt(t.Context(), buf, i*bs+50)
			if err != nil && !errors.Is(err, io.EOF) || !bytes.Equal(buf[:n], rv.want[i*bs+50:][:n]) {
				t.Fatalf("block %d of %s: %v", i, rv.r.version, err)
			}
		}
	}
	mustInvariants(t, c)
}

var errInjected = errors.New("injected fault")

func TestReaderReadAheadErrors(t *testing.T) {
	const bs, size = 1 << 20, 16 << 20
	const bad = 6 * bs // inside the second read-ahead fetch, [5 MiB, 9 MiB)
	tests := []struct {
		name      string
		failures  int // fetches covering bad that fail
		wantErr   bool
		wantCover int // fetches covering bad
	}{
		{"a failed read-ahead is refetched by the read", 1, false, 2},
		{"the refetch's error is reported", 2, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := pattern(size, 8)
			c := newTestCache(t, BlockCacheOptions{})
			rem := newFakeRemote(data)
			var failed atomic.Int64
			rem.hook = func(_ context.Context, off int64, n int) error {
				if off <= bad && bad < off+int64(n) && failed.Add(1) <= int64(tt.failures) {
					return errInjected
				}
				return nil
			}
			r := NewFileReader(c, 1, "v", size, rem.fetch, ReadAheadOptions{})
			defer r.Close()
			buf := make([]byte, 128<<10)
			var err error
			for off := int64(0); off < size && err == nil; off += int64(len(buf)) {
				if off == bad {
					waitFor(t, "read-ahead of the bad block", func() bool { return rem.covering(bad) >= 1 })
				}
				_, err = r.ReadAt(t.Context(), buf, off)
				if err == nil && !bytes.Equal(buf, data[off:][:len(buf)]) {
					t.Fatalf("wrong bytes at %d", off)
				}
				if err != nil && off != bad {
					t.Fatalf("error at %d: %v", off, err)
				}
			}
			if tt.wantErr != (err != nil) || err != nil && !errors.Is(err, errInjected) {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if got := rem.covering(bad); got != tt.wantCover {
				t.Fatalf("bad block fetched %d times, want %d", got, tt.wantCover)
			}
			if _, ok := c.Get(key(1, "v", bad/bs)); ok == tt.wantErr {
				t.Fatalf("bad block cached: %v", ok)
			}
		})
	}
}

func TestReaderCancelledFillIsTakenOver(t *testing.T) {
	const bs = 4 << 10
	data := pattern(4*bs, 9)
	c := newTestCache(t, BlockCacheOptions{BlockSize: bs})
	rem := newFakeRemote(data)
	var first atomic.Bool
	rem.hook = func(ctx context.Context, _ int64, _ int) error {
		if first.CompareAndSwap(false, true) {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	r := NewFileReader(c, 1, "v", int64(len(data)), rem.fetch, ReadAheadOptions{MaxWindow: -1})
	defer r.Close()
	ctxA, cancelA := context.WithCancel(t.Context())
	errA := make(chan error, 1)
	go func() {
		_, err := r.ReadAt(ctxA, make([]byte, bs), 0)
		errA <- err
	}()
	waitFor(t, "the first fetch", func() bool { return rem.active.Load() == 1 })
	type result struct {
		buf []byte
		err error
	}
	resB := make(chan result, 1)
	go func() {
		buf := make([]byte, bs)
		_, err := r.ReadAt(t.Context(), buf, 0)
		resB <- result{buf, err}
	}()
	waitFor(t, "the second read to wait", func() bool { return c.Stats().Waits == 1 })
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
	if b := <-resB; b.err != nil || !bytes.Equal(b.buf, data[:bs]) {
		t.Fatalf("waiting read: %v", b.err)
	}
	if n := rem.calls.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func TestReaderCloseStopsReadAhead(t *testing.T) {
	const bs, size = 1 << 20, 64 << 20
	c := newTestCache(t, BlockCacheOptions{})
	rem := newFakeRemote(pattern(size, 10))
	rem.hook = func(ctx context.Context, off int64, _ int) error {
		if off == 0 {
			return nil
		}
		<-ctx.Done() // read-ahead never finishes on its own
		return ctx.Err()
	}
	r := NewFileReader(c, 1, "v", size, rem.fetch, ReadAheadOptions{})
	for _, off := range []int64{0, 128 << 10} {
		if _, err := r.ReadAt(t.Context(), make([]byte, 128<<10), off); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "read-ahead", func() bool { return rem.active.Load() == 2 })
	r.Close()
	if n, a := r.running.Load(), rem.active.Load(); n != 0 || a != 0 {
		t.Fatalf("after Close: %d read-ahead goroutines, %d fetches running", n, a)
	}
	c.mu.Lock()
	inflight := len(c.inflight)
	c.mu.Unlock()
	if s := c.Stats(); s.Reserved != 0 || inflight != 0 {
		t.Fatalf("after Close: %d bytes reserved, %d claims", s.Reserved, inflight)
	}
	if _, err := r.ReadAt(t.Context(), make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("ReadAt after Close: %v", err)
	}
	r.Close() // twice is harmless
}

func TestReaderEOF(t *testing.T) {
	const bs = 1 << 10
	data := pattern(2*bs+bs/2, 11)
	size := int64(len(data))
	tests := []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantErr error
	}{
		{"inside", 100, 1000, 1000, nil},
		{"across the end", 2 * bs, bs, bs / 2, io.EOF},
		{"whole file", 0, 4 * bs, int(size), io.EOF},
		{"exactly to the end", bs, int(size) - bs, int(size) - bs, nil},
		{"at the end", size, 10, 0, io.EOF},
		{"past the end", size + 10, 10, 0, io.EOF},
		{"empty", 0, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(t, BlockCacheOptions{BlockSize: bs})
			r := NewFileReader(c, 1, "v", size, newFakeRemote(data).fetch, ReadAheadOptions{})
			defer r.Close()
			buf := make([]byte, tt.n)
			n, err := r.ReadAt(t.Context(), buf, tt.off)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("ReadAt = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			if n > 0 && !bytes.Equal(buf[:n], data[tt.off:tt.off+int64(n)]) {
				t.Fatal("wrong bytes")
			}
		})
	}
	c := newTestCache(t, BlockCacheOptions{BlockSize: bs})
	r := NewFileReader(c, 1, "v", size, newFakeRemote(data).fetch, ReadAheadOptions{})
	defer r.Close()
	if _, err := r.ReadAt(t.Context(), make([]byte, 1), -1); err == nil {
		t.Fatal("negative offset accepted")
	}
}

func TestReaderRemoteShorterThanSize(t *testing.T) {
	const bs = 1 << 10
	data := pattern(3*bs, 12)
	c := newTestCache(t, BlockCacheOptions{BlockSize: bs})
	rem := newFakeRemote(data[:2*bs+100]) // the file shrank under us
	r := NewFileReader(c, 1, "v", int64(len(data)), rem.fetch, ReadAheadOptions{MaxWindow: -1})
	defer r.Close()
	if _, err := r.ReadAt(t.Context(), make([]byte, bs), 2*bs); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short remote: %v", err)
	}
	if _, ok := c.Get(key(1, "v", 2)); ok {
		t.Fatal("a torn block was cached")
	}
	buf := make([]byte, bs)
	if _, err := r.ReadAt(t.Context(), buf, bs); err != nil || !bytes.Equal(buf, data[bs:2*bs]) {
		t.Fatalf("whole block: %v", err)
	}
}

func TestReaderDiskTierServesSecondPass(t *testing.T) {
	const bs, size = 64 << 10, 4 << 20
	data := pattern(size, 13)
	c := newTestCache(t, BlockCacheOptions{BlockSize: bs, MemBudget: 8 * bs, DiskDir: t.TempDir()})
	rem := newFakeRemote(data)
	rem.hook = func(context.Context, int64, int) error { return c.checkInvariants() }
	r := NewFileReader(c, 1, "v", size, rem.fetch, ReadAheadOptions{})
	defer r.Close()
	readAll(t, r, data, 32<<10)
	first := rem.bytes.Load()
	if first > size*105/100 {
		t.Fatalf("first pass fetched %d bytes", first)
	}
	readAll(t, r, data, 32<<10)
	if got := rem.bytes.Load(); got != first {
		t.Fatalf("second pass fetched %d bytes; the disk tier should serve it", got-first)
	}
	if s := c.Stats(); s.DiskBytes < size-8*bs || s.MemBytes > 8*bs {
		t.Fatalf("stats %+v", s)
	}
}
