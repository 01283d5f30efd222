package transport_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/wire"
	"golang.org/x/sync/errgroup"
)

// Throughput through the client against the emulator on loopback; see
// docs/TRANSPORT-BENCH.md for the figures and the curl baseline.
//
//	go test -run XXX -bench 256MiB -benchtime 5x ./transport/

const benchSize = 256 << 20

// BenchmarkUpload256MiB uploads a 256 MiB file from memory: chunk writes
// (lineage A), or one raw stream (lineage B, whose default stream limit
// takes it), then the install run.
func BenchmarkUpload256MiB(b *testing.B) {
	for _, lin := range lineages {
		b.Run("lineage="+string(lin), func(b *testing.B) {
			e := newEmu(b, lin)
			c := e.client(b)
			src := bytes.NewReader(randBytes(benchSize))
			b.SetBytes(benchSize)
			b.ResetTimer()
			for b.Loop() {
				r := c.Upload(ctxT(b), []transport.Upload{{Path: vm("big.bin"), Size: benchSize, Source: src}})[0]
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
	}
}

// BenchmarkDownload256MiB reads a 256 MiB file in 4 MiB reads, one at a
// time or 8 in parallel (as the cache's read-ahead does), through ranged
// GETs, or through one whole fetch into a spill file when the server
// ignores Range.
func BenchmarkDownload256MiB(b *testing.B) {
	for _, noRange := range []bool{false, true} {
		for _, par := range []int{1, 8} {
			b.Run(fmt.Sprintf("norange=%v/parallel=%d", noRange, par), func(b *testing.B) {
				e := newEmu(b, wire.LineageA, func(o *emulator.Options) { o.NoRange = noRange })
				c := e.client(b)
				if err := os.WriteFile(e.local(vm("big.bin")), randBytes(benchSize), 0o644); err != nil {
					b.Fatal(err)
				}
				dst := make([]byte, benchSize)
				b.SetBytes(benchSize)
				b.ResetTimer()
				for b.Loop() {
					o, err := c.Open(ctxT(b), vm("big.bin"))
					if err != nil {
						b.Fatal(err)
					}
					var g errgroup.Group
					g.SetLimit(par)
					for off := int64(0); off < benchSize; off += 4 << 20 {
						g.Go(func() error {
							_, err := c.ReadAt(ctxT(b), o, dst[off:off+4<<20], off)
							if err == io.EOF {
								err = nil
							}
							return err
						})
					}
					if err := g.Wait(); err != nil {
						b.Fatal(err)
					}
					o.Release()
				}
			})
		}
	}
}
