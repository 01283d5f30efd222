package cache

import "context"

// The memory budget. Three kinds of memory count against it:
//
//	memBytes   slabs that cached blocks (in memory or being spilled) use
//	reserved   buffers of fetches in flight
//	freeBytes  free slab buffers kept for reuse
//
// A fetch reserves its buffer before it starts: it takes a free buffer of
// the right size when there is one, else it makes room by dropping free
// buffers of other sizes and then evicting the least recently used blocks,
// and allocates. When it finishes, its buffer becomes a slab of cached
// blocks (reserved → memBytes) or goes back to the free list (reserved →
// freeBytes). A slab whose last block leaves goes to the free list too. So
// memory moves between the three without leaving the budget, and a steady
// stream of data through the cache reuses the same buffers instead of
// leaving garbage behind, which would let the heap (and the RSS) grow to
// twice the budget between two garbage collections.

// reserve waits until n more bytes fit the budget, reserves them and
// returns a buffer of n bytes for the fetch. Read-ahead (ra) may hold at
// most raLimit. n must not exceed budget (raLimit for read-ahead).
func (c *BlockCache) reserve(ctx context.Context, n int64, ra bool) ([]byte, error) {
	for {
		var spills []spilled
		c.mu.Lock()
		if c.reserved+n <= c.budget && (!ra || c.raReserved+n <= c.raLimit) {
			var buf []byte
			var fits bool
			buf, fits, spills = c.roomLocked(n, true)
			if fits {
				c.reserved += n
				if ra {
					c.raReserved += n
				}
				c.mu.Unlock()
				c.spill(spills)
				if buf == nil {
					buf = make([]byte, n)
				}
				return buf, nil
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
			return nil, ctx.Err()
		}
	}
}

// release gives back a reserved buffer that did not become blocks.
func (c *BlockCache) release(buf []byte, ra bool) {
	c.mu.Lock()
	c.unreserveLocked(int64(len(buf)), ra)
	c.putFreeLocked(buf)
	c.notifyLocked()
	c.mu.Unlock()
}

// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) unreserveLocked(n int64, ra bool) {
	c.reserved -= n
	if ra {
		c.raReserved -= n
	}
}

// notifyLocked wakes every caller waiting in reserve.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// roomLocked makes room for n more bytes. With wantBuf, a free buffer of
// exactly n bytes (already free, or freed by an eviction) is taken and
// returned: its bytes move out of freeBytes, and the room is there. fits
// reports that the room is there. Blocks evicted to the disk tier are
// returned in spills; their memory is freed only once spill has written
// them, so the caller must spill them (after unlocking) and try again.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) roomLocked(n int64, wantBuf bool) (buf []byte, fits bool, spills []spilled) {
	pending := c.pendingLocked() // memory that spills in flight will free
	freed := false
	defer func() {
		if freed {
			c.notifyLocked()
		}
	}()
	for {
		if wantBuf {
			if buf = c.takeFreeLocked(n); buf != nil {
				return buf, true, spills
			}
		}
		if c.memBytes+c.reserved+c.freeBytes+n <= c.budget {
			return nil, true, spills
		}
		if c.dropFreeLocked() {
			continue
		}
		if c.memBytes-pending+c.reserved+c.freeBytes+n <= c.budget {
			return nil, false, spills // room comes once the spills are written
		}
		k, b, ok := c.mem.RemoveOldest()
		if !ok {
			return nil, false, spills
		}
		c.unindexLocked(k)
		c.stats.Evictions++
		if _, busy := c.spilling[k]; c.disk != nil && !busy {
			c.spilling[k] = b
			spills = append(spills, spilled{k, b})
			b.slab.leaving++
			if b.slab.leaving == b.slab.refs {
				pending += b.slab.size
			}
			continue
		}
		freed = c.unrefLocked(b) || freed
	}
}

// pendingLocked returns the memory that the spills in flight will free.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) pendingLocked() int64 {
	var n int64
	seen := make(map[*slab]bool)
	for _, b := range c.spilling {
		if s := b.slab; !seen[s] && s.refs == s.leaving {
			seen[s] = true
			n += s.size
		}
	}
	return n
}

// takeFreeLocked returns a free buffer of n bytes, or nil.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) takeFreeLocked(n int64) []byte {
	list := c.free[n]
	if len(list) == 0 {
		return nil
	}
	buf := list[len(list)-1]
	list[len(list)-1] = nil
	if len(list) == 1 {
		delete(c.free, n)
	} else {
		c.free[n] = list[:len(list)-1]
	}
	c.freeBytes -= n
	return buf
}

// putFreeLocked keeps buf for reuse.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) putFreeLocked(buf []byte) {
	n := int64(len(buf))
	c.free[n] = append(c.free[n], buf)
	c.freeBytes += n
}

// dropFreeLocked leaves one free buffer to the garbage collector (of a
// size nobody asked for, since a buffer of the size asked for is taken
// first) and reports whether there was one.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) dropFreeLocked() bool {
	for n := range c.free {
		c.takeFreeLocked(n)
		return true
	}
	return false
}

// spilled is a block evicted to the disk tier whose write is pending.
type spilled struct {
	key BlockKey
	b   *block
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
		dropped := s.b.dropped
		s.b.slab.leaving--
		if c.unrefLocked(s.b) {
			c.notifyLocked()
		}
		c.mu.Unlock()
		if dropped || err != nil {
			c.disk.remove(s.key)
		}
	}
}
