package cache

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Pinned reads: a read whose blocks are all in memory is answered with
// slices of the cache's own buffers, not a copy of them. A FUSE server
// hands those slices to writev(2) for the reply, which saves copying
// every byte once more on the way to the kernel. The slabs behind the
// slices are pinned until the reply is sent: an evicted slab whose
// buffer is pinned leaves the budget at once but its buffer is reused
// (or left to the garbage collector) only when the last pin goes.

// Pinned is the answer of ReadPinned: the bytes read, as slices of the
// cache's memory or of the caller's buffer. Release must be called once
// the slices are no longer used; it may be called more than once.
type Pinned struct {
	Vecs [][]byte
	N    int // total length of Vecs

	c     *BlockCache
	once  sync.Once
	slabs []*slab // one entry per pin taken
}

// Release ends the pins. The slices must not be used afterwards.
func (p *Pinned) Release() {
	if p == nil || p.c == nil {
		return
	}
	p.once.Do(func() {
		p.c.mu.Lock()
		for _, s := range p.slabs {
			p.c.unpinLocked(s)
		}
		p.c.mu.Unlock()
		p.slabs = nil
	})
}

// ReadPinned reads like ReadAt, but when every block of the range is in
// memory it returns slices of the cache's buffers instead of copying
// them into p; otherwise it fills p (fetching what is missing) and
// returns p's bytes. A short read at the end of the file comes with
// io.EOF. The caller must call Release on the answer.
func (r *FileReader) ReadPinned(ctx context.Context, p []byte, off int64) (*Pinned, error) {
	if off < 0 {
		return nil, fmt.Errorf("cache: read at negative offset %d", off)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if off >= r.size {
		return &Pinned{}, io.EOF
	}
	if len(p) == 0 {
		return &Pinned{}, nil
	}
	n := min(int64(len(p)), r.size-off)
	var eof error
	if n < int64(len(p)) {
		eof = io.EOF
	}
	seq := r.observe(off, n)
	for attempt := 0; attempt < maxWaits; attempt++ {
		pn, wait := r.c.pinRange(r.file, r.version, off, n, !seq)
		if pn != nil {
			return pn, eof
		}
		if wait == nil {
			break // a block nobody is filling: fetch it below
		}
		select {
		case <-wait.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := r.readBlocks(ctx, p[:n], off, !seq); err != nil {
		return nil, err
	}
	return &Pinned{Vecs: [][]byte{p[:n]}, N: int(n)}, eof
}

// pinRange pins the in-memory blocks holding file bytes [off, off+n) of
// (file, version) and returns them as slices, or, when a block is not
// in memory, nil and the fill of the first such block if one is in
// flight. touch moves the blocks to the most recently used end.
func (c *BlockCache) pinRange(file uint64, version string, off, n int64, touch bool) (*Pinned, *fill) {
	bs := int64(c.blockSize)
	first, last := off/bs, (off+n-1)/bs
	c.mu.Lock()
	defer c.mu.Unlock()
	blocks := make([]*block, 0, last-first+1)
	for i := first; i <= last; i++ {
		k := BlockKey{File: file, Version: version, Index: i}
		b, ok := c.mem.Peek(k)
		if !ok {
			return nil, c.inflight[k]
		}
		blocks = append(blocks, b)
	}
	pn := &Pinned{c: c, N: int(n), Vecs: make([][]byte, 0, len(blocks)), slabs: make([]*slab, 0, len(blocks))}
	for j, b := range blocks {
		i := first + int64(j)
		lo, hi := max(off, i*bs)-i*bs, min(off+n, i*bs+int64(len(b.data)))-i*bs
		if lo >= hi {
			continue // cannot happen: the range lies inside the file
		}
		if touch {
			c.mem.Get(BlockKey{File: file, Version: version, Index: i})
		}
		b.slab.pins++
		pn.slabs = append(pn.slabs, b.slab)
		pn.Vecs = append(pn.Vecs, b.data[lo:hi])
	}
	c.stats.Hits += int64(len(blocks))
	return pn, nil
}

// unpinLocked drops one pin of s. A slab that left the cache while
// pinned has its buffer freed by its last unpin: kept for reuse when the
// budget has room, else left to the garbage collector.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) unpinLocked(s *slab) {
	s.pins--
	if s.pins > 0 || s.refs > 0 || s.buf == nil {
		return
	}
	if !s.shared && c.memBytes+c.reserved+c.freeBytes+int64(len(s.buf)) <= c.budget {
		c.putFreeLocked(s.buf)
		c.notifyLocked()
	}
	s.buf = nil
}
