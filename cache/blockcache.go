package cache

import (
	"fmt"
	"math"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Lock order in this package (outer first):
//
//	FileReader.mu → BlockCache.mu → diskTier.mu, bufPool.mu
//
// BlockCache.mu is never held across a fetch or a disk write; diskTier.mu
// and bufPool.mu are leaves that call nothing else.

// Defaults of BlockCacheOptions.
const (
	DefaultBlockSize  = 1 << 20   // 1 MiB
	DefaultMemBudget  = 256 << 20 // 256 MiB
	DefaultDiskBudget = 1 << 30   // 1 GiB
)

// BlockKey names one block of one version of a remote file. Block Index
// covers bytes [Index*BlockSize, (Index+1)*BlockSize) of the file; the
// last block of a file may be shorter. The bytes stored under a key never
// change: a new version of the file is a new key.
type BlockKey struct {
	File    uint64 // the file's identity, chosen by the caller
	Version string // the remote version the bytes belong to
	Index   int64  // block number
}

// BlockCacheOptions configure a BlockCache. Zero values take the defaults.
type BlockCacheOptions struct {
	// BlockSize is the size of a block in bytes. Default 1 MiB.
	BlockSize int
	// MemBudget is the most bytes of block data kept in memory, including
	// the buffers of fetches in flight. Default 256 MiB; at least BlockSize.
	// The cache never exceeds it.
	MemBudget int64
	// DiskDir, when set, enables a disk tier: blocks evicted from memory
	// spill to a private directory created inside DiskDir and removed by
	// Close. Empty means no disk tier.
	DiskDir string
	// DiskBudget is the most bytes of block data kept on disk. Default
	// 1 GiB when DiskDir is set.
	DiskBudget int64
}

// BlockStats are counters and gauges of a BlockCache.
type BlockStats struct {
	Hits          int64 // blocks found in memory when asked for
	DiskHits      int64 // blocks found on the disk tier when asked for
	Misses        int64 // blocks asked for and absent (fetched, or Get returned false)
	Waits         int64 // blocks asked for while another fetch of them was in flight
	MemBytes      int64 // bytes of block data in memory
	MemBlocks     int   // blocks in memory
	Reserved      int64 // bytes reserved by fetches in flight
	DiskBytes     int64 // bytes of block data on disk
	DiskBlocks    int   // blocks on disk
	Evictions     int64 // blocks evicted from memory (spilled or dropped)
	DiskEvictions int64 // blocks evicted from the disk tier
}

// block is one cached block.
type block struct {
	data []byte
	// pooled: the buffer came from c.blocks and nobody outside the cache
	// holds it, so it may be reused once the block leaves the cache.
	pooled bool
	// dropped (spilling blocks only): a Drop call covered the block while
	// it was being written to disk; the disk copy must not be kept.
	dropped bool
}

// BlockCache keeps blocks of remote files in memory under a byte budget,
// with an optional disk tier. It is safe for concurrent use.
//
// The budget covers the blocks in memory, blocks being written to the disk
// tier, and the buffers reserved by fetches in flight (read-ahead included),
// so several FileReaders streaming at once share it.
type BlockCache struct {
	blockSize int
	budget    int64
	raLimit   int64     // most bytes read-ahead may hold reserved at once
	disk      *diskTier // nil without a disk tier; has its own lock
	blocks    *bufPool  // free block buffers (capacity blockSize)
	runs      *bufPool  // free buffers of multi-block fetches

	mu sync.Mutex // protects the fields below
	// mem holds the blocks in memory in LRU order.
	// INVARIANT: every block holds 1..blockSize bytes.
	mem *simplelru.LRU[BlockKey, *block]
	// byFile groups the keys of mem by file.
	// INVARIANT: exactly the keys of mem.
	byFile map[uint64]map[BlockKey]struct{}
	// spilling holds blocks evicted from mem whose disk write has not
	// finished; they are still readable and still counted in memBytes.
	// INVARIANT: a key is in at most one of mem and spilling, unless the
	// spilling block is dropped.
	spilling map[BlockKey]*block
	// inflight holds the blocks some caller has claimed and is filling.
	inflight map[BlockKey]*fill
	// memBytes is the data held by mem and spilling.
	// INVARIANT: memBytes == Σ len(data) over mem and spilling.
	memBytes int64
	// reserved is held by fetches in flight; raReserved is the part of it
	// held by read-ahead.
	// INVARIANT: memBytes+reserved <= budget; raReserved <= raLimit.
	reserved, raReserved int64
	// changed is closed (and replaced) whenever memBytes or reserved falls,
	// waking callers waiting for budget.
	changed chan struct{}
	stats   BlockStats // counters only; gauges are computed by Stats
}

// NewBlockCache returns an empty cache. With opts.DiskDir set it creates a
// private directory for the disk tier inside DiskDir.
func NewBlockCache(opts BlockCacheOptions) (*BlockCache, error) {
	if opts.BlockSize <= 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.MemBudget <= 0 {
		opts.MemBudget = DefaultMemBudget
	}
	if opts.MemBudget < int64(opts.BlockSize) {
		return nil, fmt.Errorf("cache: memory budget %d is smaller than one block (%d)", opts.MemBudget, opts.BlockSize)
	}
	mem, err := simplelru.NewLRU[BlockKey, *block](math.MaxInt, nil)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c := &BlockCache{
		blockSize: opts.BlockSize,
		budget:    opts.MemBudget,
		raLimit:   opts.MemBudget / 2,
		blocks:    newBufPool(16 << 20),
		runs:      newBufPool(16 << 20),
		mem:       mem,
		byFile:    make(map[uint64]map[BlockKey]struct{}),
		spilling:  make(map[BlockKey]*block),
		inflight:  make(map[BlockKey]*fill),
		changed:   make(chan struct{}),
	}
	if opts.DiskDir != "" {
		if opts.DiskBudget <= 0 {
			opts.DiskBudget = DefaultDiskBudget
		}
		c.disk, err = newDiskTier(opts.DiskDir, opts.DiskBudget)
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// BlockSize returns the size of a block in bytes.
func (c *BlockCache) BlockSize() int { return c.blockSize }

// Get returns the block stored under k, from memory or the disk tier. The
// returned slice is shared: the caller must not modify it.
func (c *BlockCache) Get(k BlockKey) ([]byte, bool) {
	c.mu.Lock()
	if b, ok := c.mem.Get(k); ok {
		b.pooled = false // escapes: never reuse this buffer
		c.stats.Hits++
		c.mu.Unlock()
		return b.data, true
	}
	if b, ok := c.spilling[k]; ok && !b.dropped {
		b.pooled = false
		c.stats.Hits++
		c.mu.Unlock()
		return b.data, true
	}
	c.mu.Unlock()
	if c.disk != nil {
		if data, ok := c.disk.getNew(k, c.blockSize); ok {
			c.add(&c.stats.DiskHits, 1)
			return data, true
		}
	}
	c.add(&c.stats.Misses, 1)
	return nil, false
}

// Put stores data under k. The cache owns data afterwards: the caller must
// not modify it. Blocks that are empty or longer than BlockSize are
// ignored, and so is a block that does not fit the budget because fetches
// in flight hold it. Putting a key already cached keeps the cached copy
// (the bytes of a key never change).
func (c *BlockCache) Put(k BlockKey, data []byte) {
	if len(data) == 0 || len(data) > c.blockSize {
		return
	}
	for try := 0; try < 2; try++ {
		c.mu.Lock()
		if c.presentLocked(k) {
			c.mem.Get(k) // refresh its place in the LRU order
			c.mu.Unlock()
			return
		}
		n := int64(len(data))
		spills := c.evictLocked(c.budget - c.reserved - n)
		if c.memBytes+c.reserved+n <= c.budget {
			c.addLocked(k, &block{data: data})
			c.mu.Unlock()
			c.spill(spills)
			return
		}
		c.mu.Unlock()
		if len(spills) == 0 {
			return // the budget is held by fetches in flight
		}
		c.spill(spills) // room appears once the spilled blocks are written
	}
}

// PutWhole stores a whole file (typically a small file read inline) as
// blocks of version. The cache owns data afterwards.
func (c *BlockCache) PutWhole(file uint64, version string, data []byte) {
	bs := c.blockSize
	for i := 0; i*bs < len(data); i++ {
		end := min((i+1)*bs, len(data))
		c.Put(BlockKey{File: file, Version: version, Index: int64(i)}, data[i*bs:end:end])
	}
}

// DropFile forgets every block of file, whatever its version, in memory
// and on disk. Fetches of the file in flight finish but do not insert.
func (c *BlockCache) DropFile(file uint64) {
	c.drop(file, func(BlockKey) bool { return true })
}

// DropOtherVersions forgets every block of file whose version is not keep.
func (c *BlockCache) DropOtherVersions(file uint64, keep string) {
	c.drop(file, func(k BlockKey) bool { return k.Version != keep })
}

func (c *BlockCache) drop(file uint64, match func(BlockKey) bool) {
	c.mu.Lock()
	for k := range c.byFile[file] {
		if match(k) {
			b, _ := c.mem.Peek(k)
			c.mem.Remove(k)
			c.unindexLocked(k)
			c.memBytes -= int64(len(b.data))
			c.recycle(b)
		}
	}
	for k, b := range c.spilling {
		if k.File == file && match(k) {
			b.dropped = true
		}
	}
	for k, f := range c.inflight {
		if k.File == file && match(k) {
			f.dropped = true
		}
	}
	c.notifyLocked()
	c.mu.Unlock()
	if c.disk != nil {
		c.disk.drop(file, match)
	}
}

// Stats returns the cache's counters and current sizes.
func (c *BlockCache) Stats() BlockStats {
	c.mu.Lock()
	s := c.stats
	s.MemBytes = c.memBytes
	s.MemBlocks = c.mem.Len() + len(c.spilling)
	s.Reserved = c.reserved
	c.mu.Unlock()
	if c.disk != nil {
		s.DiskBytes, s.DiskBlocks, s.DiskEvictions = c.disk.stats()
	}
	return s
}

// Close removes the disk tier's files. The memory tier keeps working; a
// closed disk tier stores nothing more.
func (c *BlockCache) Close() error {
	if c.disk == nil {
		return nil
	}
	return c.disk.close()
}

// add adds delta to a counter of c.stats.
func (c *BlockCache) add(counter *int64, delta int64) {
	c.mu.Lock()
	*counter += delta
	c.mu.Unlock()
}

// presentLocked reports whether k is readable from memory.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) presentLocked(k BlockKey) bool {
	if c.mem.Contains(k) {
		return true
	}
	b, ok := c.spilling[k]
	return ok && !b.dropped
}

// addLocked inserts a block the caller made room for.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) addLocked(k BlockKey, b *block) {
	c.mem.Add(k, b)
	keys := c.byFile[k.File]
	if keys == nil {
		keys = make(map[BlockKey]struct{})
		c.byFile[k.File] = keys
	}
	keys[k] = struct{}{}
	c.memBytes += int64(len(b.data))
}

// unindexLocked removes k from byFile.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) unindexLocked(k BlockKey) {
	keys := c.byFile[k.File]
	delete(keys, k)
	if len(keys) == 0 {
		delete(c.byFile, k.File)
	}
}

// recycle hands a block's buffer back for reuse when nobody else holds it.
func (c *BlockCache) recycle(b *block) {
	if b.pooled {
		c.blocks.put(b.data)
		b.data, b.pooled = nil, false
	}
}

// checkInvariants verifies the INVARIANT comments above; tests call it
// after each operation.
func (c *BlockCache) checkInvariants() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var sum int64
	n := 0
	for _, k := range c.mem.Keys() {
		b, _ := c.mem.Peek(k)
		if len(b.data) == 0 || len(b.data) > c.blockSize {
			return fmt.Errorf("block %v holds %d bytes", k, len(b.data))
		}
		if _, ok := c.byFile[k.File][k]; !ok {
			return fmt.Errorf("block %v missing from byFile", k)
		}
		if s, ok := c.spilling[k]; ok && !s.dropped {
			return fmt.Errorf("block %v both in memory and spilling", k)
		}
		sum += int64(len(b.data))
	}
	for _, keys := range c.byFile {
		n += len(keys)
	}
	if n != c.mem.Len() {
		return fmt.Errorf("byFile holds %d keys, mem %d", n, c.mem.Len())
	}
	for _, b := range c.spilling {
		sum += int64(len(b.data))
	}
	if sum != c.memBytes {
		return fmt.Errorf("memBytes %d, blocks hold %d", c.memBytes, sum)
	}
	if c.memBytes+c.reserved > c.budget {
		return fmt.Errorf("memBytes %d + reserved %d exceed budget %d", c.memBytes, c.reserved, c.budget)
	}
	if c.reserved < 0 || c.raReserved < 0 || c.raReserved > c.raLimit || c.raReserved > c.reserved {
		return fmt.Errorf("reserved %d, read-ahead reserved %d (limit %d)", c.reserved, c.raReserved, c.raLimit)
	}
	if c.disk != nil {
		return c.disk.checkInvariants()
	}
	return nil
}
