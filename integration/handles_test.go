package integration

import (
	"bytes"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
)

// openBoth opens rel through the mount twice, read-write, and closes both
// in cleanup.
func openBoth(t *testing.T, e *env, rel string) (a, b *os.File) {
	t.Helper()
	var err error
	if a, err = os.OpenFile(e.path(rel), os.O_RDWR, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = os.OpenFile(e.path(rel), os.O_RDWR, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// pread reads up to n bytes at off with one pread(2).
func pread(t *testing.T, f *os.File, n int, off int64) []byte {
	t.Helper()
	buf := make([]byte, n)
	got, err := syscall.Pread(int(f.Fd()), buf, off)
	if err != nil {
		t.Fatalf("pread(%d, %d): %v", n, off, err)
	}
	return buf[:got]
}

// TestHandlesSeeAnExtendingTruncate: an append then an ftruncate that
// extends the file through one handle; a read through the other handle
// must see the appended bytes and then zeros, not the end of the file.
func TestHandlesSeeAnExtendingTruncate(t *testing.T) {
	e := newEnv(t)
	model := pattern(4000, 1)
	e.write("f", model)
	a, b := openBoth(t, e, "f")
	extra := pattern(1212, 2)
	if _, err := a.WriteAt(extra, int64(len(model))); err != nil {
		t.Fatal(err)
	}
	model = append(model, extra...)
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := a.Truncate(37687); err != nil {
		t.Fatal(err)
	}
	model = append(model, make([]byte, 37687-len(model))...)
	got := pread(t, b, 21440, 5862)
	if want := model[5862 : 5862+21440]; !bytes.Equal(got, want) {
		t.Fatalf("pread through the other handle: %d bytes, want %d (equal: %v)", len(got), len(want), bytes.Equal(got, want[:min(len(got), len(want))]))
	}
}

// TestHandlesSeeAShrinkAfterFsync: writes and an fsync through one handle,
// then a truncate that shrinks the file; the other handle must read only
// what remains.
func TestHandlesSeeAShrinkAfterFsync(t *testing.T) {
	e := newEnv(t)
	model := pattern(30000, 3)
	e.write("f", model)
	a, b := openBoth(t, e, "f")
	w := pattern(5000, 4)
	if _, err := a.WriteAt(w, 100); err != nil {
		t.Fatal(err)
	}
	copy(model[100:], w)
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := a.Truncate(8109); err != nil {
		t.Fatal(err)
	}
	model = model[:8109]
	if got := pread(t, b, 30000, 0); !bytes.Equal(got, model) {
		t.Fatalf("read through the other handle: %d bytes, want %d", len(got), len(model))
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(b.Fd()), &st); err != nil || st.Size != 8109 {
		t.Fatalf("fstat through the other handle: size %d %v, want 8109", st.Size, err)
	}
}

// pattern returns n deterministic pseudo-random bytes.
func pattern(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestTruncateByNameOfAnOpenFileReachesTheVM: a truncate(2) by name of a
// file another program holds open reaches the VM at once, not at that
// program's close.
func TestTruncateByNameOfAnOpenFileReachesTheVM(t *testing.T) {
	e := newEnv(t)
	e.write("log", pattern(10000, 5))
	r, err := os.Open(e.path("log"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Truncate(e.path("log"), 1234); err != nil {
		t.Fatal(err)
	}
	if got := len(e.vmRead("log")); got != 1234 {
		t.Fatalf("the VM has %d bytes, want 1234", got)
	}
	if got := pread(t, r, 20000, 0); !bytes.Equal(got, pattern(10000, 5)[:1234]) {
		t.Fatalf("the open handle reads %d bytes, want 1234", len(got))
	}
}
