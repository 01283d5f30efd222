package cache

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"testing"
)

// periodic is a remote file of any size whose bytes repeat with a period
// that is not a multiple of the block size, so that every block differs
// from its neighbours, without holding the file in memory.
type periodic struct{ period []byte }

func (f periodic) fill(p []byte, off int64) {
	n := int64(len(f.period))
	for i := 0; i < len(p); {
		i += copy(p[i:], f.period[(off+int64(i))%n:])
	}
}

func (f periodic) fetch(_ context.Context, p []byte, off int64) (int, error) {
	f.fill(p, off)
	return len(p), nil
}

// TestReadAheadMemoryBound reads a 4 GiB file twice through a 256 MiB
// cache with full read-ahead and checks that the process's peak RSS grows
// by at most the budget plus 64 MiB.
func TestReadAheadMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 8 GiB")
	}
	const size, budget, step = 4 << 30, 256 << 20, 128 << 10
	remote := periodic{pattern(1<<20+4099, 77)}
	c := newTestCache(t, BlockCacheOptions{MemBudget: budget})
	runtime.GC()
	debug.FreeOSMemory()
	base, ok := resetPeakRSS()
	if !ok {
		t.Log("peak RSS is not measurable on this system; checking content only")
	}
	buf, want := make([]byte, step), make([]byte, step)
	for pass := range 2 {
		r := NewFileReader(c, 1, "v", size, remote.fetch, ReadAheadOptions{})
		for off := int64(0); off < size; off += step {
			if _, err := r.ReadAt(t.Context(), buf, off); err != nil {
				t.Fatalf("pass %d at %d: %v", pass, off, err)
			}
			if off%(64<<20) == 0 {
				remote.fill(want, off)
				if !bytes.Equal(buf, want) {
					t.Fatalf("pass %d: wrong bytes at %d", pass, off)
				}
			}
		}
		r.Close()
		if got := r.Fetched(); got > size*105/100 {
			t.Fatalf("pass %d fetched %d bytes", pass, got)
		}
	}
	mustInvariants(t, c)
	if !ok {
		return
	}
	peak, _ := peakRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("RSS: base %d MiB, peak %d MiB (+%d MiB); %d GCs, %d MiB allocated, heap sys %d MiB", base>>20, peak>>20, (peak-base)>>20, ms.NumGC, ms.TotalAlloc>>20, ms.HeapSys>>20)
	if peak-base > budget+64<<20 {
		t.Fatalf("peak RSS grew by %d MiB, more than the budget (%d MiB) + 64 MiB", (peak-base)>>20, budget>>20)
	}
}
