package transport_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arker-ai/arkerfs/transport"
)

// genSource is a file of pseudo-random bytes that exists nowhere: block b
// of 64 KiB is the ChaCha8 stream seeded by (seed, b). It lets a test
// upload a huge file without holding it in memory.
type genSource struct {
	size int64
	seed uint64
}

const genBlock = 64 << 10

func (g genSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= g.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), g.size-off))
	var block [genBlock]byte
	for done := 0; done < n; {
		pos := off + int64(done)
		b := pos / genBlock
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], g.seed)
		binary.LittleEndian.PutUint64(seed[8:], uint64(b))
		_, _ = rand.NewChaCha8(seed).Read(block[:])
		done += copy(p[done:n], block[pos-b*genBlock:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// sum is the source's sha256, streamed.
func (g genSource) sum() [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, io.NewSectionReader(g, 0, g.size))
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// readParallel reads o whole with workers parallel ReadAt calls of chunk
// bytes, as the cache's read-ahead does.
func readParallel(ctx context.Context, c *transport.Client, o *transport.Object, dst []byte, chunk, workers int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for off := 0; off < len(dst); off += chunk {
		g.Go(func() error {
			end := min(off+chunk, len(dst))
			n, err := c.ReadAt(ctx, o, dst[off:end], int64(off))
			if err == io.EOF && n == end-off {
				err = nil
			}
			return err
		})
	}
	return g.Wait()
}

// TestRoundTrip256MiB writes a 256 MiB file through Upload (presigned
// parts in parallel) and reads it back with parallel ranged reads,
// comparing sha256. The upload's allocations show that the file is never
// held whole in memory.
func TestRoundTrip256MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB round trip skipped in -short mode")
	}
	const size = 256 << 20
	e := newEmu(t)
	c := e.client(t)
	src := genSource{size: size, seed: 42}
	want := src.sum()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	res := c.Upload(ctxT(t), []transport.Upload{{Path: "/home/user/big.bin", UploadID: newID(), Size: size, Source: src}})[0]
	up := time.Since(start)
	runtime.ReadMemStats(&after)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if res.SHA256 != fmt.Sprintf("%x", want) {
		t.Fatalf("upload sha256 %s, want %x", res.SHA256, want)
	}
	// Client and emulator share this process: both count. MaxParallel
	// (8) parts of 8 MiB are 64 MiB; the file is 256 MiB.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("upload: %v (%.0f MB/s), %d MiB allocated", up.Round(time.Millisecond), size/up.Seconds()/1e6, alloc>>20)
	if alloc > 160<<20 {
		t.Errorf("the upload allocated %d MiB: the file was buffered whole", alloc>>20)
	}

	o, err := c.Open(ctxT(t), "/home/user/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, size)
	start = time.Now()
	if err := readParallel(ctxT(t), c, o, got, 4<<20, 8); err != nil {
		t.Fatal(err)
	}
	down := time.Since(start)
	t.Logf("download: %v (%.0f MB/s)", down.Round(time.Millisecond), size/down.Seconds()/1e6)
	if sha256.Sum256(got) != want {
		t.Fatal("the file read back differs")
	}
}
