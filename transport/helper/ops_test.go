//go:build linux

package helper

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests in this file run every operation, and each errno it promises
// for the usual conditions, through the real script against a temporary
// tree; results are checked against lstat and the tree's new state.

func TestStatAndReadlink(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"f": "12345", "sub/": "", "ln": "->f", "loop": "->loop"})
		mt := time.Date(2022, 3, 4, 5, 6, 7, 891011121, time.UTC)
		os.Chtimes(j("f"), mt.Add(-time.Hour), mt)
		if err := syscall.Mkfifo(j("fifo"), 0o600); err != nil {
			t.Fatal(err)
		}
		res := runOps(t, sh,
			Op{Kind: OpStat, Path: j("f")},
			Op{Kind: OpStat, Path: j("sub")},
			Op{Kind: OpStat, Path: j("ln")},
			Op{Kind: OpStat, Path: j("fifo")},
			Op{Kind: OpStat, Path: "/"},
			Op{Kind: OpStat, Path: j("missing")},
			Op{Kind: OpStat, Path: j("f/x")},
			Op{Kind: OpStat, Path: j(strings.Repeat("n", 256))},
			Op{Kind: OpStat, Path: j("loop/x")},
			Op{Kind: OpReadlink, Path: j("ln")},
			Op{Kind: OpReadlink, Path: j("f")},
			Op{Kind: OpReadlink, Path: j("missing")},
		)
		wantOK(t, "stat file", res[0], j("f"))
		if res[0].Attr != nil && (res[0].Attr.MtimeNs != mt.UnixNano() || res[0].Attr.AtimeNs != mt.Add(-time.Hour).UnixNano()) {
			t.Errorf("stat times %d %d", res[0].Attr.AtimeNs, res[0].Attr.MtimeNs)
		}
		wantOK(t, "stat dir", res[1], j("sub"))
		wantOK(t, "stat symlink", res[2], j("ln"))
		if res[2].Target != "f" {
			t.Errorf("stat symlink target %q", res[2].Target)
		}
		wantOK(t, "stat fifo", res[3], j("fifo"))
		wantOK(t, "stat /", res[4], "/")
		wantErr(t, "stat missing", res[5], "ENOENT")
		wantErr(t, "stat below a file", res[6], "ENOTDIR")
		wantErr(t, "stat long name", res[7], "ENAMETOOLONG")
		wantErr(t, "stat through a loop", res[8], "ELOOP")
		wantOK(t, "readlink", res[9], j("ln"))
		if res[9].Target != "f" {
			t.Errorf("readlink = %q", res[9].Target)
		}
		wantErr(t, "readlink file", res[10], "EINVAL")
		wantErr(t, "readlink missing", res[11], "ENOENT")
	})
}

func TestListAndTree(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"a/b/c/f": "x", "a/d/": "", "e": "", "ln": "->a", "empty/": ""})
		res := runOps(t, sh,
			Op{Kind: OpList, Path: d},
			Op{Kind: OpList, Path: j("empty")},
			Op{Kind: OpList, Path: j("e")},
			Op{Kind: OpList, Path: j("ln")},
			Op{Kind: OpList, Path: j("missing")},
			Op{Kind: OpTree, Path: d, Depth: 10, Limit: 100},
			Op{Kind: OpTree, Path: d, Depth: 1, Limit: 100},
			Op{Kind: OpTree, Path: d, Depth: 10, Limit: 3},
			Op{Kind: OpTree, Path: d, Depth: 10, Limit: 8},
			Op{Kind: OpTree, Path: j("e"), Depth: 1, Limit: 1},
			Op{Kind: OpTree, Path: j("missing"), Depth: 1, Limit: 1},
		)
		wantOK(t, "list", res[0], "")
		names := map[string]bool{}
		for _, e := range res[0].Entries {
			names[e.Name] = true
			checkAttr(t, "list entry "+e.Name, j(e.Name), e.Attr)
			if e.Name == "ln" && e.Target != "a" {
				t.Errorf("list symlink target %q", e.Target)
			}
		}
		if len(names) != 4 || !names["a"] || !names["e"] || !names["ln"] || !names["empty"] {
			t.Errorf("list names %v", names)
		}
		if res[1].Err != nil || len(res[1].Entries) != 0 {
			t.Errorf("empty list: %v %d", res[1].Err, len(res[1].Entries))
		}
		wantErr(t, "list file", res[2], "ENOTDIR")
		wantErr(t, "list symlink", res[3], "ENOTDIR")
		wantErr(t, "list missing", res[4], "ENOENT")

		full := res[5]
		if full.Err != nil || full.Truncated || len(full.Entries) != 8 {
			t.Fatalf("tree: %v, %d entries, truncated %v", full.Err, len(full.Entries), full.Truncated)
		}
		for _, e := range full.Entries {
			checkAttr(t, "tree entry "+e.Name, j(e.Name), e.Attr)
		}
		if len(res[6].Entries) != 4 || res[6].Truncated {
			t.Errorf("depth 1: %d entries, truncated %v", len(res[6].Entries), res[6].Truncated)
		}
		if len(res[7].Entries) != 3 || !res[7].Truncated {
			t.Errorf("limit 3: %d entries, truncated %v", len(res[7].Entries), res[7].Truncated)
		}
		for i, e := range res[7].Entries {
			if e.Name != full.Entries[i].Name {
				t.Errorf("limited tree entry %d is %q, want %q", i, e.Name, full.Entries[i].Name)
			}
		}
		if len(res[8].Entries) != 8 || res[8].Truncated {
			t.Errorf("limit = size: %d entries, truncated %v", len(res[8].Entries), res[8].Truncated)
		}
		wantErr(t, "tree of a file", res[9], "ENOTDIR")
		wantErr(t, "tree missing", res[10], "ENOENT")
	})
}

func TestMkdirCreate(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"file": "data", "dir/": "", "dangling": "->nowhere"})
		os.Chmod(j("file"), 0o640)
		long := strings.Repeat("m", 256)
		res := runOps(t, sh,
			Op{Kind: OpMkdir, Path: j("new"), Mode: 0o750},
			Op{Kind: OpMkdir, Path: j("sticky"), Mode: 0o1777},
			Op{Kind: OpMkdir, Path: j("file"), Mode: 0o755},
			Op{Kind: OpMkdir, Path: j("missing/x"), Mode: 0o755},
			Op{Kind: OpMkdir, Path: j("file/x"), Mode: 0o755},
			Op{Kind: OpMkdir, Path: j(long), Mode: 0o755},
			Op{Kind: OpCreate, Path: j("lock"), Mode: 0o600, Exclusive: true},
			Op{Kind: OpCreate, Path: j("lock"), Mode: 0o600, Exclusive: true},
			Op{Kind: OpCreate, Path: j("dangling"), Mode: 0o600, Exclusive: true},
			Op{Kind: OpCreate, Path: j("file"), Mode: 0o600},
			Op{Kind: OpCreate, Path: j("dir"), Mode: 0o600},
			Op{Kind: OpCreate, Path: j("open"), Mode: 0o4755},
			Op{Kind: OpCreate, Path: j("missing/x"), Mode: 0o644, Exclusive: true},
			Op{Kind: OpCreate, Path: j("file/x"), Mode: 0o644, Exclusive: true},
			Op{Kind: OpCreate, Path: j(long), Mode: 0o644, Exclusive: true},
		)
		wantOK(t, "mkdir", res[0], j("new"))
		if a := res[0].Attr; a != nil && (a.Type != TypeDir || a.Perm != 0o750) {
			t.Errorf("mkdir made %+v", a)
		}
		wantOK(t, "mkdir sticky", res[1], j("sticky"))
		if a := res[1].Attr; a != nil && a.Perm != 0o1777 {
			t.Errorf("mkdir sticky mode %o", a.Perm)
		}
		wantErr(t, "mkdir existing", res[2], "EEXIST")
		wantErr(t, "mkdir in missing", res[3], "ENOENT")
		wantErr(t, "mkdir below file", res[4], "ENOTDIR")
		wantErr(t, "mkdir long", res[5], "ENAMETOOLONG")
		wantOK(t, "create", res[6], j("lock"))
		if a := res[6].Attr; a != nil && (a.Type != TypeRegular || a.Perm != 0o600 || a.Size != 0) {
			t.Errorf("create made %+v", a)
		}
		wantErr(t, "create exclusive existing", res[7], "EEXIST")
		wantErr(t, "create exclusive on dangling symlink", res[8], "EEXIST")
		if exists(j("nowhere")) {
			t.Error("exclusive create followed a dangling symlink")
		}
		wantOK(t, "create existing", res[9], j("file"))
		if a := res[9].Attr; a != nil && (a.Perm != 0o640 || a.Size != 4) {
			t.Errorf("non-exclusive create changed the file: %+v", a)
		}
		wantErr(t, "create on dir", res[10], "EISDIR")
		wantOK(t, "create setuid", res[11], j("open"))
		if a := res[11].Attr; a != nil && a.Perm != 0o4755 {
			t.Errorf("create mode %o", a.Perm)
		}
		wantErr(t, "create in missing", res[12], "ENOENT")
		wantErr(t, "create below file", res[13], "ENOTDIR")
		wantErr(t, "create long", res[14], "ENAMETOOLONG")
	})
}

func TestRmdirUnlink(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"empty/": "", "full/x": "", "file": "", "ln": "->empty", "dangling": "->nowhere", "keep": "k", "lk": "->keep"})
		res := runOps(t, sh,
			Op{Kind: OpRmdir, Path: j("empty")},
			Op{Kind: OpRmdir, Path: j("full")},
			Op{Kind: OpRmdir, Path: j("file")},
			Op{Kind: OpRmdir, Path: j("ln")},
			Op{Kind: OpRmdir, Path: j("missing")},
			Op{Kind: OpUnlink, Path: j("file")},
			Op{Kind: OpUnlink, Path: j("dangling")},
			Op{Kind: OpUnlink, Path: j("lk")},
			Op{Kind: OpUnlink, Path: j("full")},
			Op{Kind: OpUnlink, Path: j("missing")},
			Op{Kind: OpUnlink, Path: j("keep/x")},
		)
		wantOK(t, "rmdir", res[0], "")
		wantErr(t, "rmdir non-empty", res[1], "ENOTEMPTY")
		wantErr(t, "rmdir file", res[2], "ENOTDIR")
		wantErr(t, "rmdir symlink to dir", res[3], "ENOTDIR")
		wantErr(t, "rmdir missing", res[4], "ENOENT")
		wantOK(t, "unlink", res[5], "")
		wantOK(t, "unlink dangling", res[6], "")
		wantOK(t, "unlink symlink", res[7], "")
		wantErr(t, "unlink dir", res[8], "EISDIR")
		wantErr(t, "unlink missing", res[9], "ENOENT")
		wantErr(t, "unlink below file", res[10], "ENOTDIR")
		for n, want := range map[string]bool{"empty": false, "full": true, "file": false, "dangling": false, "lk": false, "keep": true} {
			if exists(j(n)) != want {
				t.Errorf("%s exists: %v, want %v", n, !want, want)
			}
		}
	})
}

func TestChmodUtimensTruncate(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"f": "0123456789", "g": "", "h": "", "sg/": "", "ln": "->f", "dir/": ""})
		os.Chmod(j("sg"), 0o2755)
		syscall.Mkfifo(j("fifo"), 0o644)
		old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		os.Chtimes(j("g"), old, old)
		os.Chtimes(j("h"), old, old)
		os.Chtimes(j("f"), old, old)
		when := int64(1600000000123456789)
		neg := int64(-1500000000) // 1969-12-31 23:59:58.5
		before := time.Now().Add(-time.Second).UnixNano()
		res := runOps(t, sh,
			Op{Kind: OpChmod, Path: j("f"), Mode: 0o4751},
			Op{Kind: OpChmod, Path: j("sg"), Mode: 0o755},
			Op{Kind: OpChmod, Path: j("ln"), Mode: 0o600},
			Op{Kind: OpChmod, Path: j("missing"), Mode: 0o600},
			Op{Kind: OpUtimens, Path: j("g"), Mtime: Time{Set: true, Ns: when}},
			Op{Kind: OpUtimens, Path: j("h"), Atime: Time{Set: true, Ns: neg}, Mtime: Time{Set: true, Now: true}},
			Op{Kind: OpUtimens, Path: j("ln"), Atime: Time{Set: true, Ns: when}, Mtime: Time{Set: true, Ns: when}},
			Op{Kind: OpUtimens, Path: j("missing"), Mtime: Time{Set: true, Now: true}},
			Op{Kind: OpTruncate, Path: j("f"), Size: 3},
			Op{Kind: OpTruncate, Path: j("g"), Size: 1 << 20},
			Op{Kind: OpTruncate, Path: j("dir"), Size: 0},
			Op{Kind: OpTruncate, Path: j("fifo"), Size: 0},
			Op{Kind: OpTruncate, Path: j("missing"), Size: 0},
		)
		wantOK(t, "chmod", res[0], "")
		if a := res[0].Attr; a != nil && a.Perm != 0o4751 {
			t.Errorf("chmod mode %o", a.Perm)
		}
		wantOK(t, "chmod clears a directory's setgid", res[1], j("sg"))
		if a := res[1].Attr; a != nil && a.Perm != 0o755 {
			t.Errorf("chmod dir mode %o", a.Perm)
		}
		wantErr(t, "chmod symlink", res[2], "ENOTSUP")
		wantErr(t, "chmod missing", res[3], "ENOENT")
		wantOK(t, "utimens mtime", res[4], "")
		if a := res[4].Attr; a != nil && (a.MtimeNs != when || a.AtimeNs != old.UnixNano()) {
			t.Errorf("utimens mtime only: atime %d mtime %d", a.AtimeNs, a.MtimeNs)
		}
		wantOK(t, "utimens atime, mtime now", res[5], "")
		if a := res[5].Attr; a != nil && (a.AtimeNs != neg || a.MtimeNs < before) {
			t.Errorf("utimens: atime %d mtime %d", a.AtimeNs, a.MtimeNs)
		}
		wantOK(t, "utimens symlink", res[6], j("ln"))
		if a := res[6].Attr; a != nil && a.MtimeNs != when {
			t.Errorf("utimens symlink mtime %d", a.MtimeNs)
		}
		wantErr(t, "utimens missing", res[7], "ENOENT")
		wantOK(t, "truncate shrink", res[8], "")
		wantOK(t, "truncate grow", res[9], j("g"))
		if res[8].Attr != nil && res[8].Attr.Size != 3 || res[9].Attr != nil && res[9].Attr.Size != 1<<20 {
			t.Error("truncate sizes wrong")
		}
		wantErr(t, "truncate dir", res[10], "EISDIR")
		wantErr(t, "truncate fifo", res[11], "EINVAL")
		wantErr(t, "truncate missing", res[12], "ENOENT")
		// The symlink's times changed, not its target's.
		checkAttr(t, "final f", j("f"), *res[8].Attr)
		var st syscall.Stat_t
		syscall.Stat(j("f"), &st)
		if st.Mtim.Nano() == when {
			t.Error("utimens followed the symlink")
		}
	})
}

func TestSymlinkLinkStatfs(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"f": "x", "dir/": ""})
		target := "-> 'odd' $(target) `x` \\c \n\n"
		res := runOps(t, sh,
			Op{Kind: OpSymlink, Path: j("s"), Target: target},
			Op{Kind: OpSymlink, Path: j("f"), Target: "x"},
			Op{Kind: OpSymlink, Path: j("dir"), Target: "x"},
			Op{Kind: OpSymlink, Path: j("missing/s"), Target: "x"},
			Op{Kind: OpReadlink, Path: j("s")},
			Op{Kind: OpLink, Path: j("f"), Path2: j("hard")},
			Op{Kind: OpLink, Path: j("f"), Path2: j("dir")},
			Op{Kind: OpLink, Path: j("dir"), Path2: j("dir2")},
			Op{Kind: OpLink, Path: j("missing"), Path2: j("x")},
			Op{Kind: OpLink, Path: j("s"), Path2: j("s2")},
			Op{Kind: OpStatfs, Path: d},
			Op{Kind: OpStatfs, Path: j("missing")},
		)
		wantOK(t, "symlink", res[0], "")
		if got, _ := os.Readlink(j("s")); got != target || res[0].Target != target {
			t.Errorf("symlink target %q, answered %q", got, res[0].Target)
		}
		wantErr(t, "symlink over file", res[1], "EEXIST")
		wantErr(t, "symlink over dir", res[2], "EEXIST")
		wantErr(t, "symlink in missing", res[3], "ENOENT")
		if res[4].Target != target {
			t.Errorf("readlink %q", res[4].Target)
		}
		wantOK(t, "link", res[5], j("hard"))
		if a := res[5].Attr; a != nil && a.Nlink != 2 {
			t.Errorf("link nlink %d", a.Nlink)
		}
		wantErr(t, "link over dir", res[6], "EEXIST")
		wantErr(t, "link a dir", res[7], "EPERM")
		wantErr(t, "link missing", res[8], "ENOENT")
		wantOK(t, "link a symlink", res[9], j("s2"))
		if res[9].Attr != nil && res[9].Attr.Type != TypeSymlink {
			t.Error("link followed the symlink")
		}
		wantOK(t, "statfs", res[10], "")
		var fs syscall.Statfs_t
		syscall.Statfs(d, &fs)
		if s := res[10].Statfs; s == nil || s.Bsize != uint64(fs.Frsize) || s.Blocks != fs.Blocks || s.Files != fs.Files || s.NameLen != uint64(fs.Namelen) {
			t.Errorf("statfs %+v, want %+v", res[10].Statfs, fs)
		}
		wantErr(t, "statfs missing", res[11], "ENOENT")
	})
}
