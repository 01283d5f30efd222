package integration

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
)

// A mkdir in a directory whose listing is cached is answered at once and
// travels with the next run: the files made in it next find it on the VM.
func TestDeferredMkdirTravelsWithNextRun(t *testing.T) {
	e := newEnv(t, withTTL(time.Hour))
	if _, err := os.ReadDir(e.mnt); err != nil {
		t.Fatal(err)
	}
	runs := e.requests(emulator.EndpointRunsCreate)
	if err := os.Mkdir(e.path("d"), 0o750); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(e.path("d"))
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Fatalf("stat after mkdir: %v %v", st, err)
	}
	if ents, err := os.ReadDir(e.path("d")); err != nil || len(ents) != 0 {
		t.Fatalf("new dir lists %v, %v; want empty", ents, err)
	}
	if err := os.Mkdir(e.path("d/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("d/sub/f", []byte("in a new dir"))
	if got := string(e.vmRead("d/sub/f")); got != "in a new dir" {
		t.Fatalf("VM has %q", got)
	}
	vst, err := os.Stat(e.vm("d"))
	if err != nil || vst.Mode().Perm() != 0o750 {
		t.Fatalf("VM dir d: %v %v, want mode 0750", vst, err)
	}
	// The mount shows d's time as the VM has it, after sub was made in it.
	if st, err := os.Stat(e.path("d")); err != nil || !st.ModTime().Equal(vst.ModTime()) {
		t.Fatalf("mount shows d's mtime %v (%v), the VM has %v", st.ModTime(), err, vst.ModTime())
	}
	// Two mkdirs, a stat, a listing and a create: the mkdirs ride along
	// with the create's run (a timer may have sent them a run earlier).
	if n := e.requests(emulator.EndpointRunsCreate) - runs; n > 2 {
		t.Fatalf("%d runs for mkdir, mkdir, create; want at most 2", n)
	}
}

// An fsync of a directory made by a deferred mkdir returns once the VM has
// it; and the mount's flush at unmount sends what is still queued.
func TestDeferredMkdirFsyncAndUnmount(t *testing.T) {
	e := newEnv(t, withTTL(time.Hour))
	if _, err := os.ReadDir(e.mnt); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.path("synced"), 0o700); err != nil {
		t.Fatal(err)
	}
	fsyncDir(t, e.path("synced"))
	if st, err := os.Stat(e.vm("synced")); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("VM after fsync: %v %v", st, err)
	}

	if err := os.Mkdir(e.path("at-unmount"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.unmount()
	if st, err := os.Stat(e.vm("at-unmount")); err != nil || !st.IsDir() {
		t.Fatalf("VM after unmount: %v %v", st, err)
	}
}

// When the VM refuses a deferred mkdir, the next operation below the
// directory fails, fsync of it reports the refusal whichever run sent the
// mkdir, and the mount stops showing a directory the VM does not have.
// (The agent's change feed would tell the mount first: the test keeps to
// runs to provoke the refusal.)
func TestDeferredMkdirRefusedByVM(t *testing.T) {
	e := newEnv(t, withTTL(time.Hour), withoutAgent())
	parents := []string{"p", "q", "r"}
	for _, d := range parents {
		if err := os.Mkdir(e.vm(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range parents {
		if _, err := os.ReadDir(e.path(d)); err != nil { // caches the listing
			t.Fatal(err)
		}
	}
	// Behind the mount's back the parents become files: a mkdir under
	// them fails on the VM.
	e.vmRun("cd /home/user && rmdir p q r && for f in p q r; do printf data > $f; done")

	if err := os.Mkdir(e.path("p/a"), 0o755); err != nil {
		t.Fatalf("mkdir answered from the cache: %v", err)
	}
	err := os.WriteFile(e.path("p/a/f"), []byte("x"), 0o644)
	if !refusal(err) {
		t.Fatalf("create below a refused mkdir: %v, want ENOTDIR or ENOENT", err)
	}

	// fsync sends the mkdir itself (unless its timer was quicker).
	fsyncRefused(t, e, "q/b", false)
	// The timer sends the mkdir; a later fsync still reports the refusal.
	fsyncRefused(t, e, "r/c", true)

	for _, d := range parents {
		if got := string(e.vmRead(d)); got != "data" {
			t.Fatalf("VM file %s now holds %q", d, got)
		}
	}
}

// fsyncRefused makes directory rel through the mount, where the VM will
// refuse it, and checks that fsync of it fails. With late, the fsync
// comes once the mount has learnt of the refusal from the mkdir's own run.
func fsyncRefused(t *testing.T, e *env, rel string, late bool) {
	t.Helper()
	if err := os.Mkdir(e.path(rel), 0o755); err != nil {
		t.Fatalf("mkdir %s answered from the cache: %v", rel, err)
	}
	f, err := os.Open(e.path(rel))
	if err != nil {
		if !refusal(err) {
			t.Fatalf("open %s: %v", rel, err)
		}
		return // the refusal came back before the open: it surfaced there
	}
	defer f.Close()
	gone := func() bool { _, err := os.Stat(e.path(rel)); return err != nil }
	if late {
		eventually(t, 5*time.Second, rel+": refused directory no longer shown", gone)
	}
	if err := f.Sync(); !refusal(err) {
		t.Fatalf("fsync of refused %s: %v, want ENOTDIR or ENOENT", rel, err)
	}
	eventually(t, 5*time.Second, rel+": refused directory no longer shown", gone)
}

// refusal reports whether err is how the VM refuses a directory under a
// parent that became a file.
func refusal(err error) bool {
	return errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ENOENT)
}

// fsyncDir opens dir and fsyncs it.
func fsyncDir(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", dir, err)
	}
}
