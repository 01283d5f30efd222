package cache

// Fills: at most one caller fetches a given block at a time. A caller
// claims the blocks it will fill; a caller that wants a block someone else
// has claimed waits for that claim to end and then looks again. This is
// singleflight keyed per block: golang.org/x/sync/singleflight collapses
// calls under one key, but one ranged fetch fills a run of blocks, each of
// which other readers may want on its own, so the claims live in a table
// of their own (BlockCache.inflight).

// fill is one claimed block being filled.
type fill struct {
	done chan struct{} // closed when the claim ends, whether the block was inserted or not
	// dropped is set (under BlockCache.mu) when a Drop covered the key
	// while the fill was in flight: its result must not be inserted.
	dropped bool
}

// claim pairs a block with its fill.
type claim struct {
	key  BlockKey
	fill *fill
}

// acquire looks at blocks first..last of (file, version) under one lock,
// skipping those with skip[i-first] set:
//   - a block in memory is passed to found (which runs with c.mu held and
//     must only copy it), or merely skipped when found is nil; touch moves
//     a found block to the most recently used end;
//   - a block someone else is filling is returned in wait (found != nil)
//     or skipped (found == nil);
//   - every other block is claimed for the caller and returned in mine.
//
// The caller must end each claim in mine with finish or abandon.
func (c *BlockCache) acquire(file uint64, version string, first, last int64, skip []bool, touch bool,
	found func(i int64, data []byte)) (mine, wait []claim) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := first; i <= last; i++ {
		if skip != nil && skip[i-first] {
			continue
		}
		k := BlockKey{File: file, Version: version, Index: i}
		if found == nil {
			if c.presentLocked(k) {
				continue
			}
		} else if b, ok := c.mem.Peek(k); ok {
			if touch {
				c.mem.Get(k)
			}
			found(i, b.data)
			c.stats.Hits++
			continue
		} else if b, ok := c.spilling[k]; ok && !b.dropped {
			found(i, b.data)
			c.stats.Hits++
			continue
		}
		if f, ok := c.inflight[k]; ok {
			if found != nil {
				c.stats.Waits++
				wait = append(wait, claim{k, f})
			}
			continue
		}
		f := &fill{done: make(chan struct{})}
		c.inflight[k] = f
		mine = append(mine, claim{k, f})
	}
	return mine, wait
}

// finish inserts the claimed blocks of slab s (fetched file bytes from
// block first on; cls are claims on some of those blocks, in order) and
// ends the claims. The caller's reservation of s.size bytes becomes the
// slab's share of the budget, or is released if no block goes in.
func (c *BlockCache) finish(file uint64, version string, first int64, s *slab, cls []claim, ra bool) {
	fills := make([]*fill, (int64(len(s.buf))+int64(c.blockSize)-1)/int64(c.blockSize))
	for _, cl := range cls {
		fills[cl.key.Index-first] = cl.fill
	}
	c.mu.Lock()
	c.unreserveLocked(s.size, ra)
	if !c.insertLocked(file, version, first, s, fills) {
		c.putFreeLocked(s.buf)
	}
	c.notifyLocked()
	for _, cl := range cls {
		c.endLocked(cl)
	}
	c.mu.Unlock()
}

// abandon ends claims without inserting anything; waiters look again and
// fill the blocks themselves.
func (c *BlockCache) abandon(cls ...claim) {
	if len(cls) == 0 {
		return
	}
	c.mu.Lock()
	for _, cl := range cls {
		c.endLocked(cl)
	}
	c.mu.Unlock()
}

// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) endLocked(cl claim) {
	if c.inflight[cl.key] == cl.fill {
		delete(c.inflight, cl.key)
	}
	close(cl.fill.done)
}
