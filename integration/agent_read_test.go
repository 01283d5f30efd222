package integration

import (
	"bytes"
	"os"
	"strings"
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

// TestAgentWritesInPlace changes 4 KiB in the middle of a large file
// through a mount with the agent: close sends about the changed bytes,
// fetches none, and the VM's file is changed in place (its inode, and so
// its other hard links, keep it). Reads of other parts while it is being
// written fetch them, a truncate needs no fetch, and with the agent
// unreachable the file is uploaded whole, with the same content.
func TestAgentWritesInPlace(t *testing.T) {
	e := newEnv(t, withAgent())
	const size = 64 << 20
	model := make([]byte, size)
	for i := range model {
		model[i] = byte(i*31 + i>>12)
	}
	if err := os.WriteFile(e.vm("big"), model, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(e.vm("big"), e.vm("big.link")); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(e.vm("big"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.path("big")); err != nil {
		t.Fatal(err)
	}
	checkVM := func(what string) {
		t.Helper()
		got, err := os.ReadFile(e.vm("big"))
		if err != nil || !bytes.Equal(got, model) {
			t.Fatalf("%s: the VM's file differs from what was written (%d bytes, %v)", what, len(got), err)
		}
	}

	st := e.emu.Stats()
	f, err := os.OpenFile(e.path("big"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	patch := bytes.Repeat([]byte("in place "), 456)[:4096]
	const off = 40<<20 + 100
	if _, err := f.WriteAt(patch, off); err != nil {
		t.Fatal(err)
	}
	copy(model[off:], patch)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	after := e.emu.Stats()
	if in := after.BytesIn - st.BytesIn; in > 2<<20 {
		t.Errorf("changing 4 KiB of 64 MiB sent %d bytes", in)
	}
	if out := after.BytesOut - st.BytesOut; out > 2<<20 {
		t.Errorf("changing 4 KiB of 64 MiB fetched %d bytes", out)
	}
	for _, ep := range []string{emulator.EndpointSyncWrite, emulator.EndpointSyncStream, emulator.EndpointRunsCreate} {
		if n := after.Requests[ep] - st.Requests[ep]; n != 0 {
			t.Errorf("the change made %d %s requests; the agent should write it in place", n, ep)
		}
	}
	checkVM("after a 4 KiB write")
	if fi, err := os.Stat(e.vm("big")); err != nil || !os.SameFile(fi, before) {
		t.Errorf("the file was replaced, not changed in place: %v", err)
	}
	if link, err := os.ReadFile(e.vm("big.link")); err != nil || !bytes.Equal(link[off:off+len(patch)], patch) {
		t.Errorf("the other hard link does not show the change: %v", err)
	}

	// Read other parts while the copy is being written, then cut it.
	f, err = os.OpenFile(e.path("big"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("X"), 10<<20); err != nil {
		t.Fatal(err)
	}
	model[10<<20] = 'X'
	got := make([]byte, 8192)
	for _, at := range []int64{10<<20 - 4000, 30 << 20, off - 10, size - 8192} {
		if _, err := f.ReadAt(got, at); err != nil || !bytes.Equal(got, model[at:at+8192]) {
			t.Fatalf("read at %d while writing: %v", at, err)
		}
	}
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	model = model[:50<<20]
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	checkVM("after a write, reads and a truncate")
	if b, err := os.ReadFile(e.path("big")); err != nil || !bytes.Equal(b, model) {
		t.Fatalf("read back through the mount: %d bytes, %v", len(b), err)
	}

	e.emu.SetDenyIngress(true)
	f, err = os.OpenFile(e.path("big"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("unreachable"), 20<<20); err != nil {
		t.Fatal(err)
	}
	copy(model[20<<20:], "unreachable")
	if err := f.Close(); err != nil {
		t.Fatalf("close with the agent unreachable: %v", err)
	}
	checkVM("with the agent unreachable")
}

// TestAgentUploadsLargeFiles writes new large files through a mount with
// the agent: they go through it whole and atomically (a temporary file,
// then the install), their bytes unencoded, a sparse file's holes not at
// all, and no sync write.
func TestAgentUploadsLargeFiles(t *testing.T) {
	e := newEnv(t, withAgent())
	st := e.emu.Stats()
	f, err := os.Create(e.path("sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("end"), 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dense := make([]byte, 24<<20)
	for i := range dense {
		dense[i] = byte(i*7 + i>>16)
	}
	if err := os.WriteFile(e.path("dense"), dense, 0o600); err != nil {
		t.Fatal(err)
	}
	after := e.emu.Stats()
	if in := after.BytesIn - st.BytesIn; in > int64(len(dense))+1<<20 {
		t.Errorf("1 GiB sparse and 24 MiB dense sent %d bytes", in)
	}
	for _, ep := range []string{emulator.EndpointSyncWrite, emulator.EndpointSyncStream} {
		if n := after.Requests[ep] - st.Requests[ep]; n != 0 {
			t.Errorf("%d %s requests; the agent should carry large files", n, ep)
		}
	}
	fi, err := os.Stat(e.vm("sparse"))
	if err != nil || fi.Size() != 1<<30+3 {
		t.Fatalf("sparse on the VM: %v %v", fi, err)
	}
	g, err := os.Open(e.vm("sparse"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	tail := make([]byte, 3)
	head := make([]byte, 4096)
	if _, err := g.ReadAt(tail, 1<<30); err != nil || string(tail) != "end" {
		t.Errorf("sparse end: %q %v", tail, err)
	}
	if _, err := g.ReadAt(head, 1<<29); err != nil || !bytes.Equal(head, make([]byte, 4096)) {
		t.Errorf("sparse middle is not zeros: %v", err)
	}
	if got := e.vmRead("dense"); !bytes.Equal(got, dense) {
		t.Errorf("dense on the VM: %d bytes differ", len(got))
	}
	if fi, err := os.Stat(e.vm("dense")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("dense mode: %v %v", fi, err)
	}
	ents, _ := os.ReadDir(e.vm(""))
	for _, d := range ents {
		if strings.HasPrefix(d.Name(), ".arkerfs-") {
			t.Errorf("temporary file left on the VM: %s", d.Name())
		}
	}
}
