package cache

import (
	"context"
	"sync"
)

// The memory budget: blocks in memory (memBytes) and buffers of fetches in
// flight (reserved) together never exceed budget. A fetch reserves what it
// will hold before it starts, evicting the least recently used blocks to
// make room; when it finishes, the bytes of the blocks it inserts move from
// reserved to memBytes and the rest is released.

// reserve waits until n more bytes fit the budget and reserves them,
// evicting blocks as needed. Read-ahead (ra) may hold at most raLimit.
// n must not exceed budget (raLimit for read-ahead).
func (c *BlockCache) reserve(ctx context.Context, n int64, ra bool) error {
	for {
		var spills []spilled
		c.mu.Lock()
		if c.reserved+n <= c.budget && (!ra || c.raReserved+n <= c.raLimit) {
			spills = c.evictLocked(c.budget - c.reserved - n)
			if c.memBytes+c.reserved+n <= c.budget {
				c.reserved += n
				if ra {
					c.raReserved += n
				}
				c.mu.Unlock()
				c.spill(spills)
				return nil
			}
		}
		wake := c.changed
		c.mu.Unlock()
		if len(spills) > 0 {
			c.spill(spills) // frees memory; then try again
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives back n reserved bytes that did not become blocks.
func (c *BlockCache) release(n int64, ra bool) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	c.releaseLocked(n, ra)
	c.mu.Unlock()
}

// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) releaseLocked(n int64, ra bool) {
	c.reserved -= n
	if ra {
		c.raReserved -= n
	}
	c.notifyLocked()
}

// notifyLocked wakes every caller waiting in reserve.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// spilled is a block evicted to the disk tier whose write is pending.
type spilled struct {
	key BlockKey
	b   *block
}

// evictLocked evicts least recently used blocks until memBytes <= target.
// Without a disk tier evicted blocks are dropped at once; with one they
// move to c.spilling (still counted) and are returned: the caller must
// pass them to spill after unlocking.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) evictLocked(target int64) []spilled {
	var out []spilled
	pending := int64(0) // bytes moved to spilling by this call
	freed := false
	for c.memBytes-pending > target {
		k, b, ok := c.mem.RemoveOldest()
		if !ok {
			break
		}
		c.unindexLocked(k)
		c.stats.Evictions++
		if _, busy := c.spilling[k]; c.disk != nil && !busy {
			c.spilling[k] = b
			out = append(out, spilled{k, b})
			pending += int64(len(b.data))
			continue
		}
		c.memBytes -= int64(len(b.data))
		c.recycle(b)
		freed = true
	}
	if freed {
		c.notifyLocked()
	}
	return out
}

// spill writes evicted blocks to the disk tier and then forgets them in
// memory. It must be called without c.mu.
func (c *BlockCache) spill(list []spilled) {
	for _, s := range list {
		err := c.disk.put(s.key, s.b.data)
		c.mu.Lock()
		if c.spilling[s.key] == s.b {
			delete(c.spilling, s.key)
		}
		c.memBytes -= int64(len(s.b.data))
		dropped := s.b.dropped
		c.recycle(s.b)
		c.notifyLocked()
		c.mu.Unlock()
		if dropped || err != nil {
			c.disk.remove(s.key)
		}
	}
}

// bufPool keeps a bounded amount of free buffers for reuse, so that data
// streaming through the cache leaves almost no garbage behind (garbage
// would let the heap, and the RSS, grow well past the budget between
// collections).
type bufPool struct {
	maxFree int64

	mu        sync.Mutex // protects the fields below; a leaf lock
	free      [][]byte
	freeBytes int64 // INVARIANT: Σ cap over free, <= maxFree
}

func newBufPool(maxFree int64) *bufPool { return &bufPool{maxFree: maxFree} }

// get returns a buffer of length n with capacity at least capacity
// (capacity >= n), reusing the smallest free buffer that fits.
func (p *bufPool) get(n, capacity int) []byte {
	p.mu.Lock()
	best := -1
	for i, b := range p.free {
		if cap(b) >= capacity && (best < 0 || cap(b) < cap(p.free[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := p.free[best]
		last := len(p.free) - 1
		p.free[best] = p.free[last]
		p.free[last] = nil
		p.free = p.free[:last]
		p.freeBytes -= int64(cap(b))
		p.mu.Unlock()
		return b[:n]
	}
	p.mu.Unlock()
	return make([]byte, n, capacity)
}

// put returns b for reuse, or leaves it to the garbage collector when the
// pool is full.
func (p *bufPool) put(b []byte) {
	p.mu.Lock()
	if p.freeBytes+int64(cap(b)) <= p.maxFree {
		p.free = append(p.free, b[:0])
		p.freeBytes += int64(cap(b))
	}
	p.mu.Unlock()
}
