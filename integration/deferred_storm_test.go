package integration

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
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
	// One run when the loop never pauses for the send delay; a loaded
	// machine may pause it a few times. Without coalescing it was
	// thousands.
	if chmodRuns > 8 {
		t.Errorf("%d runs for %d chmods of one file and an fsync; want at most 8", chmodRuns, n)
	}
	if _, err := os.Stat(e.vm("storm")); !os.IsNotExist(err) {
		t.Errorf("VM still has the file after rm: %v", err)
	}
}

// A chmod the VM refuses (the file went away on the VM behind the
// mount's back) is answered at once, and the next fsync of the file
// reports the refusal, whether the fsync sends the chmod or its timer
// did; the mount then shows the VM's truth again.
// (The agent's change feed would tell the mount first: the test keeps to
// runs to provoke the refusal.)
func TestDeferredChmodRefusedReportedByFsync(t *testing.T) {
	e := newEnv(t, withTTL(time.Hour), withoutAgent())
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

// With a small limit on deferred changes, chmods of many files wait for
// room instead of growing the queue, and every mode reaches the VM.
func TestDeferredChmodBounded(t *testing.T) {
	var mu sync.Mutex
	waits := 0
	e := newEnv(t, withTTL(time.Hour), func(e *env) {
		e.opts.DeferLimit = 8
		e.opts.Logf = func(f string, a ...any) {
			if strings.Contains(f, "wait for room") {
				mu.Lock()
				waits++
				mu.Unlock()
			}
			t.Logf("arkerfs: "+f, a...)
		}
	})
	const n = 200
	for i := range n {
		if err := os.WriteFile(e.vm(fmt.Sprintf("f%03d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.ReadDir(e.mnt); err != nil { // caches every file's attributes
		t.Fatal(err)
	}
	runs := e.requests(emulator.EndpointRunsCreate)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				if err := os.Chmod(e.path(fmt.Sprintf("f%03d", i)), 0o600); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	fsyncDir(t, e.mnt)
	t.Logf("%d chmods of different files with a limit of 8: %v, %d runs", n, time.Since(start), e.requests(emulator.EndpointRunsCreate)-runs)
	for i := range n {
		if st, err := os.Stat(e.vm(fmt.Sprintf("f%03d", i))); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("VM f%03d: %v %v, want mode 0600", i, st, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if waits != 1 {
		t.Errorf("the wait for room was logged %d times, want once", waits)
	}
}
