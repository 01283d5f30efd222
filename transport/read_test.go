package transport_test

import (
	"bytes"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/wire"
)

// readBlocks reads o in blocks of n bytes, in order, and checks them.
func readBlocks(t *testing.T, c *transport.Client, o *transport.Object, data []byte, n int) {
	t.Helper()
	buf := make([]byte, n)
	for off := 0; off < len(data); off += n {
		got, err := c.ReadAt(ctxT(t), o, buf, int64(off))
		if err != nil && err != io.EOF || !bytes.Equal(buf[:got], data[off:min(off+n, len(data))]) {
			t.Fatalf("block at %d: %d bytes, %v", off, got, err)
		}
	}
}

// TestRangeHonouredOrIgnored: while the server honours Range, each read
// is one ranged GET; when it answers 200 with the whole file, the client
// keeps that body in a spill file for the object, serves every read from
// it, and fetches later objects whole with one GET each.
func TestRangeHonouredOrIgnored(t *testing.T) {
	eachLineage(t, func(t *testing.T, lin wire.Lineage) {
		for _, noRange := range []bool{false, true} {
			name := "honoured"
			if noRange {
				name = "ignored"
			}
			t.Run(name, func(t *testing.T) {
				e := newEmu(t, lin, func(o *emulator.Options) { o.NoRange = noRange })
				spillDir := t.TempDir()
				c := e.client(t, func(c *transport.Config) { c.SpillDir = spillDir })
				one, two := randBytes(3<<20+5), randBytes(2<<20)
				e.writeLocal(t, vm("one"), one)
				e.writeLocal(t, vm("two"), two)
				o, err := c.Open(ctxT(t), vm("one"))
				if err != nil {
					t.Fatal(err)
				}
				// Reads from the middle first, then the whole file.
				buf := make([]byte, 1000)
				if n, err := c.ReadAt(ctxT(t), o, buf, 2<<20); err != nil || !bytes.Equal(buf[:n], one[2<<20:2<<20+1000]) {
					t.Fatalf("first read: %d, %v", n, err)
				}
				readBlocks(t, c, o, one, 1<<20)
				gets := e.requests(emulator.EndpointPresignedGet)
				if noRange && gets != 1 || !noRange && gets != 5 {
					t.Errorf("%d presigned GETs for 5 reads", gets)
				}
				o2, err := c.Open(ctxT(t), vm("two"))
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				for range 4 {
					wg.Add(1)
					go func() { defer wg.Done(); readBlocks(t, c, o2, two, 256<<10) }()
				}
				wg.Wait()
				gets = e.requests(emulator.EndpointPresignedGet) - gets
				if noRange && gets != 1 || !noRange && gets != 32 {
					t.Errorf("%d presigned GETs for the second file", gets)
				}
				o.Release()
				o2.Release()
				if _, err := c.ReadAt(ctxT(t), o, buf, 0); transport.CodeOf(err) != transport.CodeInvalid {
					t.Errorf("read after Release: %v", err)
				}
				if left, _ := os.ReadDir(spillDir); len(left) != 0 {
					t.Errorf("%d spill files left", len(left))
				}
			})
		}
	})
}

// TestSpillStale: a file replaced while it is fetched whole is stale.
func TestSpillStale(t *testing.T) {
	e := newEmu(t, wire.LineageA, func(o *emulator.Options) { o.NoRange = true })
	c := e.client(t)
	e.writeLocal(t, vm("f"), randBytes(2<<20))
	o, err := c.Open(ctxT(t), vm("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Release()
	e.writeLocal(t, vm("f"), randBytes(2<<20))
	if _, err := c.ReadAt(ctxT(t), o, make([]byte, 10), 100); transport.CodeOf(err) != transport.CodeStale {
		t.Fatalf("read of a replaced file: %v", err)
	}
}

// TestExpiredURLRenewed: a presigned URL the server refuses as expired
// is renewed by a new sync read, and the read goes on.
func TestExpiredURLRenewed(t *testing.T) {
	eachLineage(t, func(t *testing.T, lin wire.Lineage) {
		e := newEmu(t, lin)
		c := e.client(t)
		data := randBytes(2 << 20)
		e.writeLocal(t, vm("f"), data)
		o, err := c.Open(ctxT(t), vm("f"))
		if err != nil {
			t.Fatal(err)
		}
		defer o.Release()
		e.InjectFault(emulator.Fault{Kind: emulator.FaultExpire})
		readBlocks(t, c, o, data, 1<<20)
		if n := e.requests(emulator.EndpointSyncRead); n != 2 {
			t.Errorf("%d sync reads, want 2 (open, renewal)", n)
		}
	})
}

// TestReadFaults: sync reads and presigned GETs are safe to repeat.
func TestReadFaults(t *testing.T) {
	for _, ep := range []string{emulator.EndpointSyncRead, emulator.EndpointPresignedGet} {
		for _, f := range []emulator.Fault{{Kind: emulator.FaultDrop}, {Kind: emulator.FaultTruncate}, {Kind: emulator.FaultDropAfter},
			{Kind: emulator.FaultStatus, Code: wire.CodeUnavailable}} {
			t.Run(ep+"/"+string(f.Kind), func(t *testing.T) {
				e := newEmu(t, wire.LineageB)
				c := e.client(t)
				big, small := randBytes(2<<20+3), []byte("small file")
				e.writeLocal(t, vm("big"), big)
				e.writeLocal(t, vm("small"), small)
				f.Endpoint, f.Times = ep, 2
				e.InjectFault(f)
				if got := readAll(t, c, vm("big")); !bytes.Equal(got, big) {
					t.Fatal("big file differs")
				}
				if got := readAll(t, c, vm("small")); !bytes.Equal(got, small) {
					t.Fatal("small file differs")
				}
			})
		}
	}
}
