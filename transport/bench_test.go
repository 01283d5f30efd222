package transport_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/arker-ai/arkerfs/transport"
)

// Throughput through the client against the emulator on loopback; see
// docs/TRANSPORT-BENCH.md for the figures and the curl baseline.
//
//	go test -run XXX -bench 256MiB -benchtime 5x ./transport/

const benchSize = 256 << 20

// BenchmarkUpload256MiB uploads a 256 MiB file from memory: presign,
// parts in parallel, commit.
func BenchmarkUpload256MiB(b *testing.B) {
	for _, par := range []int{1, 8} {
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			e := newEmu(b)
			c := e.client(b, func(c *transport.Config) { c.MaxParallel = par })
			src := bytes.NewReader(randBytes(benchSize))
			b.SetBytes(benchSize)
			b.ResetTimer()
			for b.Loop() {
				r := c.Upload(ctxT(b), []transport.Upload{{Path: "/home/user/big.bin", UploadID: newID(), Size: benchSize, Source: src}})[0]
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
	}
}

// BenchmarkDownload256MiB reads a 256 MiB file in 4 MiB ranged reads, one
// at a time or 8 in parallel (as the cache's read-ahead does).
func BenchmarkDownload256MiB(b *testing.B) {
	for _, par := range []int{1, 8} {
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			e := newEmu(b)
			c := e.client(b)
			if err := os.WriteFile(e.local("/home/user/big.bin"), randBytes(benchSize), 0o644); err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, benchSize)
			b.SetBytes(benchSize)
			b.ResetTimer()
			for b.Loop() {
				o, err := c.Open(ctxT(b), "/home/user/big.bin")
				if err != nil {
					b.Fatal(err)
				}
				if err := readParallel(ctxT(b), c, o, dst, 4<<20, par); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
