//go:build linux

package agent

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/transport/helper"
)

// The mutation parity tests build two identical trees, run one sequence
// of operations through the helper script over the first and through
// Exec over the second, and require the same answers, op by op, and the
// same trees afterwards.
//
// Compared exactly: errnos; the script's own messages (those without a
// colon; a tool's message, "mv: cannot move …: Directory not empty", is
// compared by its errno only, and the agent must say something);
// symlink targets; and every attribute (Dev too: both trees are on one
// file system) but these: the ctime (always the time of the change); the
// inode number, compared by identity instead (see inodes); the atime of
// a symlink unless utimens set it (the script's test -e follows the
// symlink, which moves it); and atime and mtime when both sides are
// "now" (within the test's run): a time that is anything else (the
// fixture's, or one utimens set) must be the same on both. Every fixture
// file starts with its own times far in the past, so a time that one
// side changed and the other did not shows. The trees afterwards: every
// path's type, mode, nlink, owner, size, device number, content
// (SHA-256), symlink target, user xattrs, inode identity (the path that
// had the inode before, else the first that has it after), and times by
// the same rules (walking the trees reads their directories and
// symlinks, so those atimes are "now" on both sides by then).

// mutSpec is the fixture of the mutation tests (see build); tmpN are
// uploaded files for install.
var mutSpec = [][2]string{
	{"f", "hello"}, {"g", "world"}, {"exec", "#!/bin/sh\n"}, {"setuid", "s"},
	{"dir/a", "aaa"}, {"dir/sub/b", "b"}, {"empty/", ""}, {"empty2/", ""}, {"full/x", "x"},
	{"ln", "->f"}, {"dangling", "->nowhere"}, {"lndir", "->dir"}, {"loop", "->loop"}, {"xf2", "->xf"},
	{"fifo", "|"}, {"sock", "="}, {"hl1", "shared"}, {"xf", "x"}, {"xg", "g"},
	{"sgid/", ""}, {"sticky/", ""}, {"tmpdir/", ""},
	{"sp ace", "s"}, {"new\nline", "n"}, {"bad\xff\xfe", "b"}, {"bad\x80dir/in", "i"},
}

// pastTimes gives every file below d (and d) its own atime and mtime in
// 2001–2004, in walk order, so both trees start with the same times.
func pastTimes(t *testing.T, d string) {
	t.Helper()
	for i, rel := range walkPaths(t, d) {
		ts := []unix.Timespec{{Sec: 1_000_000_000 + int64(i)*1000, Nsec: 111}, {Sec: 1_050_000_000 + int64(i)*1000, Nsec: 222}}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(d, rel), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

// makeMutFixture builds the fixture in d; xattrs reports whether the file
// system keeps user xattrs (then xf has three).
func makeMutFixture(t *testing.T, d string) (xattrs bool) {
	t.Helper()
	spec := append([][2]string{}, mutSpec...)
	for i := 1; i <= 20; i++ {
		spec = append(spec, [2]string{fmt.Sprintf("tmp%d", i), fmt.Sprintf("new content %d", i)})
	}
	build(t, d, spec)
	j := func(n string) string { return filepath.Join(d, n) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(unix.Chmod(j("exec"), 0o755))
	must(unix.Chmod(j("setuid"), 0o4755))
	must(unix.Chmod(j("sgid"), 0o2775))
	must(unix.Chmod(j("sticky"), 0o1777))
	must(os.Link(j("hl1"), j("hl2")))
	must(os.Symlink("f", j("hls1")))
	must(os.Link(j("hls1"), j("hls2"))) // two links of one symlink
	must(os.Symlink("hl1", j("tohl1")))
	must(os.Symlink("hl2", j("tohl2")))
	if os.Geteuid() == 0 {
		must(unix.Mknod(j("chr"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))))
	}
	xattrs = true
	for _, x := range [][2]string{{"user.a", "1"}, {"user.b", "\x00\xff"}, {"user.c", ""}} {
		if err := unix.Lsetxattr(j("xf"), x[0], []byte(x[1]), 0); err != nil {
			xattrs = false
		}
	}
	return xattrs
}

// walkPaths lists d and everything below it (symlinks not followed),
// relative to d, "." first, sorted by bytes within each directory.
func walkPaths(t *testing.T, d string) []string {
	t.Helper()
	out := []string{"."}
	var walk func(rel string)
	walk = func(rel string) {
		es, err := os.ReadDir(filepath.Join(d, rel))
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, len(es))
		for i, e := range es {
			names[i] = e.Name()
		}
		sort.Strings(names)
		for _, n := range names {
			r := n
			if rel != "." {
				r = rel + "/" + n
			}
			out = append(out, r)
			var st unix.Stat_t
			if unix.Lstat(filepath.Join(d, r), &st) == nil && isDirMode(st.Mode) {
				walk(r)
			}
		}
	}
	walk(".")
	return out
}

// node is one file of a tree as the comparison sees it.
type node struct {
	Type             helper.FileType
	Perm, Nlink      uint32
	UID, GID         uint32
	Size             int64
	Rdev             uint64
	Content          string // SHA-256 of a regular file's content
	Target           string
	Xattrs           string
	Ino              string // inode identity (see inodes)
	AtimeNs, MtimeNs int64
	ino              uint64
}

// snapshot is a tree's files by relative path.
func snapshot(t *testing.T, d string) map[string]*node {
	t.Helper()
	out := map[string]*node{}
	for _, rel := range walkPaths(t, d) {
		p := filepath.Join(d, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		a := attrOf(&st)
		n := &node{Type: a.Type, Perm: a.Perm, Nlink: a.Nlink, UID: a.UID, GID: a.GID, Size: a.Size,
			AtimeNs: a.AtimeNs, MtimeNs: a.MtimeNs, ino: st.Ino}
		switch a.Type {
		case helper.TypeRegular:
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			n.Content = fmt.Sprintf("%x", sha256.Sum256(b))
		case helper.TypeSymlink:
			n.Target = readlinkAt(unix.AT_FDCWD, p)
		case helper.TypeChar, helper.TypeBlock:
			n.Rdev = uint64(st.Rdev)
		}
		if r := execListxattr(p); r.Err == nil {
			var xs []string
			for _, name := range r.Names {
				if strings.HasPrefix(name, "user.") {
					v := execGetxattr(p, name)
					xs = append(xs, fmt.Sprintf("%s=%q", name, v.Value))
				}
			}
			sort.Strings(xs)
			n.Xattrs = strings.Join(xs, ",")
		}
		out[rel] = n
	}
	return out
}

// inodes names inodes by identity: the path that had the inode before
// the ops, else the first (in walk order) that has it after them. An
// inode is its number and its birth time, so that a number freed and
// reused by a new file is another inode; an inode that is in neither
// tree is "gone".
type inodes struct {
	before map[inodeID]string
	after  map[uint64]string // by number: the first path after the ops
	birth  map[uint64]inodeID
}

type inodeID struct {
	ino   uint64
	birth unix.StatxTimestamp
}

// treeInode is p's inode identity (birth time zero where the file system
// keeps none).
func treeInode(t *testing.T, p string) inodeID {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO|unix.STATX_BTIME, &stx); err != nil {
		t.Fatal(err)
	}
	id := inodeID{ino: stx.Ino}
	if stx.Mask&unix.STATX_BTIME != 0 {
		id.birth = stx.Btime
	}
	return id
}

func newInodes(t *testing.T, d string) *inodes {
	in := &inodes{before: map[inodeID]string{}, after: map[uint64]string{}, birth: map[uint64]inodeID{}}
	for _, rel := range walkPaths(t, d) {
		id := treeInode(t, filepath.Join(d, rel))
		if _, seen := in.before[id]; !seen {
			in.before[id] = rel
		}
	}
	return in
}

func (in *inodes) noteAfter(t *testing.T, d string) {
	for _, rel := range walkPaths(t, d) {
		id := treeInode(t, filepath.Join(d, rel))
		if _, seen := in.after[id.ino]; !seen {
			in.after[id.ino] = rel
			in.birth[id.ino] = id
		}
	}
}

// answered names an inode an answer gave: by the path that had it before
// the ops if it is still there after them, else "other". (An inode
// freed meanwhile may have given its number to a new one: answers carry
// no birth time to tell them apart, the trees do.)
func (in *inodes) answered(ino uint64) string {
	if id, ok := in.birth[ino]; ok {
		if p, ok := in.before[id]; ok {
			return "before:" + p
		}
	}
	return "other"
}

func (in *inodes) name(ino uint64) string {
	id, ok := in.birth[ino]
	if !ok {
		return "gone"
	}
	if p, ok := in.before[id]; ok {
		return "before:" + p
	}
	return "after:" + in.after[ino]
}

// window is the time of a test's run: a time in it is "now".
type window struct{ from, to int64 }

func (w window) now(ns int64) bool { return ns >= w.from && ns <= w.to }

// sameTime compares two times by the rules above.
func (w window) sameTime(a, b int64) bool { return a == b || w.now(a) && w.now(b) }

// mutSide is one tree and what is known about it.
type mutSide struct {
	dir    string
	inodes *inodes
}

// comparableAttr is a with its inode named and its ctime dropped.
func comparableAttr(a helper.Attr, in *inodes) (helper.Attr, string) {
	name := in.answered(a.Ino)
	a.Ino, a.CtimeNs = 0, 0
	return a, name
}

// compareMut compares the answers of the two sides op by op.
func compareMut(t *testing.T, w window, ops []helper.Op, s, n mutSide, script, native []helper.Result) {
	t.Helper()
	for i, op := range ops {
		a, b := script[i], native[i]
		what := fmt.Sprintf("op %d %s %q", i, op.Kind, strings.TrimPrefix(op.Path, s.dir))
		if (a.Err == nil) != (b.Err == nil) {
			t.Errorf("%s:\nscript %s\nnative %s", what, describe(a), describe(b))
			continue
		}
		if a.Err != nil {
			if a.Err.Errno != b.Err.Errno || !strings.Contains(a.Err.Message, ":") && a.Err.Message != b.Err.Message || b.Err.Message == "" {
				t.Errorf("%s: script %s %q, native %s %q", what, a.Err.Errno, a.Err.Message, b.Err.Errno, b.Err.Message)
			}
			continue
		}
		if (a.Attr == nil) != (b.Attr == nil) || a.Target != b.Target || !reflect.DeepEqual(a.Value, b.Value) ||
			!reflect.DeepEqual(a.Names, b.Names) || a.Entries != nil || b.Entries != nil {
			t.Errorf("%s:\nscript %s\nnative %s", what, describe(a), describe(b))
			continue
		}
		if a.Attr == nil {
			continue
		}
		x, xi := comparableAttr(*a.Attr, s.inodes)
		y, yi := comparableAttr(*b.Attr, n.inodes)
		if x.Type == helper.TypeSymlink && (op.Kind != helper.OpUtimens || !op.Atime.Set || op.Atime.Now) {
			// The script's test -e follows a symlink, which moves its
			// atime before the answer is read.
			x.AtimeNs, y.AtimeNs = 0, 0
		}
		if !w.sameTime(x.AtimeNs, y.AtimeNs) || !w.sameTime(x.MtimeNs, y.MtimeNs) {
			t.Errorf("%s: times differ: script a %d m %d, native a %d m %d", what, x.AtimeNs, x.MtimeNs, y.AtimeNs, y.MtimeNs)
		}
		x.AtimeNs, x.MtimeNs, y.AtimeNs, y.MtimeNs = 0, 0, 0, 0
		if x != y || xi != yi {
			t.Errorf("%s:\nscript %+v inode %s\nnative %+v inode %s", what, x, xi, y, yi)
		}
	}
}

// compareTrees compares the two trees after the ops.
func compareTrees(t *testing.T, w window, s, n mutSide, sa, na map[string]*node) {
	t.Helper()
	keys := map[string]bool{}
	for k := range sa {
		keys[k] = true
	}
	for k := range na {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		x, y := sa[k], na[k]
		if x == nil || y == nil {
			t.Errorf("tree: %q only in the %s tree", k, map[bool]string{true: "script's", false: "native"}[y == nil])
			continue
		}
		a, b := *x, *y
		a.Ino, b.Ino = s.inodes.name(a.ino), n.inodes.name(b.ino)
		a.ino, b.ino = 0, 0
		if a.Type == helper.TypeSymlink {
			a.AtimeNs, b.AtimeNs = 0, 0 // the script follows symlinks
		}
		if !w.sameTime(a.AtimeNs, b.AtimeNs) || !w.sameTime(a.MtimeNs, b.MtimeNs) {
			t.Errorf("tree %q: times differ: script a %d m %d, native a %d m %d", k, a.AtimeNs, a.MtimeNs, b.AtimeNs, b.MtimeNs)
		}
		a.AtimeNs, a.MtimeNs, b.AtimeNs, b.MtimeNs = 0, 0, 0, 0
		if a != b {
			t.Errorf("tree %q:\nscript %+v\nnative %+v", k, a, b)
		}
	}
}

// mutScenario is a sequence of ops over the fixture, j naming its files.
type mutScenario struct {
	name string
	ops  func(j func(string) string) []helper.Op
}

// runMutParity runs each scenario over two fresh fixtures, the script
// over one (behind wrap) and Exec over the other (in this process, or
// in a copy of the test binary behind wrap), and compares.
func runMutParity(t *testing.T, scenarios []mutScenario, wrap []string, prepare func(t *testing.T, d string)) (seen map[string]bool) {
	return runMutParityIn(t, openDir755, scenarios, wrap, prepare)
}

// runMutParityIn is runMutParity with the trees in directories newDir
// makes.
func runMutParityIn(t *testing.T, newDir func(t *testing.T) string, scenarios []mutScenario, wrap []string, prepare func(t *testing.T, d string)) (seen map[string]bool) {
	t.Helper()
	setUmask() // the fixtures' modes must not depend on when Exec first ran
	var bin string
	if wrap != nil {
		bin = filepath.Join(openDir755(t), "agent.test")
		copyFile(t, os.Args[0], bin)
	}
	seen = map[string]bool{}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var sides [2]mutSide
			for i := range sides {
				d := newDir(t)
				makeMutFixture(t, d)
				if prepare != nil {
					prepare(t, d)
				}
				sides[i].dir = d
				sides[i].inodes = newInodes(t, d)
				pastTimes(t, d) // last: reading a directory moves its atime
			}
			opsFor := func(d string) []helper.Op {
				return sc.ops(func(n string) string {
					if n == "" {
						return d
					}
					return d + "/" + n
				})
			}
			w := window{from: time.Now().Add(-2 * time.Second).UnixNano()}
			sOps, nOps := opsFor(sides[0].dir), opsFor(sides[1].dir)
			script := runScript(t, wrap, sOps)
			var native []helper.Result
			if wrap != nil {
				native = execAs(t, wrap, bin, nOps)
			} else {
				native = execBounded(t, nOps)
				for i := range native {
					native[i] = overWire(t, native[i])
				}
			}
			for i := range script {
				script[i] = overWire(t, script[i])
			}
			w.to = time.Now().Add(2 * time.Second).UnixNano()
			sa, na := snapshot(t, sides[0].dir), snapshot(t, sides[1].dir)
			sides[0].inodes.noteAfter(t, sides[0].dir)
			sides[1].inodes.noteAfter(t, sides[1].dir)
			compareMut(t, w, sOps, sides[0], sides[1], script, native)
			compareTrees(t, w, sides[0], sides[1], sa, na)
			for _, r := range native {
				if r.Err != nil {
					seen[r.Err.Errno] = true
				}
			}
		})
	}
	return seen
}

// execBounded runs ops through Exec in this process, failing the test if
// they take more than a minute.
func execBounded(t *testing.T, ops []helper.Op) []helper.Result {
	t.Helper()
	out := make([]helper.Result, len(ops))
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i, op := range ops {
			out[i] = Exec(op)
		}
	}()
	select {
	case <-finished:
	case <-time.After(time.Minute):
		t.Fatal("Exec took more than a minute")
	}
	return out
}

func tm(ns int64) helper.Time { return helper.Time{Set: true, Ns: ns} }

var tmNow = helper.Time{Set: true, Now: true}

// mutScenarios cover every mutating kind, succeeding and failing.
func mutScenarios(xattrs bool) []mutScenario { return portable(allMutScenarios(xattrs), xattrs) }

// portable leaves out of sc what the script cannot do here: xattr ops
// and install's KeepXattrs without xattrs (the file system's, or perl
// with syscall.ph), sockets without perl's Socket module.
func portable(sc []mutScenario, xattrs bool) []mutScenario {
	sockets := exec.Command("perl", "-MSocket", "-e", "1").Run() == nil
	for i := range sc {
		ops := sc[i].ops
		sc[i].ops = func(j func(string) string) []helper.Op {
			var out []helper.Op
			for _, op := range ops(j) {
				switch {
				case op.Kind == helper.OpMknod && op.Type == helper.TypeSocket && !sockets:
					continue
				case !xattrs && (op.Kind == helper.OpSetxattr || op.Kind == helper.OpRemovexattr ||
					op.Kind == helper.OpGetxattr || op.Kind == helper.OpListxattr):
					continue
				}
				op.KeepXattrs = op.KeepXattrs && xattrs
				out = append(out, op)
			}
			return out
		}
	}
	return sc
}

func allMutScenarios(xattrs bool) []mutScenario {
	long := strings.Repeat("n", 256)
	sc := []mutScenario{
		{"mkdir", func(j func(string) string) []helper.Op {
			return []helper.Op{
				{Kind: helper.OpMkdir, Path: j("new"), Mode: 0o755},
				{Kind: helper.OpMkdir, Path: j("new"), Mode: 0o700},
				{Kind: helper.OpMkdir, Path: j("missing/x"), Mode: 0o755},
				{Kind: helper.OpMkdir, Path: j("f/x"), Mode: 0o755},
				{Kind: helper.OpMkdir, Path: j("ln"), Mode: 0o755},
				{Kind: helper.OpMkdir, Path: j("dangling"), Mode: 0o755},
				{Kind: helper.OpMkdir, Path: j("loop/x"), Mode: 0o755},
				{Kind: helper.OpMkdir, Path: j(long), Mode: 0o755},
				{Kind: helper.OpMkdir, Path: j("sticky1"), Mode: 0o1777},
				{Kind: helper.OpMkdir, Path: j("sgid1"), Mode: 0o2750},
				{Kind: helper.OpMkdir, Path: j("suid1"), Mode: 0o4700},
				{Kind: helper.OpMkdir, Path: j("sgid/in"), Mode: 0o755},
				{Kind: helper.OpMkdir, Path: j("sgid/in2"), Mode: 0o2755},
				{Kind: helper.OpMkdir, Path: j("zero"), Mode: 0},
				{Kind: helper.OpMkdir, Path: j("open"), Mode: 0o777},
				{Kind: helper.OpMkdir, Path: j("lndir/via"), Mode: 0o711},
				{Kind: helper.OpMkdir, Path: j("sp ace dir"), Mode: 0o750},
				{Kind: helper.OpMkdir, Path: j("bad\xff\nname"), Mode: 0o700},
				{Kind: helper.OpMkdir, Path: j("zero/inside"), Mode: 0o755}, // root may
			}
		}},
		{"create", func(j func(string) string) []helper.Op {
			return []helper.Op{
				{Kind: helper.OpCreate, Path: j("c1"), Mode: 0o644, Exclusive: true},
				{Kind: helper.OpCreate, Path: j("c1"), Mode: 0o600, Exclusive: true},
				{Kind: helper.OpCreate, Path: j("f"), Mode: 0o600},
				{Kind: helper.OpCreate, Path: j("dir"), Mode: 0o600},
				{Kind: helper.OpCreate, Path: j("dir"), Mode: 0o600, Exclusive: true},
				{Kind: helper.OpCreate, Path: j("ln"), Mode: 0o600},
				{Kind: helper.OpCreate, Path: j("lndir"), Mode: 0o600},
				{Kind: helper.OpCreate, Path: j("dangling"), Mode: 0o600, Exclusive: true},
				{Kind: helper.OpCreate, Path: j("dangling"), Mode: 0o600},
				{Kind: helper.OpCreate, Path: j("fifo"), Mode: 0o600},
				{Kind: helper.OpCreate, Path: j("missing/x"), Mode: 0o600},
				{Kind: helper.OpCreate, Path: j("f/x"), Mode: 0o600},
				{Kind: helper.OpCreate, Path: j("loop/x"), Mode: 0o600},
				{Kind: helper.OpCreate, Path: j(long), Mode: 0o600},
				{Kind: helper.OpCreate, Path: j("c2"), Mode: 0o4755, Exclusive: true},
				{Kind: helper.OpCreate, Path: j("sgid/c3"), Mode: 0o2644},
				{Kind: helper.OpCreate, Path: j("sgid/c4"), Mode: 0o644},
				{Kind: helper.OpCreate, Path: j("c5"), Mode: 0},
				{Kind: helper.OpCreate, Path: j("c6"), Mode: 0o7777},
				{Kind: helper.OpCreate, Path: j("new\nline2"), Mode: 0o640},
				{Kind: helper.OpCreate, Path: j("bad\x80dir/c\xff"), Mode: 0o640, Exclusive: true},
				{Kind: helper.OpCreate, Path: j("lndir/via"), Mode: 0o644},
			}
		}},
		{"rmdir and unlink", func(j func(string) string) []helper.Op {
			return []helper.Op{
				{Kind: helper.OpRmdir, Path: j("empty")},
				{Kind: helper.OpRmdir, Path: j("empty")},
				{Kind: helper.OpRmdir, Path: j("full")},
				{Kind: helper.OpRmdir, Path: j("f")},
				{Kind: helper.OpRmdir, Path: j("lndir")},
				{Kind: helper.OpRmdir, Path: j("f/x")},
				{Kind: helper.OpRmdir, Path: j("loop/x")},
				{Kind: helper.OpRmdir, Path: j(long)},
				{Kind: helper.OpUnlink, Path: j("f/x")},
				{Kind: helper.OpUnlink, Path: j("dir")},
				{Kind: helper.OpUnlink, Path: j("f")},
				{Kind: helper.OpUnlink, Path: j("f")},
				{Kind: helper.OpUnlink, Path: j("ln")},
				{Kind: helper.OpUnlink, Path: j("lndir")},
				{Kind: helper.OpUnlink, Path: j("dangling")},
				{Kind: helper.OpUnlink, Path: j("fifo")},
				{Kind: helper.OpUnlink, Path: j("sock")},
				{Kind: helper.OpUnlink, Path: j("hl1")},
				{Kind: helper.OpUnlink, Path: j("bad\xff\xfe")},
				{Kind: helper.OpUnlink, Path: j("new\nline")},
				{Kind: helper.OpUnlink, Path: j("loop/x")},
				{Kind: helper.OpUnlink, Path: j("full")},
				{Kind: helper.OpRmdir, Path: j("dir/sub")},
				{Kind: helper.OpUnlink, Path: j("dir/sub/b")},
				{Kind: helper.OpRmdir, Path: j("dir/sub")},
			}
		}},
		{"rename", func(j func(string) string) []helper.Op {
			return []helper.Op{
				{Kind: helper.OpRename, Path: j("dir/sub"), Path2: j("lndir/sub")}, // one directory by two paths
				{Kind: helper.OpRename, Path: j("dir/a"), Path2: j("lndir/a")},     // one file by two paths
				{Kind: helper.OpRename, Path: j("dir/sub"), Path2: j("lndir/sub"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("g"), Path2: j("g2")},
				{Kind: helper.OpRename, Path: j("g2"), Path2: j("f"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("exec"), Path2: j("f")},
				{Kind: helper.OpRename, Path: j("dir"), Path2: j("full")},
				{Kind: helper.OpRename, Path: j("f"), Path2: j("empty2")},
				{Kind: helper.OpRename, Path: j("full"), Path2: j("g2")},
				{Kind: helper.OpRename, Path: j("full"), Path2: j("ln")},
				{Kind: helper.OpRename, Path: j("full"), Path2: j("full/x2")},
				{Kind: helper.OpRename, Path: j("full"), Path2: j("full/y"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("dir"), Path2: j("lndir/sub/x")}, // into itself through a symlink
				{Kind: helper.OpRename, Path: j("dir"), Path2: j("empty")},
				{Kind: helper.OpRename, Path: j("missing"), Path2: j("x")},
				{Kind: helper.OpRename, Path: j("hl1"), Path2: j("hl2")},
				{Kind: helper.OpRename, Path: j("hl1"), Path2: j("hl2"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("g2"), Path2: j("g2")},
				{Kind: helper.OpRename, Path: j("g2"), Path2: j("g2"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("g2"), Path2: j("g3"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("empty"), Path2: j("moved"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("g3"), Path2: j("dangling"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("g3"), Path2: j("dangling")},
				{Kind: helper.OpRename, Path: j("ln"), Path2: j("ln2")},
				{Kind: helper.OpRename, Path: j("ln2"), Path2: j("missing/x")},
				{Kind: helper.OpRename, Path: j("ln2"), Path2: j("setuid/x")},
				{Kind: helper.OpRename, Path: j("ln2"), Path2: j("missing/x"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("fifo"), Path2: j("sock")},
				{Kind: helper.OpRename, Path: j("new\nline"), Path2: j("bad\x80dir/new\xffname")},
				{Kind: helper.OpRename, Path: j("sp ace"), Path2: j("sp ace 2"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("empty2"), Path2: j("moved")},
				{Kind: helper.OpRename, Path: j("moved"), Path2: j("sgid/moved"), NoReplace: true},
				{Kind: helper.OpRename, Path: j("sgid"), Path2: j("tmpdir")},
				{Kind: helper.OpRename, Path: j("tmp1"), Path2: j(long)},
				{Kind: helper.OpRename, Path: j("loop"), Path2: j("loop2")},
				{Kind: helper.OpRename, Path: j("hls1"), Path2: j("hls2")},     // links of one symlink: mv refuses
				{Kind: helper.OpRename, Path: j("tohl1"), Path2: j("hl1")},     // a symlink onto its file: mv refuses
				{Kind: helper.OpRename, Path: j("tohl2"), Path2: j("hl1")},     // onto another link of its file: done
				{Kind: helper.OpRename, Path: j("hls1"), Path2: j("dangling")}, // two symlinks
				{Kind: helper.OpRename, Path: j("f"), Path2: j("hls2")},        // a file onto a symlink to it
			}
		}},
		{"chmod", func(j func(string) string) []helper.Op {
			return []helper.Op{
				{Kind: helper.OpChmod, Path: j("f"), Mode: 0o4755},
				{Kind: helper.OpChmod, Path: j("g"), Mode: 0o2711},
				{Kind: helper.OpChmod, Path: j("exec"), Mode: 0o7777},
				{Kind: helper.OpChmod, Path: j("setuid"), Mode: 0o644},
				{Kind: helper.OpChmod, Path: j("dir"), Mode: 0o1777},
				{Kind: helper.OpChmod, Path: j("sgid"), Mode: 0o755},
				{Kind: helper.OpChmod, Path: j("empty"), Mode: 0o2755},
				{Kind: helper.OpChmod, Path: j("ln"), Mode: 0o600},
				{Kind: helper.OpChmod, Path: j("dangling"), Mode: 0o600},
				{Kind: helper.OpChmod, Path: j("missing"), Mode: 0o600},
				{Kind: helper.OpChmod, Path: j("f/x"), Mode: 0o600},
				{Kind: helper.OpChmod, Path: j("loop/x"), Mode: 0o600},
				{Kind: helper.OpChmod, Path: j("fifo"), Mode: 0o600},
				{Kind: helper.OpChmod, Path: j("sock"), Mode: 0o700},
				{Kind: helper.OpChmod, Path: j("lndir/a"), Mode: 0o600},
				{Kind: helper.OpChmod, Path: j("hl1"), Mode: 0},
				{Kind: helper.OpChmod, Path: j("bad\xff\xfe"), Mode: 0o640},
			}
		}},
		{"utimens", func(j func(string) string) []helper.Op {
			return []helper.Op{
				{Kind: helper.OpUtimens, Path: j("f"), Atime: tm(1_500_000_000), Mtime: tm(2_000_000_001)},
				{Kind: helper.OpUtimens, Path: j("g"), Atime: tm(-2_500_000_000), Mtime: tm(-2_500_000_000)},
				{Kind: helper.OpUtimens, Path: j("exec"), Atime: tmNow},
				{Kind: helper.OpUtimens, Path: j("setuid"), Mtime: tmNow},
				{Kind: helper.OpUtimens, Path: j("dir"), Atime: tmNow, Mtime: tmNow},
				{Kind: helper.OpUtimens, Path: j("ln"), Atime: tm(1_234_567_890_123_456_789), Mtime: tm(1_234_567_890_987_654_321)},
				{Kind: helper.OpUtimens, Path: j("dangling"), Atime: tm(5), Mtime: tm(5)},
				{Kind: helper.OpUtimens, Path: j("lndir"), Mtime: tm(-1)},
				{Kind: helper.OpUtimens, Path: j("missing"), Atime: tmNow},
				{Kind: helper.OpUtimens, Path: j("f/x"), Atime: tmNow},
				{Kind: helper.OpUtimens, Path: j("loop/x"), Atime: tm(1)},
				{Kind: helper.OpUtimens, Path: j("hl1")},
				{Kind: helper.OpUtimens, Path: j("hl2"), Atime: tm(0), Mtime: tm(0)},
				{Kind: helper.OpUtimens, Path: j("fifo"), Atime: tm(-86400 * 365 * 50 * 1e9), Mtime: tmNow},
				{Kind: helper.OpUtimens, Path: j("empty"), Atime: tmNow, Mtime: tm(999_999_999)},
				{Kind: helper.OpUtimens, Path: j("new\nline"), Atime: tm(7_000_000_007), Mtime: tm(-7_000_000_007)},
			}
		}},
		{"truncate", func(j func(string) string) []helper.Op {
			return []helper.Op{
				{Kind: helper.OpTruncate, Path: j("f"), Size: 100_000},
				{Kind: helper.OpTruncate, Path: j("g"), Size: 2},
				{Kind: helper.OpTruncate, Path: j("exec"), Size: 0},
				{Kind: helper.OpTruncate, Path: j("setuid"), Size: 1},
				{Kind: helper.OpTruncate, Path: j("dir"), Size: 0},
				{Kind: helper.OpTruncate, Path: j("lndir"), Size: 0},
				{Kind: helper.OpTruncate, Path: j("ln"), Size: 3},
				{Kind: helper.OpTruncate, Path: j("dangling"), Size: 0},
				{Kind: helper.OpTruncate, Path: j("loop"), Size: 0},
				{Kind: helper.OpTruncate, Path: j("fifo"), Size: 0},
				{Kind: helper.OpTruncate, Path: j("sock"), Size: 0},
				{Kind: helper.OpTruncate, Path: j("missing"), Size: 0},
				{Kind: helper.OpTruncate, Path: j("f/x"), Size: 0},
				{Kind: helper.OpTruncate, Path: j("hl1"), Size: 1 << 62},
				{Kind: helper.OpTruncate, Path: j("hl2"), Size: 6},
				{Kind: helper.OpTruncate, Path: j("sp ace"), Size: 1 << 20},
			}
		}},
		{"symlink and link", func(j func(string) string) []helper.Op {
			return []helper.Op{
				{Kind: helper.OpSymlink, Path: j("s1"), Target: "f"},
				{Kind: helper.OpSymlink, Path: j("s2"), Target: "tar\nget\xff 'q' \\ %s \\0101 -x"},
				{Kind: helper.OpSymlink, Path: j("s3"), Target: "/abs/nowhere"},
				{Kind: helper.OpSymlink, Path: j("s4"), Target: strings.Repeat("t/", 2000)},
				{Kind: helper.OpSymlink, Path: j("s5"), Target: "-"},
				{Kind: helper.OpSymlink, Path: j("f"), Target: "x"},
				{Kind: helper.OpSymlink, Path: j("dir"), Target: "x"},
				{Kind: helper.OpSymlink, Path: j("dangling"), Target: "x"},
				{Kind: helper.OpSymlink, Path: j("missing/x"), Target: "x"},
				{Kind: helper.OpSymlink, Path: j("f/x"), Target: "x"},
				{Kind: helper.OpSymlink, Path: j(long), Target: "x"},
				{Kind: helper.OpSymlink, Path: j("new\nlink\xff"), Target: "new\nline"},
				{Kind: helper.OpLink, Path: j("f"), Path2: j("f2")},
				{Kind: helper.OpLink, Path: j("f"), Path2: j("f2")},
				{Kind: helper.OpLink, Path: j("f"), Path2: j("f")},
				{Kind: helper.OpLink, Path: j("dir"), Path2: j("d2")},
				{Kind: helper.OpLink, Path: j("lndir"), Path2: j("lndir2")},
				{Kind: helper.OpLink, Path: j("f"), Path2: j("g")},
				{Kind: helper.OpLink, Path: j("f"), Path2: j("dir")},
				{Kind: helper.OpLink, Path: j("ln"), Path2: j("ln2")},
				{Kind: helper.OpLink, Path: j("dangling"), Path2: j("dangling2")},
				{Kind: helper.OpLink, Path: j("missing"), Path2: j("m2")},
				{Kind: helper.OpLink, Path: j("f"), Path2: j("missing/x")},
				{Kind: helper.OpLink, Path: j("f"), Path2: j("g/x")},
				{Kind: helper.OpLink, Path: j("fifo"), Path2: j("fifo2")},
				{Kind: helper.OpLink, Path: j("hl1"), Path2: j("hl3")},
				{Kind: helper.OpLink, Path: j("bad\xff\xfe"), Path2: j("sp ace 2")},
			}
		}},
		{"install", func(j func(string) string) []helper.Op {
			return []helper.Op{
				{Kind: helper.OpInstall, Path: j("fresh"), Path2: j("tmp1"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("exec"), Path2: j("tmp2"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("f"), Path2: j("tmp3"), Mode: 0o600},
				{Kind: helper.OpInstall, Path: j("setuid"), Path2: j("tmp4"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("xf"), Path2: j("tmp5"), KeepMode: true, KeepXattrs: true},
				{Kind: helper.OpInstall, Path: j("g"), Path2: j("tmp6"), Mode: 0o640, KeepXattrs: true},
				{Kind: helper.OpInstall, Path: j("dir"), Path2: j("tmp7"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("x"), Path2: j("nope"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("x"), Path2: j("missing/nope"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("x"), Path2: j("f/nope"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("x"), Path2: j("tmpdir"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("x"), Path2: j("ln"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("x"), Path2: j("fifo"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("hl1"), Path2: j("tmp8"), Mode: 0o600},
				{Kind: helper.OpInstall, Path: j("ln"), Path2: j("tmp9"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("new/deep/file"), Path2: j("tmp10"), Mode: 0o755},
				{Kind: helper.OpInstall, Path: j("exec/x"), Path2: j("tmp11"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("sgid/new/file"), Path2: j("tmp12"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("xf2"), Path2: j("tmp13"), KeepMode: true, KeepXattrs: true},
				{Kind: helper.OpInstall, Path: j("lndir"), Path2: j("tmp14"), KeepMode: true},
				{Kind: helper.OpInstall, Path: j("bad\x80dir/in"), Path2: j("tmp15"), Mode: 0o4711},
				{Kind: helper.OpInstall, Path: j("fifo"), Path2: j("tmp16"), KeepMode: true, KeepXattrs: true},
				{Kind: helper.OpInstall, Path: j("xg"), Path2: j("tmp17"), Mode: 0o644, KeepXattrs: true},
				{Kind: helper.OpInstall, Path: j("dangling"), Path2: j("tmp18"), Mode: 0o644},
				{Kind: helper.OpInstall, Path: j("loop/x"), Path2: j("tmp19"), Mode: 0o644},
				{Kind: helper.OpInstall, Path: j("new\nfile"), Path2: j("tmp20"), Mode: 0},
			}
		}},
		{"mknod", func(j func(string) string) []helper.Op {
			longSock := strings.Repeat("s", 150)
			return []helper.Op{
				{Kind: helper.OpMknod, Path: j("p1"), Type: helper.TypeFIFO, Mode: 0o640},
				{Kind: helper.OpMknod, Path: j("p2"), Type: helper.TypeFIFO, Mode: 0o4640},
				{Kind: helper.OpMknod, Path: j("p3"), Type: helper.TypeFIFO, Mode: 0},
				{Kind: helper.OpMknod, Path: j("s1"), Type: helper.TypeSocket, Mode: 0o755},
				{Kind: helper.OpMknod, Path: j("s2"), Type: helper.TypeSocket, Mode: 0o1777},
				{Kind: helper.OpMknod, Path: j(longSock), Type: helper.TypeSocket, Mode: 0o600},
				{Kind: helper.OpMknod, Path: j(strings.Repeat("q", 107)), Type: helper.TypeSocket, Mode: 0o600},
				{Kind: helper.OpMknod, Path: j("sgid/s3"), Type: helper.TypeSocket, Mode: 0o644},
				{Kind: helper.OpMknod, Path: j("f"), Type: helper.TypeSocket, Mode: 0o600},
				{Kind: helper.OpMknod, Path: j("f"), Type: helper.TypeFIFO, Mode: 0o600},
				{Kind: helper.OpMknod, Path: j("dangling"), Type: helper.TypeFIFO, Mode: 0o600},
				{Kind: helper.OpMknod, Path: j("missing/p"), Type: helper.TypeFIFO, Mode: 0o600},
				{Kind: helper.OpMknod, Path: j("missing/s"), Type: helper.TypeSocket, Mode: 0o600},
				{Kind: helper.OpMknod, Path: j("f/p"), Type: helper.TypeFIFO, Mode: 0o600},
				{Kind: helper.OpMknod, Path: j("f/s"), Type: helper.TypeSocket, Mode: 0o600},
				{Kind: helper.OpMknod, Path: j(long), Type: helper.TypeFIFO, Mode: 0o600},
				{Kind: helper.OpMknod, Path: j("null2"), Type: helper.TypeChar, Mode: 0o666, Major: 1, Minor: 3},
				{Kind: helper.OpMknod, Path: j("blk2"), Type: helper.TypeBlock, Mode: 0o2600, Major: 7, Minor: 200},
				{Kind: helper.OpMknod, Path: j("big"), Type: helper.TypeChar, Mode: 0o600, Major: 4095, Minor: 1<<20 - 1},
				{Kind: helper.OpMknod, Path: j("chr"), Type: helper.TypeChar, Mode: 0o600, Major: 1, Minor: 5},
				{Kind: helper.OpMknod, Path: j("new\np\xff"), Type: helper.TypeFIFO, Mode: 0o600},
			}
		}},
	}
	if xattrs {
		sc = append(sc, mutScenario{"xattrs", func(j func(string) string) []helper.Op {
			return []helper.Op{
				{Kind: helper.OpSetxattr, Path: j("f"), Name: "user.n", Value: "v"},
				{Kind: helper.OpSetxattr, Path: j("f"), Name: "user.n", Value: "w", XattrFlags: helper.XattrCreate},
				{Kind: helper.OpSetxattr, Path: j("f"), Name: "user.m", Value: "z", XattrFlags: helper.XattrReplace},
				{Kind: helper.OpSetxattr, Path: j("f"), Name: "user.n", Value: "", XattrFlags: helper.XattrReplace},
				{Kind: helper.OpSetxattr, Path: j("f"), Name: "user.bin", Value: "\x00\xff\n", XattrFlags: helper.XattrCreate},
				{Kind: helper.OpSetxattr, Path: j("dir"), Name: "user.d", Value: strings.Repeat("d", 2000)},
				{Kind: helper.OpSetxattr, Path: j("ln"), Name: "user.x", Value: "x"},
				{Kind: helper.OpSetxattr, Path: j("missing"), Name: "user.x", Value: "x"},
				{Kind: helper.OpSetxattr, Path: j("f/x"), Name: "user.x", Value: "x"},
				{Kind: helper.OpSetxattr, Path: j("f"), Name: "nonamespace", Value: "x"},
				{Kind: helper.OpSetxattr, Path: j("fifo"), Name: "user.x", Value: "x"},
				{Kind: helper.OpSetxattr, Path: j("sp ace"), Name: "user.sp ace\xff", Value: "x"},
				{Kind: helper.OpRemovexattr, Path: j("f"), Name: "user.gone"},
				{Kind: helper.OpRemovexattr, Path: j("xf"), Name: "user.a"},
				{Kind: helper.OpRemovexattr, Path: j("xf"), Name: "user.a"},
				{Kind: helper.OpRemovexattr, Path: j("missing"), Name: "user.a"},
				{Kind: helper.OpRemovexattr, Path: j("ln"), Name: "user.a"},
				{Kind: helper.OpGetxattr, Path: j("f"), Name: "user.n"},
				{Kind: helper.OpListxattr, Path: j("f")},
				{Kind: helper.OpListxattr, Path: j("xf")},
			}
		}})
	}
	return sc
}

func TestParityMutations(t *testing.T) {
	xattrs := makeMutFixture(t, t.TempDir()) && scriptHasXattrs(t, t.TempDir())
	seen := runMutParity(t, mutScenarios(xattrs), nil, nil)
	want := []string{"EEXIST", "ENOENT", "ENOTDIR", "EISDIR", "ENOTEMPTY", "EINVAL", "ELOOP", "ENAMETOOLONG", "EPERM", "ENOTSUP", "EFBIG"}
	if xattrs {
		want = append(want, "ENODATA")
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no op answered %s", w)
		}
	}
}

// TestParityMutationsTmpfs runs the scenarios on tmpfs, whose answers
// (sizes, xattrs, inode numbers) are not ext4's.
func TestParityMutationsTmpfs(t *testing.T) {
	var fs unix.Statfs_t
	if unix.Statfs("/dev/shm", &fs) != nil || uint32(fs.Type) != magicTmpfs || unix.Access("/dev/shm", unix.W_OK) != nil {
		t.Skip("no writable tmpfs at /dev/shm")
	}
	newDir := func(t *testing.T) string {
		d, err := os.MkdirTemp("/dev/shm", "arkerfs-agent-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := newDir(t)
	xattrs := makeMutFixture(t, d) && scriptHasXattrs(t, d)
	runMutParityIn(t, newDir, mutScenarios(xattrs), nil, nil)
}

// TestLinkThenUnlink is rename NOREPLACE where the file system lacks
// RENAME_NOREPLACE: a hard link, then the source removed.
func TestLinkThenUnlink(t *testing.T) {
	d := t.TempDir()
	build(t, d, [][2]string{{"a", "a"}, {"b", "b"}})
	ino := treeInode(t, d+"/a").ino
	if r, fall := linkThenUnlink(d+"/a", d+"/c"); fall || r.Err != nil || r.Attr == nil || r.Attr.Ino != ino || r.Attr.Nlink != 1 {
		t.Errorf("a to c: %+v %v", r, fall)
	}
	if r, fall := linkThenUnlink(d+"/c", d+"/b"); fall || r.Err == nil || r.Err.Errno != "EEXIST" {
		t.Errorf("c onto b: %+v %v", r, fall)
	}
	if r, fall := linkThenUnlink(d+"/c", d+"/missing/x"); fall || r.Err == nil || r.Err.Errno != "ENOENT" {
		t.Errorf("c into a missing directory: %+v %v", r, fall)
	}
	if _, err := os.Lstat(d + "/a"); !os.IsNotExist(err) {
		t.Errorf("a: %v", err)
	}
	if b, err := os.ReadFile(d + "/c"); err != nil || string(b) != "a" {
		t.Errorf("c: %q %v", b, err)
	}
}

// TestParityMutationsUnprivileged runs mutations as user nobody over
// trees with files of root's, of nobody's and closed directories.
func TestParityMutationsUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as another user")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed")
	}
	nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
	prepare := func(t *testing.T, d string) {
		build(t, d, [][2]string{
			{"mine/f", "f"}, {"mine/g", "g"}, {"mine/sub/", ""}, {"mine/t1", "t1"}, {"mine/t2", "t2"}, {"mine/t3", "t3"},
			{"ro/f", "f"}, {"closed/f", "f"}, {"rootf", "r"}, {"rootw", "w"}, {"sticky/rootfile", "r"}, {"sticky/minefile", "m"},
		})
		for _, p := range []string{"mine", "mine/f", "mine/g", "mine/sub", "mine/t1", "mine/t2", "mine/t3", "ro", "sticky/minefile"} {
			if err := os.Lchown(filepath.Join(d, p), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
		for p, m := range map[string]uint32{"ro": 0o555, "closed": 0o700, "rootw": 0o666, "sticky": 0o1777, "mine/g": 0o444} {
			if err := unix.Chmod(filepath.Join(d, p), m); err != nil {
				t.Fatal(err)
			}
		}
		if err := unix.Lsetxattr(filepath.Join(d, "rootf"), "user.r", []byte("r"), 0); err != nil {
			t.Logf("xattrs: %v", err)
		}
	}
	xattrs := makeMutFixture(t, t.TempDir()) && scriptHasXattrs(t, t.TempDir())
	seen := runMutParity(t, portable([]mutScenario{{"nobody", func(j func(string) string) []helper.Op {
		return []helper.Op{
			{Kind: helper.OpMkdir, Path: j("ro/new"), Mode: 0o755},
			{Kind: helper.OpMkdir, Path: j("mine/new"), Mode: 0o2755},
			{Kind: helper.OpMkdir, Path: j("closed/new"), Mode: 0o755},
			{Kind: helper.OpCreate, Path: j("ro/c"), Mode: 0o644},
			{Kind: helper.OpCreate, Path: j("mine/c"), Mode: 0o6755},
			{Kind: helper.OpCreate, Path: j("closed/f"), Mode: 0o644},
			{Kind: helper.OpCreate, Path: j("rootf"), Mode: 0o644},
			{Kind: helper.OpChmod, Path: j("rootf"), Mode: 0o600},
			{Kind: helper.OpChmod, Path: j("mine/f"), Mode: 0o2600},
			{Kind: helper.OpChmod, Path: j("closed/f"), Mode: 0o600},
			{Kind: helper.OpUtimens, Path: j("rootf"), Atime: tm(5), Mtime: tm(6)},
			{Kind: helper.OpUtimens, Path: j("rootf"), Atime: tmNow, Mtime: tmNow},
			{Kind: helper.OpUtimens, Path: j("rootw"), Atime: tmNow, Mtime: tmNow},
			{Kind: helper.OpUtimens, Path: j("rootw"), Atime: tmNow},
			{Kind: helper.OpUtimens, Path: j("rootw"), Mtime: tm(7)},
			{Kind: helper.OpUtimens, Path: j("mine/f"), Atime: tm(8), Mtime: tmNow},
			{Kind: helper.OpTruncate, Path: j("rootf"), Size: 0},
			{Kind: helper.OpTruncate, Path: j("rootw"), Size: 0},
			{Kind: helper.OpTruncate, Path: j("mine/g"), Size: 0},
			{Kind: helper.OpSymlink, Path: j("ro/s"), Target: "x"},
			{Kind: helper.OpSymlink, Path: j("mine/s"), Target: "x"},
			{Kind: helper.OpLink, Path: j("rootf"), Path2: j("mine/hard")},
			{Kind: helper.OpLink, Path: j("mine/f"), Path2: j("mine/hard2")},
			{Kind: helper.OpLink, Path: j("mine/f"), Path2: j("ro/hard")},
			{Kind: helper.OpRename, Path: j("sticky/rootfile"), Path2: j("sticky/x")},
			{Kind: helper.OpRename, Path: j("sticky/rootfile"), Path2: j("sticky/y"), NoReplace: true},
			{Kind: helper.OpRename, Path: j("rootf"), Path2: j("mine/stolen"), NoReplace: true},
			{Kind: helper.OpRename, Path: j("sticky/minefile"), Path2: j("mine/moved"), NoReplace: true},
			{Kind: helper.OpRename, Path: j("mine/g"), Path2: j("ro/g")},
			{Kind: helper.OpUnlink, Path: j("sticky/rootfile")},
			{Kind: helper.OpUnlink, Path: j("ro/f")},
			{Kind: helper.OpUnlink, Path: j("closed/f")},
			{Kind: helper.OpRmdir, Path: j("mine/sub")},
			{Kind: helper.OpRmdir, Path: j("closed")},
			{Kind: helper.OpInstall, Path: j("ro/f"), Path2: j("mine/t1"), KeepMode: true},
			{Kind: helper.OpInstall, Path: j("mine/f"), Path2: j("mine/t2"), KeepMode: true, KeepXattrs: true},
			{Kind: helper.OpInstall, Path: j("mine/deep/er/f"), Path2: j("mine/t3"), Mode: 0o4755},
			{Kind: helper.OpInstall, Path: j("rootf"), Path2: j("closed/f"), KeepMode: true},
			{Kind: helper.OpMknod, Path: j("mine/null"), Type: helper.TypeChar, Mode: 0o666, Major: 1, Minor: 3},
			{Kind: helper.OpMknod, Path: j("mine/p"), Type: helper.TypeFIFO, Mode: 0o4644},
			{Kind: helper.OpMknod, Path: j("ro/p"), Type: helper.TypeFIFO, Mode: 0o644},
			{Kind: helper.OpMknod, Path: j("ro/s"), Type: helper.TypeSocket, Mode: 0o644},
			{Kind: helper.OpMknod, Path: j("mine/s2"), Type: helper.TypeSocket, Mode: 0o2644},
			{Kind: helper.OpSetxattr, Path: j("rootf"), Name: "user.x", Value: "x"},
			{Kind: helper.OpSetxattr, Path: j("mine/f"), Name: "user.x", Value: "x"},
			{Kind: helper.OpSetxattr, Path: j("mine/f"), Name: "trusted.x", Value: "x"},
			{Kind: helper.OpRemovexattr, Path: j("rootf"), Name: "user.r"},
		}
	}}}, xattrs), nobody, prepare)
	for _, w := range []string{"EACCES", "EPERM"} {
		if !seen[w] {
			t.Errorf("no op answered %s", w)
		}
	}
}

// TestSocketThread: making a socket leaves the process's working
// directory alone.
func TestSocketThread(t *testing.T) {
	wd, _ := os.Getwd()
	d := t.TempDir()
	for i := 0; i < 20; i++ {
		r := Exec(helper.Op{Kind: helper.OpMknod, Path: fmt.Sprintf("%s/s%d", d, i), Type: helper.TypeSocket, Mode: 0o600})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if now, _ := os.Getwd(); now != wd {
		t.Errorf("working directory %q, was %q", now, wd)
	}
}
