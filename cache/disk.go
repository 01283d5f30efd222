package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// diskTier keeps blocks evicted from memory as files in a private
// directory, one file per block, named by a hash of the key (so a version
// string never becomes a path). A file is written under a temporary name
// and renamed into place, and the bytes of a key never change, so a reader
// sees a whole block or none. A file that vanished or has the wrong size
// is a miss, never an error.
type diskTier struct {
	dir    string // private directory, removed by close
	budget int64

	mu sync.Mutex // protects the fields below; a leaf lock
	// index holds the blocks on disk (key → size) in LRU order.
	index *simplelru.LRU[BlockKey, int64]
	// byFile groups the keys of index by file.
	// INVARIANT: exactly the keys of index.
	byFile map[uint64]map[BlockKey]struct{}
	// bytes is the data on disk.
	// INVARIANT: bytes == Σ sizes in index, bytes <= budget.
	bytes     int64
	evictions int64
	closed    bool
}

func newDiskTier(parent string, budget int64) (*diskTier, error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "blocks-")
	if err != nil {
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	index, err := simplelru.NewLRU[BlockKey, int64](math.MaxInt, nil)
	if err != nil {
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	return &diskTier{dir: dir, budget: budget, index: index, byFile: make(map[uint64]map[BlockKey]struct{})}, nil
}

// path returns the file that holds k.
func (d *diskTier) path(k BlockKey) string {
	h := sha256.New()
	var num [16]byte
	binary.BigEndian.PutUint64(num[:8], k.File)
	binary.BigEndian.PutUint64(num[8:], uint64(k.Index))
	h.Write(num[:])
	h.Write([]byte(k.Version))
	return filepath.Join(d.dir, hex.EncodeToString(h.Sum(nil)[:16]))
}

// has reports whether k is on disk (and refreshes its LRU place).
func (d *diskTier) has(k BlockKey) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.index.Get(k)
	return ok
}

// contains reports whether k is on disk, leaving its LRU place alone.
func (d *diskTier) contains(k BlockKey) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.index.Contains(k)
}

// put stores data as k, evicting the least recently used blocks beyond the
// budget.
func (d *diskTier) put(k BlockKey, data []byte) error {
	if d.has(k) || int64(len(data)) > d.budget {
		return nil
	}
	name := d.path(k)
	if err := writeFileAtomic(name, data); err != nil {
		return fmt.Errorf("cache: disk tier: %w", err)
	}
	var victims []BlockKey
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		_ = os.Remove(name)
		return nil
	}
	if !d.index.Contains(k) {
		d.addLocked(k, int64(len(data)))
	}
	for d.bytes > d.budget {
		v, _, _ := d.index.GetOldest()
		d.forgetLocked(v)
		d.evictions++
		victims = append(victims, v)
	}
	d.mu.Unlock()
	for _, v := range victims {
		_ = os.Remove(d.path(v))
	}
	return nil
}

// get reads k into dst, which must be exactly its size.
func (d *diskTier) get(k BlockKey, dst []byte) bool {
	d.mu.Lock()
	size, ok := d.index.Get(k)
	d.mu.Unlock()
	if !ok || size != int64(len(dst)) {
		return false
	}
	f, err := os.Open(d.path(k))
	if err == nil {
		_, err = io.ReadFull(f, dst)
		f.Close()
	}
	if err != nil {
		d.remove(k)
		return false
	}
	return true
}

// getNew reads k into a new buffer.
func (d *diskTier) getNew(k BlockKey, blockSize int) ([]byte, bool) {
	d.mu.Lock()
	size, ok := d.index.Peek(k)
	d.mu.Unlock()
	if !ok || size > int64(blockSize) {
		return nil, false
	}
	buf := make([]byte, size)
	return buf, d.get(k, buf)
}

// remove forgets k and deletes its file.
func (d *diskTier) remove(k BlockKey) {
	d.mu.Lock()
	if d.index.Contains(k) {
		d.forgetLocked(k)
	}
	d.mu.Unlock()
	_ = os.Remove(d.path(k))
}

// drop forgets the blocks of file that match.
func (d *diskTier) drop(file uint64, match func(BlockKey) bool) {
	var gone []BlockKey
	d.mu.Lock()
	for k := range d.byFile[file] {
		if match(k) {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		d.forgetLocked(k)
	}
	d.mu.Unlock()
	for _, k := range gone {
		_ = os.Remove(d.path(k))
	}
}

func (d *diskTier) stats() (bytes int64, blocks int, evictions int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bytes, d.index.Len(), d.evictions
}

// close deletes every file; later puts store nothing.
func (d *diskTier) close() error {
	d.mu.Lock()
	d.closed = true
	d.index.Purge()
	d.byFile = make(map[uint64]map[BlockKey]struct{})
	d.bytes = 0
	d.mu.Unlock()
	if err := os.RemoveAll(d.dir); err != nil {
		return fmt.Errorf("cache: remove disk tier: %w", err)
	}
	return nil
}

// LOCKS_REQUIRED(d.mu)
func (d *diskTier) addLocked(k BlockKey, size int64) {
	d.index.Add(k, size)
	keys := d.byFile[k.File]
	if keys == nil {
		keys = make(map[BlockKey]struct{})
		d.byFile[k.File] = keys
	}
	keys[k] = struct{}{}
	d.bytes += size
}

// LOCKS_REQUIRED(d.mu)
func (d *diskTier) forgetLocked(k BlockKey) {
	size, _ := d.index.Peek(k)
	d.index.Remove(k)
	keys := d.byFile[k.File]
	delete(keys, k)
	if len(keys) == 0 {
		delete(d.byFile, k.File)
	}
	d.bytes -= size
}

func (d *diskTier) checkInvariants() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var sum int64
	n := 0
	for _, k := range d.index.Keys() {
		size, _ := d.index.Peek(k)
		sum += size
		if _, ok := d.byFile[k.File][k]; !ok {
			return fmt.Errorf("disk block %v missing from byFile", k)
		}
	}
	for _, keys := range d.byFile {
		n += len(keys)
	}
	if n != d.index.Len() {
		return fmt.Errorf("disk byFile holds %d keys, index %d", n, d.index.Len())
	}
	if sum != d.bytes || d.bytes > d.budget {
		return fmt.Errorf("disk bytes %d, blocks hold %d, budget %d", d.bytes, sum, d.budget)
	}
	return nil
}

// writeFileAtomic writes data to name through a temporary file in the same
// directory, so that name holds either nothing or all of data.
func writeFileAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}
