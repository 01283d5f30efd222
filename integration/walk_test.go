package integration

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeepWalkFollowsTheTree: the first listing fetches the subtree level
// by level under an entry budget, not a depth, so a walk over a tree
// whose files sit eight levels down (400 files, 8 a leaf directory) costs
// the run of that first listing and no run per directory.
func TestDeepWalkFollowsTheTree(t *testing.T) {
	e := newEnv(t)
	const leaves, perLeaf = 50, 8
	var want []string
	for l := range leaves {
		dir := fmt.Sprintf("deep/b%d/c/d/e/f/g/h%d", l%5, l)
		if err := os.MkdirAll(e.vm(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range perLeaf {
			name := fmt.Sprintf("%s/f%d", dir, i)
			if err := os.WriteFile(e.vm(name), []byte(name), 0o644); err != nil {
				t.Fatal(err)
			}
			want = append(want, name)
		}
	}
	before := e.requests("runs.create")
	var got []string
	err := filepath.WalkDir(e.path("deep"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if _, err := d.Info(); err != nil {
			return err
		}
		if !d.IsDir() {
			got = append(got, strings.TrimPrefix(p, e.mnt+"/"))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("walk found %d files, want %d", len(got), len(want))
	}
	if runs := e.requests("runs.create") - before; runs > 2 {
		t.Fatalf("the walk cost %d runs, want at most 2 (one subtree fetch, and the root's if not primed)", runs)
	}
}
