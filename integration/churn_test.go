package integration

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSymlinkChurn makes and removes one symlink name in a tight loop
// (stress-ng --symlink): each symlink(2) right after the unlink of the
// same name must succeed.
func TestSymlinkChurn(t *testing.T) {
	e := newEnv(t)
	dir := e.path("churn")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "l")
	for i := range 200 {
		if err := os.Symlink("target", name); err != nil {
			t.Fatalf("round %d: symlink: %v", i, err)
		}
		if _, err := os.Lstat(name); err != nil {
			t.Fatalf("round %d: lstat: %v", i, err)
		}
		if err := os.Remove(name); err != nil {
			t.Fatalf("round %d: remove: %v", i, err)
		}
	}
	if _, err := os.Lstat(name); !os.IsNotExist(err) {
		t.Fatalf("after the churn: %v, want not found", err)
	}
}

// TestHardLinkChurn links, stats and unlinks a second name of one file in
// a loop (stress-ng --link): every step answers, the link count follows,
// and each step costs at most one run.
func TestHardLinkChurn(t *testing.T) {
	e := newEnv(t)
	e.write("a", []byte("content"))
	a, b := e.path("a"), e.path("b")
	before := e.requests("runs.create")
	const rounds = 100
	for i := range rounds {
		if err := os.Link(a, b); err != nil {
			t.Fatalf("round %d: link: %v", i, err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(a, &st); err != nil || st.Nlink != 2 {
			t.Fatalf("round %d: stat: nlink %d, %v; want 2", i, st.Nlink, err)
		}
		if err := os.Remove(b); err != nil {
			t.Fatalf("round %d: unlink: %v", i, err)
		}
		if err := syscall.Stat(a, &st); err != nil || st.Nlink != 1 {
			t.Fatalf("round %d: stat after unlink: nlink %d, %v; want 1", i, st.Nlink, err)
		}
	}
	if runs := e.requests("runs.create") - before; runs > 2*rounds+2 {
		t.Fatalf("%d runs for %d rounds, want at most %d", runs, rounds, 2*rounds+2)
	}
}

// TestChangesWhileListing unlinks, renames and relinks names while another
// process lists the directory above without pause (an editor's file tree,
// a second job of a build): a listing asked before a change and answered
// after it must not bring back what the change removed, hide what it made,
// or restore a link count it lowered. A listing fetches the subtree below,
// so it covers the changed directory; the kernel orders a listing and a
// change of one directory, not of two. Listings expire at once here, so
// every listing asks the VM.
func TestChangesWhileListing(t *testing.T) {
	e := newEnv(t, func(e *env) { e.opts.DirTTL = time.Millisecond }, withLatency(2*time.Millisecond))
	top, dir := e.path("top"), e.path("top/busy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = os.ReadDir(top)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	f, g, l := filepath.Join(dir, "f"), filepath.Join(dir, "g"), filepath.Join(dir, "l")
	for i := range 80 {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatalf("round %d: create: %v", i, err)
		}
		if err := os.Link(f, l); err != nil {
			t.Fatalf("round %d: link: %v", i, err)
		}
		if err := os.Rename(f, g); err != nil {
			t.Fatalf("round %d: rename: %v", i, err)
		}
		if _, err := os.Lstat(f); !os.IsNotExist(err) {
			t.Fatalf("round %d: the renamed name still answers: %v", i, err)
		}
		if err := os.Remove(g); err != nil {
			t.Fatalf("round %d: unlink: %v", i, err)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(l, &st); err != nil || st.Nlink != 1 {
			t.Fatalf("round %d: the other link after unlink: nlink %d, %v; want 1", i, st.Nlink, err)
		}
		if _, err := os.Lstat(g); !os.IsNotExist(err) {
			t.Fatalf("round %d: the unlinked name still answers: %v", i, err)
		}
		if err := os.Remove(l); err != nil {
			t.Fatalf("round %d: unlink of the link: %v", i, err)
		}
	}
}
