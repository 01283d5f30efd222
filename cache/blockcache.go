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
	FreeBytes     int64 // bytes of free buffers kept for reuse (within the budget)
	DiskBytes     int64 // bytes of block data on disk
	DiskBlocks    int   // blocks on disk
	Evictions     int64 // blocks evicted from memory (spilled or dropped)
	DiskEvictions int64 // blocks evicted from the disk tier
}

// slab is one buffer holding one or more adjacent blocks: what one fetch
// brought. Blocks point into it, so a fetch of a run of blocks is neither
// copied nor split. The slab's bytes count against the budget for as long
// as any of its blocks is in memory (or being spilled), and its buffer is
// reused once none is.
type slab struct {
	buf  []byte
	size int64 // bytes counted in memBytes while refs > 0
	// The fields below are guarded by BlockCache.mu.
	refs    int  // blocks in mem or spilling that point into buf
	leaving int  // of those, blocks being spilled to disk
	shared  bool // a slice of buf is held outside the cache: never reuse buf
	// pins counts slices of buf handed out by ReadPinned and not yet
	// released; buf is reused only once refs and pins are both 0.
	pins int
}

// block is one cached block.
type block struct {
	data []byte // a slice of slab.buf
	slab *slab
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
	// memBytes is the memory held by mem and spilling.
	// INVARIANT: memBytes == Σ size over the slabs of the blocks in mem
	// and spilling; each such slab's refs counts those blocks.
	memBytes int64
	// reserved is held by fetches in flight; raReserved is the part of it
	// held by read-ahead.
	reserved, raReserved int64
	// free holds free slab buffers by length, for reuse (see budget.go).
	// INVARIANT: freeBytes == Σ len over free.
	free      map[int64][][]byte
	freeBytes int64
	// INVARIANT: memBytes+reserved+freeBytes <= budget; raReserved <= raLimit.

	// changed is closed (and replaced) whenever memory is freed or a
	// reservation ends, waking callers waiting in reserve.
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
		free:      make(map[int64][][]byte),
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
		b.slab.shared = true // escapes: never reuse this buffer
		c.stats.Hits++
		c.mu.Unlock()
		return b.data, true
	}
	if b, ok := c.spilling[k]; ok && !b.dropped {
		b.slab.shared = true
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

// Contains reports whether k is cached, in memory or on disk, without
// counting a hit or a miss and without moving it in the LRU order.
func (c *BlockCache) Contains(k BlockKey) bool {
	c.mu.Lock()
	ok := c.presentLocked(k)
	c.mu.Unlock()
	return ok || c.disk != nil && c.disk.contains(k)
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
	c.putSlab(k.File, k.Version, k.Index, data)
}

// PutWhole stores a whole file (typically a small file read inline) as
// blocks of version. The cache owns data afterwards.
func (c *BlockCache) PutWhole(file uint64, version string, data []byte) {
	if len(data) > 0 {
		c.putSlab(file, version, 0, data)
	}
}

// putSlab stores data, which the caller gives away, as the blocks from
// index first on, making room for all of it or storing nothing.
func (c *BlockCache) putSlab(file uint64, version string, first int64, data []byte) {
	s := &slab{buf: data, size: int64(len(data)), shared: true}
	for try := 0; try < 2; try++ {
		c.mu.Lock()
		if c.touchAllLocked(file, version, first, s.size) || c.reserved+s.size > c.budget {
			c.mu.Unlock()
			return // cached already, or it could not fit
		}
		_, fits, spills := c.roomLocked(s.size, false)
		if fits {
			c.insertLocked(file, version, first, s, nil)
		}
		c.mu.Unlock()
		c.spill(spills)
		if fits || len(spills) == 0 {
			return // stored, or the budget is held by fetches in flight
		}
		// Room appears now that the spilled blocks are written.
	}
}

// touchAllLocked refreshes the LRU place of the blocks from index first
// on that n bytes cover and reports whether all of them are cached.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) touchAllLocked(file uint64, version string, first, n int64) bool {
	all := true
	for i := int64(0); i*int64(c.blockSize) < n; i++ {
		k := BlockKey{File: file, Version: version, Index: first + i}
		c.mem.Get(k)
		all = all && c.presentLocked(k)
	}
	return all
}

// insertLocked inserts the blocks of slab s, which hold file bytes from
// block first on, except those already cached and, when fills is given,
// those whose fill was dropped (fills[i] belongs to block first+i, nil for
// a block not to insert). If any block goes in, s.size joins memBytes and
// the caller must have made room for it; it reports whether any did.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) insertLocked(file uint64, version string, first int64, s *slab, fills []*fill) bool {
	bs := int64(c.blockSize)
	for i := int64(0); i*bs < int64(len(s.buf)); i++ {
		k := BlockKey{File: file, Version: version, Index: first + i}
		if fills != nil && (fills[i] == nil || fills[i].dropped) || c.presentLocked(k) {
			continue
		}
		end := min((i+1)*bs, int64(len(s.buf)))
		c.mem.Add(k, &block{data: s.buf[i*bs : end : end], slab: s})
		keys := c.byFile[file]
		if keys == nil {
			keys = make(map[BlockKey]struct{})
			c.byFile[file] = keys
		}
		keys[k] = struct{}{}
		s.refs++
	}
	if s.refs > 0 {
		c.memBytes += s.size
	}
	return s.refs > 0
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
			c.unrefLocked(b)
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
	s.FreeBytes = c.freeBytes
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

// unindexLocked removes k from byFile.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) unindexLocked(k BlockKey) {
	keys := c.byFile[k.File]
	delete(keys, k)
	if len(keys) == 0 {
		delete(c.byFile, k.File)
	}
}

// unrefLocked drops a block's hold on its slab. When no block holds the
// slab any more its memory is freed: the buffer goes to the free list, or
// to the garbage collector when a slice of it is held outside the cache.
// It reports whether the slab was freed.
// LOCKS_REQUIRED(c.mu)
func (c *BlockCache) unrefLocked(b *block) bool {
	s := b.slab
	b.data, b.slab = nil, nil
	s.refs--
	if s.refs > 0 {
		return false
	}
	c.memBytes -= s.size
	if s.pins > 0 {
		return true // the last unpin frees buf (pin.go)
	}
	if !s.shared {
		c.putFreeLocked(s.buf)
	}
	s.buf = nil
	return true
}

// checkInvariants verifies the INVARIANT comments above; tests call it
// after each operation.
func (c *BlockCache) checkInvariants() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	refs := make(map[*slab]int)
	leaving := make(map[*slab]int)
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
		refs[b.slab]++
	}
	n := 0
	for _, keys := range c.byFile {
		n += len(keys)
	}
	if n != c.mem.Len() {
		return fmt.Errorf("byFile holds %d keys, mem %d", n, c.mem.Len())
	}
	for _, b := range c.spilling {
		refs[b.slab]++
		leaving[b.slab]++
	}
	var sum int64
	for s, n := range refs {
		if s.refs != n || s.leaving != leaving[s] {
			return fmt.Errorf("slab of %d bytes counts %d refs (%d leaving), blocks hold %d (%d)", s.size, s.refs, s.leaving, n, leaving[s])
		}
		sum += s.size
	}
	if sum != c.memBytes {
		return fmt.Errorf("memBytes %d, slabs hold %d", c.memBytes, sum)
	}
	var free int64
	for n, list := range c.free {
		for _, b := range list {
			if int64(len(b)) != n {
				return fmt.Errorf("free buffer of %d bytes listed under %d", len(b), n)
			}
			free += n
		}
	}
	if free != c.freeBytes {
		return fmt.Errorf("freeBytes %d, free list holds %d", c.freeBytes, free)
	}
	if c.memBytes+c.reserved+c.freeBytes > c.budget {
		return fmt.Errorf("memBytes %d + reserved %d + freeBytes %d exceed budget %d", c.memBytes, c.reserved, c.freeBytes, c.budget)
	}
	if c.reserved < 0 || c.raReserved < 0 || c.raReserved > c.raLimit || c.raReserved > c.reserved {
		return fmt.Errorf("reserved %d, read-ahead reserved %d (limit %d)", c.reserved, c.raReserved, c.raLimit)
	}
	if c.disk != nil {
		return c.disk.checkInvariants()
	}
	return nil
}
