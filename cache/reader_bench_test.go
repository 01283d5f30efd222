package cache

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkSequentialRead reads a 64 MiB file front to back in 128 KiB
// reads, as the kernel does through FUSE, from a fake remote whose every
// fetch takes a fixed latency (time.Sleep here is the model of a round
// trip, not synchronisation; bandwidth is unlimited). Cases:
//
//	readahead     the FileReader with default options
//	no-readahead  the FileReader with read-ahead off: one 1 MiB block per round trip
//	kernel-128k   no cache at all: one round trip per 128 KiB read (measured
//	              on the first 8 MiB; the rate is the same)
//
// Run: go test -run XXX -bench SequentialRead -benchtime 5x ./cache
func BenchmarkSequentialRead(b *testing.B) {
	const size = 64 << 20
	const step = 128 << 10
	data := pattern(size, 42)
	for _, latency := range []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond} {
		remote := newFakeRemote(data)
		remote.hook = func(ctx context.Context, _ int64, _ int) error {
			if latency > 0 {
				time.Sleep(latency)
			}
			return nil
		}
		cases := []struct {
			name string
			opts ReadAheadOptions
		}{
			{"readahead", ReadAheadOptions{}},
			{"no-readahead", ReadAheadOptions{MaxWindow: -1}},
		}
		for _, cs := range cases {
			b.Run(fmt.Sprintf("latency=%v/%s", latency, cs.name), func(b *testing.B) {
				c, err := NewBlockCache(BlockCacheOptions{})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(size)
				buf := make([]byte, step)
				var fetches int64
				file := uint64(0)
				for b.Loop() {
					file++ // a new file each time: nothing is cached
					calls := remote.calls.Load()
					r := NewFileReader(c, file, "v", size, remote.fetch, cs.opts)
					for off := int64(0); off < size; off += step {
						if _, err := r.ReadAt(context.Background(), buf, off); err != nil {
							b.Fatal(err)
						}
					}
					r.Close()
					fetches += remote.calls.Load() - calls
				}
				b.ReportMetric(float64(fetches)/float64(b.N), "fetches/op")
			})
		}
		b.Run(fmt.Sprintf("latency=%v/kernel-128k", latency), func(b *testing.B) {
			const part = 8 << 20
			b.SetBytes(part)
			buf := make([]byte, step)
			for b.Loop() {
				for off := int64(0); off < part; off += step {
					if _, err := remote.fetch(context.Background(), buf, off); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(part/step, "fetches/op")
		})
	}
}
