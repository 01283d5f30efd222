//go:build linux

package helper

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return st.Ino
}

func TestRename(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{
			"a": "A", "b": "B", "dir/": "", "emptydst/": "", "full/x": "", "file": "f",
			"src2/in": "", "ln": "->a", "h1": "H",
		})
		os.Link(j("h1"), j("h2"))
		inoA, inoDir, inoLn := inode(t, j("a")), inode(t, j("dir")), inode(t, j("ln"))
		res := runOps(t, sh,
			Op{Kind: OpRename, Path: j("a"), Path2: j("b")},          // 0 replaces a file
			Op{Kind: OpRename, Path: j("dir"), Path2: j("emptydst")}, // 1 replaces an empty dir
			Op{Kind: OpRename, Path: j("b"), Path2: j("full")},       // 2 file onto dir
			Op{Kind: OpRename, Path: j("emptydst"), Path2: j("file")},
			Op{Kind: OpRename, Path: j("src2"), Path2: j("full")},
			Op{Kind: OpRename, Path: j("src2"), Path2: j("src2/in/deeper")},
			Op{Kind: OpRename, Path: j("missing"), Path2: j("x")},
			Op{Kind: OpRename, Path: j("file"), Path2: j("missing/x")},
			Op{Kind: OpRename, Path: j("file"), Path2: j("file")},
			Op{Kind: OpRename, Path: j("h1"), Path2: j("h2")}, // 9 same file: nothing happens
			Op{Kind: OpRename, Path: j("ln"), Path2: j("ln2")},
			Op{Kind: OpRename, Path: j("file"), Path2: j("file/x")},
		)
		wantOK(t, "rename over file", res[0], j("b"))
		if inode(t, j("b")) != inoA || exists(j("a")) {
			t.Error("rename over a file did not move a to b")
		}
		wantOK(t, "rename over empty dir", res[1], j("emptydst"))
		if inode(t, j("emptydst")) != inoDir {
			t.Error("rename over an empty dir did not move the dir")
		}
		wantErr(t, "file onto dir", res[2], "EISDIR")
		wantErr(t, "dir onto file", res[3], "ENOTDIR")
		wantErr(t, "dir onto non-empty dir", res[4], "ENOTEMPTY")
		wantErr(t, "dir into itself", res[5], "EINVAL")
		wantErr(t, "missing source", res[6], "ENOENT")
		wantErr(t, "missing destination dir", res[7], "ENOENT")
		wantOK(t, "rename to itself", res[8], j("file"))
		wantOK(t, "rename between links of one file", res[9], j("h2"))
		if !exists(j("h1")) || !exists(j("h2")) {
			t.Error("rename between two links of one file removed one")
		}
		wantOK(t, "rename symlink", res[10], j("ln2"))
		if inode(t, j("ln2")) != inoLn {
			t.Error("symlink rename followed the link")
		}
		wantErr(t, "rename below a file", res[11], "ENOTDIR")
	})
}

func TestRenameNoReplace(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"a": "A", "b": "B", "d/x": "", "e/": "", "ln": "->nowhere"})
		inoA, inoD, inoLn := inode(t, j("a")), inode(t, j("d")), inode(t, j("ln"))
		res := runOps(t, sh,
			Op{Kind: OpRename, Path: j("a"), Path2: j("b"), NoReplace: true},
			Op{Kind: OpRename, Path: j("a"), Path2: j("c"), NoReplace: true},
			Op{Kind: OpRename, Path: j("d"), Path2: j("e"), NoReplace: true},
			Op{Kind: OpRename, Path: j("d"), Path2: j("d2"), NoReplace: true},
			Op{Kind: OpRename, Path: j("ln"), Path2: j("ln2"), NoReplace: true},
			Op{Kind: OpRename, Path: j("b"), Path2: j("ln2"), NoReplace: true},
			Op{Kind: OpRename, Path: j("b"), Path2: j("b"), NoReplace: true},
			Op{Kind: OpRename, Path: j("missing"), Path2: j("m2"), NoReplace: true},
		)
		wantErr(t, "noreplace over a file", res[0], "EEXIST")
		wantOK(t, "noreplace file", res[1], j("c"))
		if exists(j("a")) || inode(t, j("c")) != inoA {
			t.Error("noreplace rename did not move the file")
		}
		if a := res[1].Attr; a != nil && a.Nlink != 1 {
			t.Errorf("noreplace rename left nlink %d", a.Nlink)
		}
		wantErr(t, "noreplace over an empty dir", res[2], "EEXIST")
		wantOK(t, "noreplace dir", res[3], j("d2"))
		if exists(j("d")) || inode(t, j("d2")) != inoD {
			t.Error("noreplace rename did not move the directory")
		}
		wantOK(t, "noreplace symlink", res[4], j("ln2"))
		if exists(j("ln")) || inode(t, j("ln2")) != inoLn {
			t.Error("noreplace rename did not move the symlink itself")
		}
		wantErr(t, "noreplace over a dangling symlink", res[5], "EEXIST")
		wantErr(t, "noreplace onto itself", res[6], "EEXIST")
		wantErr(t, "noreplace missing", res[7], "ENOENT")
	})
}
