package integration

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
)

// TestAgentReadsRanges reads 4 KiB in the middle of a large file whose
// attributes the mount has: through the agent, that is one request and
// one block, with no sync read and no presigned GET. A file rewritten on
// the VM behind the mount's back reads as the VM has it, and with the
// VM's ingress denied reads go through presigned URLs again.
func TestAgentReadsRanges(t *testing.T) {
	e := newEnv(t, withAgent())
	const size, off = 64 << 20, 40<<20 + 8192
	mark := bytes.Repeat([]byte("the middle "), 400)[:4096]
	writeSparse(t, e.vm("big"), size, off, mark)
	if fi, err := os.Stat(e.path("big")); err != nil || fi.Size() != size {
		t.Fatalf("stat: %v %v", fi, err)
	}
	before := e.emu.Stats()
	f, err := os.Open(e.path("big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, len(mark))
	if _, err := f.ReadAt(got, off); err != nil || !bytes.Equal(got, mark) {
		t.Fatalf("read in the middle: %v, %.40q", err, got)
	}
	after := e.emu.Stats()
	for _, ep := range []string{emulator.EndpointSyncRead, emulator.EndpointPresignedGet, emulator.EndpointRunsCreate} {
		if n := after.Requests[ep] - before.Requests[ep]; n != 0 {
			t.Errorf("the read made %d %s requests; the agent should serve it", n, ep)
		}
	}
	if n := after.Requests[emulator.EndpointIngress] - before.Requests[emulator.EndpointIngress]; n == 0 {
		t.Error("the read did not go to the agent")
	}
	if out := after.BytesOut - before.BytesOut; out > 1<<20+64<<10 {
		t.Errorf("a 4 KiB read fetched %d bytes; a block is 1 MiB", out)
	}

	// Same size, another content and mtime, and the mount not told yet
	// (or told: either way the read must show the VM's bytes).
	other := bytes.Repeat([]byte("rewritten "), 500)[:4096]
	writeSparse(t, e.vm("big2"), size, off, other)
	eventually(t, 30*time.Second, "a file made on the VM shows", func() bool {
		_, err := os.Stat(e.path("big2"))
		return err == nil
	})
	writeSparse(t, e.vm("big2.new"), size, off, mark)
	if err := os.Rename(e.vm("big2.new"), e.vm("big2")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(e.path("big2"))
	if err != nil || len(b) != size || !bytes.Equal(b[off:off+len(mark)], mark) {
		t.Fatalf("read of a file replaced on the VM: %v, %d bytes", err, len(b))
	}

	e.emu.SetDenyIngress(true)
	writeSparse(t, e.vm("big3"), size, off, other)
	var g *os.File
	eventually(t, 30*time.Second, "a file made on the VM shows with the agent unreachable", func() bool {
		g, err = os.Open(e.path("big3"))
		return err == nil
	})
	defer g.Close()
	if _, err := g.ReadAt(got, off); err != nil || !bytes.Equal(got, other) {
		t.Fatalf("read with the agent unreachable: %v, %.40q", err, got)
	}
	if e.client.MetaServerInUse() != "" {
		t.Error("the client still uses an agent it cannot reach")
	}
}

// writeSparse makes a file of size bytes on the VM side, zeros but for
// data at off.
func writeSparse(t *testing.T, p string, size, off int64, data []byte) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}
