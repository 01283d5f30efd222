package integration

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestOpenDuringAtomicSaves: an editor saves a file by writing a
// temporary file and renaming it over the name, again and again, while a
// reader keeps opening the name. An open that looked the name up just
// before a rename reached the mount with the replaced file; the mount
// answers ESTALE, and the kernel walks the path again and opens the new
// file, as on a local disk. A read of a file replaced after its open and
// before its first read may answer ESTALE (docs/SEMANTICS.md).
func TestOpenDuringAtomicSaves(t *testing.T) {
	e := newEnv(t)
	const saves = 300
	name, tmp := e.path("doc.txt"), e.path(".doc.txt.tmp")
	e.write("doc.txt", []byte("v\n"))
	var stop atomic.Bool
	var opens, openFailures, readFailures atomic.Int64
	var firstOpenErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64)
		for !stop.Load() {
			fd, err := syscall.Open(name, syscall.O_RDONLY, 0)
			if err != nil {
				if openFailures.Add(1) == 1 {
					firstOpenErr = err
				}
				continue
			}
			opens.Add(1)
			if _, err := syscall.Read(fd, buf); err != nil && !errors.Is(err, syscall.ESTALE) {
				t.Errorf("read: %v", err)
			} else if err != nil {
				readFailures.Add(1)
			}
			syscall.Close(fd)
		}
	}()
	for i := range saves {
		if err := os.WriteFile(tmp, []byte{byte('a' + i%26), '\n'}, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, name); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d saves: %d opens, %d failed (first: %v), %d reads ESTALE", saves, opens.Load(), openFailures.Load(), firstOpenErr, readFailures.Load())
	// Without the retry about one open in 250 failed with ENOENT (120 in
	// 300 saves); what is left is a rare race below the mount.
	if n := openFailures.Load(); n > 10 {
		t.Errorf("%d opens of %d failed during %d saves (first: %v)", n, opens.Load(), saves, firstOpenErr)
	}
}
