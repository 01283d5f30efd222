package helper

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shells the helper must work under; missing ones are skipped.
var shells = [][]string{{"dash", "-c"}, {"bash", "--posix", "-c"}}

// runOps runs ops through sh as the run endpoint would, and parses.
func runOps(t *testing.T, shell []string, ops ...Op) []Result {
	t.Helper()
	cmd, err := Command(ops)
	if err != nil {
		t.Fatalf("Command: %v", err)
	}
	c := exec.Command(shell[0], append(shell[1:], cmd)...)
	c.Stdin = nil
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%s: %v", shell[0], err)
	}
	res, err := Parse(out, ops)
	if err != nil {
		t.Fatalf("Parse: %v\noutput: %q", err, out)
	}
	return res
}

func eachShell(t *testing.T, f func(t *testing.T, sh []string)) {
	for _, sh := range shells {
		sh := sh
		t.Run(sh[0], func(t *testing.T) {
			if _, err := exec.LookPath(sh[0]); err != nil {
				t.Skipf("%s not installed", sh[0])
			}
			f(t, sh)
		})
	}
}

func wantErrno(t *testing.T, r Result, errno string) {
	t.Helper()
	if r.Err == nil || r.Err.Errno != errno {
		t.Fatalf("got %+v, want %s", r.Err, errno)
	}
}

func TestStatMatchesLstat(t *testing.T) {
	eachShell(t, func(t *testing.T, sh []string) {
		dir := t.TempDir()
		p := filepath.Join(dir, "f")
		os.WriteFile(p, []byte("12345"), 0o640)
		mt := time.Date(2022, 3, 4, 5, 6, 7, 891011121, time.UTC)
		os.Chtimes(p, mt, mt)
		r := runOps(t, sh, Op{Kind: OpStat, Path: p})[0]
		var st syscall.Stat_t
		syscall.Lstat(p, &st)
		a := r.Attr
		if r.Err != nil || a.Type != TypeRegular || a.Size != 5 || a.Perm != 0o640 || a.Ino != st.Ino ||
			a.Nlink != uint32(st.Nlink) || a.MtimeNs != mt.UnixNano() || a.UID != st.Uid {
			t.Fatalf("stat = %+v %v; lstat ino %d", a, r.Err, st.Ino)
		}
	})
}

func TestOperationsAndErrnos(t *testing.T) {
	eachShell(t, func(t *testing.T, sh []string) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		os.WriteFile(j("file"), []byte("x"), 0o644)
		os.Mkdir(j("full"), 0o755)
		os.WriteFile(j("full/in"), nil, 0o644)
		res := runOps(t, sh,
			Op{Kind: OpMkdir, Path: j("new"), Mode: 0o750},
			Op{Kind: OpMkdir, Path: j("file"), Mode: 0o755},
			Op{Kind: OpMkdir, Path: j("missing/x"), Mode: 0o755},
			Op{Kind: OpMkdir, Path: j("file/x"), Mode: 0o755},
			Op{Kind: OpCreate, Path: j("lock"), Mode: 0o600, Exclusive: true},
			Op{Kind: OpCreate, Path: j("lock"), Mode: 0o600, Exclusive: true},
			Op{Kind: OpRmdir, Path: j("full")},
			Op{Kind: OpRmdir, Path: j("file")},
			Op{Kind: OpUnlink, Path: j("full")},
			Op{Kind: OpUnlink, Path: j("nothing")},
			Op{Kind: OpStat, Path: j(strings.Repeat("n", 256))},
		)
		if res[0].Err != nil || res[0].Attr.Type != TypeDir || res[0].Attr.Perm != 0o750 {
			t.Fatalf("mkdir: %+v %v", res[0].Attr, res[0].Err)
		}
		wantErrno(t, res[1], "EEXIST")
		wantErrno(t, res[2], "ENOENT")
		wantErrno(t, res[3], "ENOTDIR")
		if res[4].Err != nil || res[4].Attr.Perm != 0o600 {
			t.Fatalf("create: %+v %v", res[4].Attr, res[4].Err)
		}
		wantErrno(t, res[5], "EEXIST")
		wantErrno(t, res[6], "ENOTEMPTY")
		wantErrno(t, res[7], "ENOTDIR")
		wantErrno(t, res[8], "EISDIR")
		wantErrno(t, res[9], "ENOENT")
		wantErrno(t, res[10], "ENAMETOOLONG")
	})
}

func TestRenameLinkSymlinkTimes(t *testing.T) {
	eachShell(t, func(t *testing.T, sh []string) {
		d := t.TempDir()
		j := func(n string) string { return filepath.Join(d, n) }
		os.WriteFile(j("a"), []byte("A"), 0o644)
		os.WriteFile(j("b"), []byte("B"), 0o644)
		os.Mkdir(j("dir"), 0o755)
		os.Mkdir(j("full"), 0o755)
		os.WriteFile(j("full/x"), nil, 0o644)
		when := int64(1600000000123456789)
		res := runOps(t, sh,
			Op{Kind: OpRename, Path: j("a"), Path2: j("b"), NoReplace: true},
			Op{Kind: OpRename, Path: j("a"), Path2: j("c"), NoReplace: true},
			Op{Kind: OpRename, Path: j("c"), Path2: j("b")},
			Op{Kind: OpRename, Path: j("b"), Path2: j("dir")},
			Op{Kind: OpRename, Path: j("dir"), Path2: j("full")},
			Op{Kind: OpRename, Path: j("dir"), Path2: j("dir/sub")},
			Op{Kind: OpLink, Path: j("b"), Path2: j("hard")},
			Op{Kind: OpSymlink, Path: j("sym"), Target: "-> 'odd' $(target)\n"},
			Op{Kind: OpReadlink, Path: j("sym")},
			Op{Kind: OpUtimens, Path: j("b"), Mtime: Time{Set: true, Ns: when}},
			Op{Kind: OpTruncate, Path: j("b"), Size: 10},
			Op{Kind: OpChmod, Path: j("b"), Mode: 0o4755},
			Op{Kind: OpStatfs, Path: d},
		)
		wantErrno(t, res[0], "EEXIST")
		if res[1].Err != nil {
			t.Fatalf("noreplace rename: %v", res[1].Err)
		}
		if _, err := os.Stat(j("a")); !os.IsNotExist(err) {
			t.Fatal("noreplace rename left the source")
		}
		if res[2].Err != nil || res[2].Attr.Size != 1 {
			t.Fatalf("rename over: %+v %v", res[2].Attr, res[2].Err)
		}
		wantErrno(t, res[3], "EISDIR")
		wantErrno(t, res[4], "ENOTEMPTY")
		wantErrno(t, res[5], "EINVAL")
		if res[6].Err != nil || res[6].Attr.Nlink != 2 {
			t.Fatalf("link: %+v %v", res[6].Attr, res[6].Err)
		}
		if res[8].Err != nil || res[8].Target != "-> 'odd' $(target)\n" {
			t.Fatalf("readlink: %q %v", res[8].Target, res[8].Err)
		}
		if res[9].Err != nil || res[9].Attr.MtimeNs != when {
			t.Fatalf("utimens: %+v %v", res[9].Attr, res[9].Err)
		}
		if res[10].Err != nil || res[10].Attr.Size != 10 {
			t.Fatalf("truncate: %v", res[10].Err)
		}
		if res[11].Err != nil || res[11].Attr.Perm != 0o4755 {
			t.Fatalf("chmod: %+v %v", res[11].Attr, res[11].Err)
		}
		if s := res[12].Statfs; res[12].Err != nil || s.Blocks == 0 || s.NameLen == 0 {
			t.Fatalf("statfs: %+v %v", s, res[12].Err)
		}
	})
}

// awkward is every kind of byte a name can hold.
var awkward = []string{"with space", "q'uote", `d"q`, "new\nline", "$(touch pwned)", "`touch pwned`", `back\slash`,
	"-dash", "--", "*", "\\c stop", "%s%b", "\xff\xfeinvalid", "tab\t", "ü", strings.Repeat("L", 255), "trailing\n\n"}

func TestAwkwardNames(t *testing.T) {
	eachShell(t, func(t *testing.T, sh []string) {
		d := t.TempDir()
		var ops []Op
		for _, n := range awkward {
			ops = append(ops, Op{Kind: OpCreate, Path: filepath.Join(d, n), Mode: 0o644, Exclusive: true})
		}
		for i, r := range runOps(t, sh, ops...) {
			if r.Err != nil {
				t.Fatalf("create %q: %v", awkward[i], r.Err)
			}
		}
		if _, err := os.Stat(filepath.Join(d, "pwned")); err == nil {
			t.Fatal("a name ran as shell syntax")
		}
		list := runOps(t, sh, Op{Kind: OpList, Path: d})[0]
		got := map[string]bool{}
		for _, e := range list.Entries {
			got[e.Name] = true
		}
		for _, n := range awkward {
			if !got[n] {
				t.Fatalf("list lacks %q; got %d entries", n, len(list.Entries))
			}
		}
		if len(list.Entries) != len(awkward) {
			t.Fatalf("list has %d entries, want %d", len(list.Entries), len(awkward))
		}
		var renames []Op
		for _, n := range awkward[:len(awkward)-2] {
			renames = append(renames, Op{Kind: OpRename, Path: filepath.Join(d, n), Path2: filepath.Join(d, n+".2")})
		}
		for i, r := range runOps(t, sh, renames...) {
			if r.Err != nil {
				t.Fatalf("rename %q: %v", awkward[i], r.Err)
			}
		}
	})
}

func TestTreeLimitAndOrder(t *testing.T) {
	d := t.TempDir()
	for _, p := range []string{"a/b/c", "a/d", "e"} {
		os.MkdirAll(filepath.Join(d, p), 0o755)
	}
	os.WriteFile(filepath.Join(d, "a/b/c/f"), nil, 0o644)
	full := runOps(t, shells[0], Op{Kind: OpTree, Path: d, Depth: 10, Limit: 100})[0]
	if full.Truncated || len(full.Entries) != 6 {
		t.Fatalf("tree: %d entries, truncated %v", len(full.Entries), full.Truncated)
	}
	// Depth-first pre-order: every entry's parent comes before it.
	seen := map[string]bool{"": true}
	for _, e := range full.Entries {
		parent := filepath.Dir(e.Name)
		if parent == "." {
			parent = ""
		}
		if !seen[parent] {
			t.Fatalf("%q listed before its parent", e.Name)
		}
		seen[e.Name] = true
	}
	cut := runOps(t, shells[0], Op{Kind: OpTree, Path: d, Depth: 10, Limit: 3})[0]
	if !cut.Truncated || len(cut.Entries) != 3 {
		t.Fatalf("limited tree: %d entries, truncated %v", len(cut.Entries), cut.Truncated)
	}
	shallow := runOps(t, shells[0], Op{Kind: OpTree, Path: d, Depth: 1, Limit: 100})[0]
	if len(shallow.Entries) != 2 {
		t.Fatalf("depth 1: %d entries", len(shallow.Entries))
	}
}

func TestList1000(t *testing.T) {
	d := t.TempDir()
	for i := 0; i < 1000; i++ {
		os.WriteFile(filepath.Join(d, fmt.Sprintf("f%s%d", strings.Repeat("x", i%50), i)), nil, 0o644)
	}
	start := time.Now()
	r := runOps(t, shells[0], Op{Kind: OpList, Path: d})[0]
	if len(r.Entries) != 1000 {
		t.Fatalf("%d entries", len(r.Entries))
	}
	t.Logf("listing 1,000 entries locally took %v", time.Since(start))
}
