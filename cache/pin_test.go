package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// joinVecs concatenates the slices of a pinned read.
func joinVecs(pn *Pinned) []byte {
	var b []byte
	for _, v := range pn.Vecs {
		b = append(b, v...)
	}
	return b
}

// A sequential reader through ReadPinned gets the file's bytes, from the
// cache's own buffers once read-ahead has them, and the budget's
// accounting holds throughout.
func TestReadPinnedSequential(t *testing.T) {
	const size = 32<<20 + 12345
	data := pattern(size, 7)
	for _, step := range []int{1 << 20, 128 << 10, 1<<20 + 4096} {
		c := newTestCache(t, BlockCacheOptions{MemBudget: 16 << 20})
		rem := newFakeRemote(data)
		r := NewFileReader(c, 1, "v", size, rem.fetch, ReadAheadOptions{})
		buf := make([]byte, step)
		shared := 0
		for off := 0; off < size; off += step {
			pn, err := r.ReadPinned(context.Background(), buf, int64(off))
			if err != nil && !(errors.Is(err, io.EOF) && off+pn.N == size) {
				t.Fatalf("step %d: ReadPinned(%d): %v", step, off, err)
			}
			want := data[off:min(off+step, size)]
			if pn.N != len(want) || !bytes.Equal(joinVecs(pn), want) {
				t.Fatalf("step %d: ReadPinned(%d): wrong bytes", step, off)
			}
			if len(pn.Vecs) > 0 && &pn.Vecs[0][0] != &buf[0] {
				shared++
			}
			pn.Release()
			pn.Release() // a second release changes nothing
			mustInvariants(t, c)
		}
		r.Close()
		if shared == 0 {
			t.Fatalf("step %d: no read was answered from the cache's buffers", step)
		}
	}
}

// A pinned slice keeps its bytes while its blocks are evicted and their
// memory is wanted by other fetches; after the release the buffer is
// reused again.
func TestReadPinnedSurvivesEviction(t *testing.T) {
	const bs = 1 << 20
	c := newTestCache(t, BlockCacheOptions{MemBudget: 4 * bs})
	a := pattern(bs, 1)
	remA := newFakeRemote(a)
	ra := NewFileReader(c, 1, "v", bs, remA.fetch, ReadAheadOptions{MaxWindow: -1})
	defer ra.Close()
	buf := make([]byte, bs)
	if n, err := ra.ReadAt(context.Background(), buf, 0); n != bs || err != nil {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	pn, err := ra.ReadPinned(context.Background(), make([]byte, bs), 0)
	if err != nil || len(pn.Vecs) != 1 || &pn.Vecs[0][0] == &buf[0] {
		t.Fatalf("ReadPinned of a cached block: %v, %d slices", err, len(pn.Vecs))
	}
	// Other files push file 1 out of memory and reuse whatever buffers
	// come free.
	for f := uint64(2); f < 12; f++ {
		d := pattern(bs, f)
		rem := newFakeRemote(d)
		r := NewFileReader(c, f, "v", bs, rem.fetch, ReadAheadOptions{MaxWindow: -1})
		got := make([]byte, bs)
		if n, err := r.ReadAt(context.Background(), got, 0); n != bs || err != nil || !bytes.Equal(got, d) {
			t.Fatalf("file %d: %d, %v", f, n, err)
		}
		r.Close()
		mustInvariants(t, c)
	}
	if c.Contains(BlockKey{File: 1, Version: "v", Index: 0}) {
		t.Fatal("file 1 was not evicted; the test proves nothing")
	}
	if !bytes.Equal(joinVecs(pn), a) {
		t.Fatal("a pinned slice changed after its block was evicted")
	}
	pn.Release()
	mustInvariants(t, c)
	// The freed buffer is taken by the next fetch.
	rem := newFakeRemote(pattern(bs, 99))
	r := NewFileReader(c, 99, "v", bs, rem.fetch, ReadAheadOptions{MaxWindow: -1})
	defer r.Close()
	if n, err := r.ReadAt(context.Background(), make([]byte, bs), 0); n != bs || err != nil {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	pn2, err := r.ReadPinned(context.Background(), make([]byte, bs), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pn2.Release()
	if c.Stats().FreeBytes > 4*bs {
		t.Fatalf("free bytes %d over the budget", c.Stats().FreeBytes)
	}
}

// A read of blocks not cached is filled into the caller's buffer.
func TestReadPinnedMissFillsCallerBuffer(t *testing.T) {
	const bs = 1 << 20
	c := newTestCache(t, BlockCacheOptions{})
	d := pattern(3*bs, 3)
	r := NewFileReader(c, 1, "v", 3*bs, newFakeRemote(d).fetch, ReadAheadOptions{MaxWindow: -1})
	defer r.Close()
	buf := make([]byte, bs)
	pn, err := r.ReadPinned(context.Background(), buf, bs+17)
	if err != nil {
		t.Fatal(err)
	}
	defer pn.Release()
	if len(pn.Vecs) != 1 || &pn.Vecs[0][0] != &buf[0] || !bytes.Equal(pn.Vecs[0], d[bs+17:2*bs+17]) {
		t.Fatal("a miss was not answered in the caller's buffer with the right bytes")
	}
	// Past the end: nothing, io.EOF.
	if pn, err := r.ReadPinned(context.Background(), buf, 3*bs); !errors.Is(err, io.EOF) || pn.N != 0 {
		t.Fatalf("read at EOF: %d, %v", pn.N, err)
	}
}
