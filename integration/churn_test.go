package integration

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
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
