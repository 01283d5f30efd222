package cache

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// Fetch reads bytes [off, off+len(p)) of the remote file into p, with
// io.ReaderAt semantics: it returns len(p) bytes, or fewer and an error
// (io.EOF at the end of the file). It must honour ctx. A FileReader asks
// only for block-aligned ranges (the last block of the file may be short),
// several blocks at once when it can, and never for bytes past the size it
// was created with. Fetch must return bytes of the version the reader was
// created with, or an error: the reader inserts blocks under that version.
type Fetch func(ctx context.Context, p []byte, off int64) (int, error)

// Defaults of ReadAheadOptions.
const (
	DefaultMaxWindow   = 32 << 20 // 32 MiB
	DefaultMaxParallel = 8
	DefaultFetchSize   = 4 << 20 // 4 MiB
)

// ReadAheadOptions tune a FileReader. Zero values take the defaults.
type ReadAheadOptions struct {
	// MaxWindow is the most bytes read ahead of the reader, fetched or in
	// flight. Default 32 MiB; negative disables read-ahead. It is capped at
	// a quarter of the cache's memory budget.
	MaxWindow int64
	// MaxParallel is the most fetches in flight for one reader. Default 8.
	// Read-ahead takes at most MaxParallel-1 of them (when MaxParallel > 1)
	// so that a read never queues behind read-ahead.
	MaxParallel int
	// FetchSize is the most bytes one fetch asks for. Default 4 MiB; it is
	// rounded down to a multiple of the block size (at least one block)
	// and, for read-ahead, capped at half the window.
	FetchSize int64
}

// errClosed is returned by ReadAt after Close.
var errClosed = fmt.Errorf("cache: file reader closed: %w", os.ErrClosed)

// maxWaits bounds how often one read waits for other callers' fills of the
// same blocks before fetching them on its own.
const maxWaits = 3

// FileReader reads one version of one remote file through a BlockCache.
// Use one per open file handle. It is safe for concurrent use.
type FileReader struct {
	c       *BlockCache
	file    uint64
	version string
	size    int64
	fetch   Fetch
	bs      int64 // block size

	runMax    int64 // most bytes of one fetch for a read (≥ one block)
	backTol   int64 // a read this far behind the streak is not a seek
	chunk     int64 // bytes of one read-ahead fetch; 0 when read-ahead is off
	maxWindow int64 // 0 when read-ahead is off

	maxParallel int                 // MaxParallel
	raMax       int64               // most read-ahead fetches at once: one slot stays for reads
	sem         *semaphore.Weighted // fetches in flight, MaxParallel
	ctx         context.Context     // read-ahead runs under it; Close cancels it
	cancel      context.CancelFunc
	wg          sync.WaitGroup // read-ahead goroutines
	fetched     atomic.Int64   // bytes returned by fetch
	running     atomic.Int64   // read-ahead goroutines alive

	mu sync.Mutex // protects the fields below (the read-ahead state, see readahead.go)
	raState
}

// NewFileReader returns a reader of size bytes of (file, version). fetch
// reaches the remote copy of that version.
func NewFileReader(c *BlockCache, file uint64, version string, size int64, fetch Fetch, opts ReadAheadOptions) *FileReader {
	r := &FileReader{c: c, file: file, version: version, size: max(size, 0), fetch: fetch, bs: int64(c.blockSize)}
	if opts.MaxParallel <= 0 {
		opts.MaxParallel = DefaultMaxParallel
	}
	if opts.FetchSize <= 0 {
		opts.FetchSize = DefaultFetchSize
	}
	if opts.MaxWindow == 0 {
		opts.MaxWindow = DefaultMaxWindow
	}
	fetchSize := max(roundDown(opts.FetchSize, r.bs), r.bs)
	r.runMax = max(min(fetchSize, roundDown(c.budget/2, r.bs)), r.bs)
	r.backTol = max(2*r.bs, 1<<20)
	// A reader's read-ahead (fetched or in flight, up to a window plus a
	// chunk) stays within a quarter of the budget, so that it never evicts
	// its own blocks before they are read; all readers together hold at
	// most raLimit in flight.
	r.maxWindow = min(opts.MaxWindow, c.budget/4)
	r.chunk = min(fetchSize, roundDown(r.maxWindow/2, r.bs))
	if r.chunk < r.bs {
		r.chunk, r.maxWindow = 0, 0
	}
	r.maxParallel = opts.MaxParallel
	r.raMax = int64(max(opts.MaxParallel-1, 1))
	r.sem = semaphore.NewWeighted(int64(opts.MaxParallel))
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// Fetched returns the bytes fetched from the remote by this reader.
func (r *FileReader) Fetched() int64 { return r.fetched.Load() }

// Close cancels the read-ahead in flight and waits for its goroutines.
// Blocks already fetched stay in the cache. ReadAt fails after Close.
func (r *FileReader) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// ReadAt reads len(p) bytes at off with io.ReaderAt semantics: fewer bytes
// come with an error, io.EOF at the end of the file. Blocks come from the
// cache when it has them; the missing ones are fetched, one fetch per run
// of adjacent missing blocks. A sequential reader gets read-ahead.
func (r *FileReader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("cache: read at negative offset %d", off)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return 0, errClosed
	}
	if off >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := min(int64(len(p)), r.size-off)
	seq := r.observe(off, n)
	if err := r.readBlocks(ctx, p[:n], off, !seq); err != nil {
		return 0, err
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// readBlocks fills p (inside the file) from the cache, waiting for fills
// others have in flight and fetching what nobody has. A sequential read
// (touch false) leaves the blocks it passes where they are in the LRU
// order, so that they go before the read-ahead blocks still ahead of it.
func (r *FileReader) readBlocks(ctx context.Context, p []byte, off int64, touch bool) error {
	first, last := off/r.bs, (off+int64(len(p))-1)/r.bs
	have := make([]bool, last-first+1)
	found := func(i int64, data []byte) {
		copyOut(p, off, i*r.bs, data)
		have[i-first] = true
	}
	for attempt := 0; ; attempt++ {
		mine, wait := r.c.acquire(r.file, r.version, first, last, have, touch, found)
		if len(mine) > 0 {
			if err := r.load(ctx, mine, p, off, false); err != nil {
				return err
			}
			for _, cl := range mine {
				have[cl.key.Index-first] = true
			}
		}
		if len(wait) == 0 {
			return nil
		}
		if attempt == maxWaits {
			return r.fetchDirect(ctx, wait, p, off)
		}
		for _, cl := range wait {
			select {
			case <-cl.fill.done:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// blockLen returns the length of block i of the file.
func (r *FileReader) blockLen(i int64) int64 { return min(r.bs, r.size-i*r.bs) }

// copyOut copies the part of data (file bytes from start) that overlaps p
// (file bytes from off) into p.
func copyOut(p []byte, off, start int64, data []byte) {
	if p == nil {
		return
	}
	lo, hi := max(off, start), min(off+int64(len(p)), start+int64(len(data)))
	if lo < hi {
		copy(p[lo-off:hi-off], data[lo-start:hi-start])
	}
}

func roundDown(n, unit int64) int64 { return n / unit * unit }

func roundUp(n, unit int64) int64 { return (n + unit - 1) / unit * unit }
