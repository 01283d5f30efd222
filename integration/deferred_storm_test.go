package integration

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
)

// A storm of chmods of one file (stress-ng --chmod: chmod and fchmod
// through every mode bit) is answered locally and reaches the VM as one
// change: the fsync that follows sends the last mode, and the rm after it
// does not wait behind thousands of runs.
func TestDeferredChmodStormCoalesces(t *testing.T) {
	e := newEnv(t, withTTL(time.Hour))
	name := e.path("storm")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	runs := e.requests(emulator.EndpointRunsCreate)
	const n, last = 28000, 0o640
	start := time.Now()
	for i := range n {
		mode := uint32(i) & 0o7777
		if i == n-1 {
			mode = last
		}
		if i%2 == 0 {
			err = syscall.Chmod(name, mode)
		} else {
			err = syscall.Fchmod(fd, mode)
		}
		if err != nil {
			t.Fatalf("chmod %d to %#o: %v", i, mode, err)
		}
	}
	loop := time.Since(start)
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	synced := time.Since(start)
	chmodRuns := e.requests(emulator.EndpointRunsCreate) - runs
	var st syscall.Stat_t
	if err := syscall.Stat(e.vm("storm"), &st); err != nil || st.Mode&0o7777 != last {
		t.Errorf("VM after fsync: mode %#o (%v), want %#o", st.Mode&0o7777, err, last)
	}
	if err := syscall.Stat(name, &st); err != nil || st.Mode&0o7777 != last {
		t.Errorf("mount after fsync: mode %#o (%v), want %#o", st.Mode&0o7777, err, last)
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d chmods: %v; fsync done at %v; rm done at %v; %d runs for the chmods",
		n, loop, synced, time.Since(start), chmodRuns)
	if chmodRuns > 2 {
		t.Errorf("%d runs for %d chmods of one file and an fsync; want at most 2", chmodRuns, n)
	}
	if _, err := os.Stat(e.vm("storm")); !os.IsNotExist(err) {
		t.Errorf("VM still has the file after rm: %v", err)
	}
}

// A chmod the VM refuses (the file went away on the VM behind the
// mount's back) is answered at once, and the next fsync of the file
// reports the refusal, whether the fsync sends the chmod or its timer
// did; the mount then shows the VM's truth again.
func TestDeferredChmodRefusedReportedByFsync(t *testing.T) {
	e := newEnv(t, withTTL(time.Hour))
	for _, late := range []bool{false, true} {
		name := "refused-early"
		if late {
			name = "refused-late"
		}
		f, err := os.OpenFile(e.path(name), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(e.vm(name)); err != nil {
			t.Fatal(err)
		}
		if err := f.Chmod(0o600); err != nil {
			t.Fatalf("%s: chmod answered from the cache: %v", name, err)
		}
		if late {
			// The timer sends the chmod; once the VM's refusal is back the
			// mount no longer shows the file.
			eventually(t, 5*time.Second, name+": refused file no longer shown", func() bool {
				_, err := os.Stat(e.path(name))
				return err != nil
			})
		}
		if err := f.Sync(); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("%s: fsync after a refused chmod: %v, want ENOENT", name, err)
		}
		if err := f.Sync(); err != nil {
			t.Fatalf("%s: a second fsync reports the refusal again: %v", name, err)
		}
		eventually(t, 5*time.Second, name+": refused file no longer shown", func() bool {
			_, err := os.Stat(e.path(name))
			return errors.Is(err, os.ErrNotExist)
		})
		f.Close()
	}
}
