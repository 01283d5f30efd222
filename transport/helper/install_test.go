//go:build linux

package helper

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInstall: install puts an uploaded file in its target's place with
// one rename (the target then has the uploaded file's inode), with the
// mode asked for, the target's own, or 0644; a failed install removes
// the uploaded file.
func TestInstall(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{
			"t1": "new", "t2": "new", "t3": "new", "t4": "new", "t5": "new", "t6": "new", "t7": "new", "t8": "new",
			"exec": "old", "plain": "old", "file": "f", "dir/": "", "ln": "->plain", "notreg/": "",
		})
		if err := os.Chmod(j("exec"), 0o755); err != nil {
			t.Fatal(err)
		}
		odd := j("odd\xff\n'name")
		ino1, ino3, ino7 := inode(t, j("t1")), inode(t, j("t3")), inode(t, j("t7"))
		res := runOps(t, sh,
			Op{Kind: OpInstall, Path: j("fresh"), Path2: j("t1"), KeepMode: true},      // 0 new file: 0644
			Op{Kind: OpInstall, Path: j("exec"), Path2: j("t2"), KeepMode: true},       // 1 keeps 0755
			Op{Kind: OpInstall, Path: j("plain"), Path2: j("t3"), Mode: 0o600},         // 2 mode given
			Op{Kind: OpInstall, Path: j("dir"), Path2: j("t4"), KeepMode: true},        // 3 onto a directory
			Op{Kind: OpInstall, Path: j("file/x"), Path2: j("t5"), KeepMode: true},     // 4 parent not a directory
			Op{Kind: OpInstall, Path: j("x"), Path2: j("gone"), KeepMode: true},        // 5 no upload
			Op{Kind: OpInstall, Path: j("x"), Path2: j("notreg"), KeepMode: true},      // 6 upload not a file
			Op{Kind: OpInstall, Path: odd, Path2: j("t6"), Mode: 0o640},                // 7 awkward name
			Op{Kind: OpInstall, Path: j("ln"), Path2: j("t7"), KeepMode: true},         // 8 replaces the symlink
			Op{Kind: OpInstall, Path: j("new/deep/f"), Path2: j("t8"), KeepMode: true}, // 9 parents made
		)
		wantOK(t, "install new", res[0], j("fresh"))
		wantOK(t, "install keeps mode", res[1], j("exec"))
		wantOK(t, "install with mode", res[2], j("plain"))
		wantErr(t, "install onto a directory", res[3], "EISDIR")
		wantErr(t, "install below a file", res[4], "ENOTDIR")
		wantErr(t, "install of a missing upload", res[5], "ENOENT")
		wantErr(t, "install of a directory", res[6], "EINVAL")
		wantOK(t, "install awkward name", res[7], odd)
		wantOK(t, "install over a symlink", res[8], j("ln"))
		wantOK(t, "install making parents", res[9], j("new/deep/f"))
		if fi, err := os.Stat(j("new/deep")); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("parent made: %v %v", fi, err)
		}
		for _, c := range []struct {
			name string
			ino  uint64
			perm os.FileMode
		}{{"fresh", ino1, 0o644}, {"exec", 0, 0o755}, {"plain", ino3, 0o600}} {
			fi, err := os.Lstat(j(c.name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != c.perm {
				t.Errorf("%s: mode %v, want %v", c.name, fi.Mode().Perm(), c.perm)
			}
			if b, _ := os.ReadFile(j(c.name)); string(b) != "new" {
				t.Errorf("%s: content %q, want the uploaded file's", c.name, b)
			}
			if c.ino != 0 && inode(t, j(c.name)) != c.ino {
				t.Errorf("%s: not the uploaded file's inode (no rename?)", c.name)
			}
		}
		if res[8].Attr == nil || res[8].Attr.Type != TypeRegular || res[8].Attr.Ino != ino7 {
			t.Errorf("install over a symlink: %+v, want the uploaded regular file", res[8].Attr)
		}
		for _, tmp := range []string{"t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"} {
			if exists(j(tmp)) {
				t.Errorf("%s left behind", tmp)
			}
		}
		if fi, err := os.Lstat(odd); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("awkward name: %v %v", fi, err)
		}
	})
}

// TestInstallOverHardLinks: a target with several names is rewritten in
// place, so that every name sees the new content; the upload is removed.
func TestInstallOverHardLinks(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"f": "old", ".up": "new content"})
		if err := os.Link(j("f"), j("g")); err != nil {
			t.Fatal(err)
		}
		res := runOps(t, sh, Op{Kind: OpInstall, Path: j("f"), Path2: j(".up"), Mode: 0o600})
		wantOK(t, "install over a linked file", res[0], j("f"))
		for _, n := range []string{"f", "g"} {
			if b, err := os.ReadFile(j(n)); err != nil || string(b) != "new content" {
				t.Errorf("%s holds %q, %v", n, b, err)
			}
		}
		if a := res[0].Attr; a == nil || a.Nlink != 2 || a.Perm != 0o600 {
			t.Errorf("attributes after install: %+v", res[0].Attr)
		}
		if _, err := os.Lstat(j(".up")); !os.IsNotExist(err) {
			t.Errorf("the upload is still there: %v", err)
		}
	})
}
