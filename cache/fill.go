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

// finish inserts b as the block of cl and ends the claim. The caller's
// reservation of len(b.data) bytes becomes the block's share of the
// budget (or is released when the block is not inserted).
func (c *BlockCache) finish(cl claim, b *block, ra bool) {
	n := int64(len(b.data))
	c.mu.Lock()
	c.reserved -= n
	if ra {
		c.raReserved -= n
	}
	if cl.fill.dropped || c.presentLocked(cl.key) {
		c.recycle(b)
	} else {
		c.addLocked(cl.key, b)
	}
	c.notifyLocked()
	c.endLocked(cl)
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
