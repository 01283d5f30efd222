package cache

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// newTestCache returns a cache that checks its invariants when the test ends.
func newTestCache(t *testing.T, opts BlockCacheOptions) *BlockCache {
	t.Helper()
	c, err := NewBlockCache(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mustInvariants(t, c)
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func mustInvariants(t testing.TB, c *BlockCache) {
	t.Helper()
	if err := c.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

// blockOf returns distinct content for a test block.
func blockOf(k BlockKey, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(int(k.File)*31 + int(k.Index)*7 + len(k.Version) + i)
	}
	return b
}

func key(file uint64, version string, index int64) BlockKey {
	return BlockKey{File: file, Version: version, Index: index}
}

// memKeys returns the keys in memory, least recently used first.
func memKeys(c *BlockCache) []BlockKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mem.Keys()
}

func TestBlockCacheOps(t *testing.T) {
	const bs = 100
	a, b, cc, d, e := key(1, "v1", 0), key(1, "v1", 1), key(2, "v1", 0), key(2, "v2", 0), key(3, "x", 0)
	type op struct {
		kind string // put, get, miss, dropFile, dropOther
		k    BlockKey
		n    int // put: bytes
	}
	tests := []struct {
		name   string
		budget int64
		ops    []op
		want   []BlockKey // in memory, least recently used first
	}{
		{"fits", 500, []op{{"put", a, bs}, {"put", b, bs}, {"get", a, 0}}, []BlockKey{b, a}},
		{"evicts least recently used", 300, []op{
			{"put", a, bs}, {"put", b, bs}, {"put", cc, bs}, {"get", a, 0}, {"put", d, bs}, {"miss", b, 0},
		}, []BlockKey{cc, a, d}},
		{"short blocks count their bytes", 250, []op{
			{"put", a, 50}, {"put", b, 100}, {"put", cc, 100}, {"put", d, 100}, {"miss", a, 0}, {"miss", b, 0},
		}, []BlockKey{cc, d}},
		{"ignores empty and oversized", 500, []op{{"put", a, 0}, {"put", b, bs + 1}, {"miss", a, 0}, {"miss", b, 0}}, nil},
		{"drop file drops every version", 500, []op{
			{"put", cc, bs}, {"put", d, bs}, {"put", a, bs}, {"dropFile", cc, 0}, {"miss", cc, 0}, {"miss", d, 0},
		}, []BlockKey{a}},
		{"drop other versions keeps one", 500, []op{
			{"put", cc, bs}, {"put", d, bs}, {"put", e, bs}, {"dropOther", d, 0}, {"miss", cc, 0}, {"get", d, 0},
		}, []BlockKey{e, d}},
		{"put of a cached key keeps it and refreshes it", 300, []op{
			{"put", a, bs}, {"put", b, bs}, {"put", a, 10}, {"put", cc, bs}, {"put", d, bs}, {"get", a, 0},
		}, []BlockKey{cc, d, a}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(t, BlockCacheOptions{BlockSize: bs, MemBudget: tt.budget})
			for i, o := range tt.ops {
				switch o.kind {
				case "put":
					c.Put(o.k, blockOf(o.k, o.n))
				case "get":
					got, ok := c.Get(o.k)
					if !ok || !bytes.Equal(got, blockOf(o.k, len(got))) {
						t.Fatalf("op %d: Get(%v) = %d bytes, %v", i, o.k, len(got), ok)
					}
				case "miss":
					if _, ok := c.Get(o.k); ok {
						t.Fatalf("op %d: Get(%v) hit, want miss", i, o.k)
					}
				case "dropFile":
					c.DropFile(o.k.File)
				case "dropOther":
					c.DropOtherVersions(o.k.File, o.k.Version)
				}
				mustInvariants(t, c)
				if s := c.Stats(); s.MemBytes > tt.budget {
					t.Fatalf("op %d: %d bytes in memory, budget %d", i, s.MemBytes, tt.budget)
				}
			}
			if got := memKeys(c); !slices.Equal(got, tt.want) {
				t.Fatalf("memory holds %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBlockCachePutWhole(t *testing.T) {
	c := newTestCache(t, BlockCacheOptions{BlockSize: 4, MemBudget: 100})
	c.PutWhole(7, "v", []byte("abcdefghij"))
	for i, want := range []string{"abcd", "efgh", "ij"} {
		got, ok := c.Get(key(7, "v", int64(i)))
		if !ok || string(got) != want {
			t.Fatalf("block %d = %q, %v; want %q", i, got, ok, want)
		}
	}
	if _, ok := c.Get(key(7, "v", 3)); ok {
		t.Fatal("block past the end exists")
	}
	if s := c.Stats(); s.MemBytes != 10 || s.MemBlocks != 3 || s.Hits != 3 || s.Misses != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBlockCacheRejectsBudgetBelowBlock(t *testing.T) {
	if _, err := NewBlockCache(BlockCacheOptions{BlockSize: 100, MemBudget: 99}); err == nil {
		t.Fatal("no error")
	}
}

func TestBlockCacheDiskTier(t *testing.T) {
	const bs = 64
	parent := t.TempDir()
	c := newTestCache(t, BlockCacheOptions{BlockSize: bs, MemBudget: 2 * bs, DiskDir: parent, DiskBudget: 3 * bs})
	keys := make([]BlockKey, 6)
	for i := range keys {
		keys[i] = key(1, "v", int64(i))
		c.Put(keys[i], blockOf(keys[i], bs))
		mustInvariants(t, c)
	}
	// Memory: 4, 5. Disk: the three most recently spilled, 1, 2, 3; 0 was
	// evicted from the disk tier.
	if got := memKeys(c); !slices.Equal(got, keys[4:]) {
		t.Fatalf("memory holds %v", got)
	}
	s := c.Stats()
	if s.DiskBlocks != 3 || s.DiskBytes != 3*bs || s.DiskEvictions != 1 || s.Evictions != 4 {
		t.Fatalf("stats %+v", s)
	}
	if _, ok := c.Get(keys[0]); ok || c.Contains(keys[0]) {
		t.Fatal("block 0 survived both tiers")
	}
	if !c.Contains(keys[1]) || !c.Contains(keys[5]) {
		t.Fatal("Contains misses a block on disk or in memory")
	}
	for _, k := range keys[1:4] {
		got, ok := c.Get(k)
		if !ok || !bytes.Equal(got, blockOf(k, bs)) {
			t.Fatalf("Get(%v) from disk = %v", k, ok)
		}
	}
	if s := c.Stats(); s.DiskHits != 3 {
		t.Fatalf("disk hits %d", s.DiskHits)
	}
	dir := c.disk.dir
	if n := countFiles(t, dir); n != 3 {
		t.Fatalf("%d files on disk", n)
	}
	// A key's file name never contains its version.
	c.Put(key(2, "../../escape\x00", 0), blockOf(key(2, "", 0), bs))
	c.Put(key(2, "v", 1), blockOf(key(2, "v", 1), bs))
	c.Put(key(2, "v", 2), blockOf(key(2, "v", 2), bs))
	mustInvariants(t, c)
	c.DropFile(1)
	c.DropFile(2)
	mustInvariants(t, c)
	if n := countFiles(t, dir); n != 0 {
		t.Fatalf("%d files on disk after DropFile", n)
	}
	if s := c.Stats(); s.DiskBlocks != 0 || s.MemBlocks != 0 || s.MemBytes != 0 {
		t.Fatalf("stats after drop %+v", s)
	}
	c.Put(keys[0], blockOf(keys[0], bs))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("disk tier directory left behind: %v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Fatalf("DiskDir holds %d entries after Close", len(ents))
	}
}

func TestBlockCacheDiskDropOtherVersions(t *testing.T) {
	const bs = 32
	c := newTestCache(t, BlockCacheOptions{BlockSize: bs, MemBudget: bs, DiskDir: t.TempDir()})
	for _, v := range []string{"old", "new", "older"} {
		for i := range int64(2) {
			c.Put(key(9, v, i), blockOf(key(9, v, i), bs))
		}
	}
	c.DropOtherVersions(9, "new")
	mustInvariants(t, c)
	for _, v := range []string{"old", "older"} {
		if _, ok := c.Get(key(9, v, 0)); ok {
			t.Fatalf("version %s survived", v)
		}
	}
	for i := range int64(2) {
		if got, ok := c.Get(key(9, "new", i)); !ok || !bytes.Equal(got, blockOf(key(9, "new", i), bs)) {
			t.Fatalf("kept version block %d lost", i)
		}
	}
	if n := countFiles(t, c.disk.dir); n != 2 { // both blocks of "new" spilled
		t.Fatalf("%d files on disk", n)
	}
}

// TestGetSliceStaysValid checks that a slice handed out by Get is never
// reused for another block, however much data streams through.
func TestGetSliceStaysValid(t *testing.T) {
	const bs = 1 << 10
	c := newTestCache(t, BlockCacheOptions{BlockSize: bs, MemBudget: 4 * bs})
	data := pattern(64*bs, 1)
	r := NewFileReader(c, 1, "v", int64(len(data)), newFakeRemote(data).fetch, ReadAheadOptions{FetchSize: bs})
	defer r.Close()
	buf := make([]byte, bs)
	if _, err := r.ReadAt(t.Context(), buf, 0); err != nil {
		t.Fatal(err)
	}
	held, ok := c.Get(key(1, "v", 0))
	if !ok {
		t.Fatal("block 0 not cached")
	}
	want := slices.Clone(held)
	for off := int64(bs); off < int64(len(data)); off += bs {
		if _, err := r.ReadAt(t.Context(), buf, off); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(held, want) {
		t.Fatal("a slice returned by Get was overwritten")
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ExampleBlockCache_PutWhole() {
	c, _ := NewBlockCache(BlockCacheOptions{BlockSize: 4, MemBudget: 1 << 10})
	c.PutWhole(1, "v1", []byte("hello, world"))
	b, _ := c.Get(BlockKey{File: 1, Version: "v1", Index: 1})
	fmt.Printf("%q\n", b)
	// Output: "o, w"
}
