//go:build linux

package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// The parity tests run the same operations through the real helper
// script (sh, GNU find and coreutils, perl for xattrs) and through Exec
// over one tree, and require the same results. Differences allowed: the
// atime of directories and symlinks (reading them moves it), the free
// counts of statfs (other processes write to the same file system) within
// a margin, and the text of an error whose script message is a tool's
// own (stat(1) quoting the path); the errno is always compared.

// childEnv makes the test binary run Exec on the ops of its standard
// input instead of the tests (see execAs).
const childEnv = "ARKERFS_AGENT_EXEC_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(execChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// execChild answers the proto.Ops JSON on in with Exec's proto.Results.
func execChild(in io.Reader, out io.Writer) int {
	var ops []proto.Op
	if err := json.NewDecoder(in).Decode(&ops); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	res := make([]proto.Result, len(ops))
	for i, op := range ops {
		res[i] = proto.FromResult(Exec(op.ToOp()))
	}
	if err := json.NewEncoder(out).Encode(res); err != nil {
		return 1
	}
	return 0
}

// shellArgv is the sh the script runs under: dash if installed.
func shellArgv() []string {
	if _, err := exec.LookPath("dash"); err == nil {
		return []string{"dash", "-c"}
	}
	return []string{"sh", "-c"}
}

// runScript runs ops through the helper script behind the wrap argv and
// parses its answer.
func runScript(t *testing.T, wrap []string, ops []helper.Op) []helper.Result {
	t.Helper()
	cmd, err := helper.Command(ops)
	if err != nil {
		t.Fatalf("helper.Command: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append(append(append([]string{}, wrap...), shellArgv()...), cmd)
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("the helper script: %v\nstderr: %s", err, stderr.Bytes())
	}
	res, err := helper.Parse(stdout.Bytes(), ops)
	if err != nil {
		t.Fatalf("helper.Parse: %v\nstderr: %s", err, stderr.Bytes())
	}
	return res
}

// execAs runs ops through Exec in a copy of this test binary run behind
// wrap (another user), through the wire format.
func execAs(t *testing.T, wrap []string, bin string, ops []helper.Op) []helper.Result {
	t.Helper()
	wire := make([]proto.Op, len(ops))
	for i, op := range ops {
		wire[i] = proto.FromOp(op)
	}
	in, err := json.Marshal(wire)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := append(append([]string{}, wrap...), bin)
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Env = append(os.Environ(), childEnv+"=1")
	c.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("Exec in a child: %v\nstderr: %s", err, stderr.Bytes())
	}
	var res []proto.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res) != len(ops) {
		t.Fatalf("child answer (%d results for %d ops): %v", len(res), len(ops), err)
	}
	out := make([]helper.Result, len(res))
	for i, r := range res {
		out[i] = r.ToResult()
	}
	return out
}

// overWire is r as the client gets it from the agent.
func overWire(t *testing.T, r helper.Result) helper.Result {
	t.Helper()
	b, err := json.Marshal(proto.FromResult(r))
	if err != nil {
		t.Fatal(err)
	}
	var w proto.Result
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	return w.ToResult()
}

// comparable is r without what may differ between two looks at the
// same tree: the atime of directories and symlinks, statfs's free counts
// (checked apart), a tool's error text.
func comparable(r helper.Result, toolMessage bool) helper.Result {
	mask := func(a *helper.Attr) {
		if a.Type == helper.TypeDir || a.Type == helper.TypeSymlink {
			a.AtimeNs = 0
		}
	}
	if r.Attr != nil {
		a := *r.Attr
		mask(&a)
		r.Attr = &a
	}
	if r.Entries != nil {
		es := append([]helper.Entry{}, r.Entries...)
		for i := range es {
			mask(&es[i].Attr)
		}
		r.Entries = es
	}
	if r.Statfs != nil {
		s := *r.Statfs
		s.Bfree, s.Bavail, s.Ffree = 0, 0, 0
		r.Statfs = &s
	}
	if r.Err != nil && toolMessage {
		r.Err = &helper.OpError{Errno: r.Err.Errno}
	}
	return r
}

// near reports whether two free counts of one file system taken moments
// apart agree, within 1% of its size.
func near(a, b, total uint64) bool {
	d := a - b
	if b > a {
		d = b - a
	}
	return d <= total/100+1024
}

// compare requires script's and native's answers to ops to agree.
func compare(t *testing.T, ops []helper.Op, script, native []helper.Result) {
	t.Helper()
	for i, op := range ops {
		s, n := script[i], native[i]
		tool := s.Err != nil && strings.HasPrefix(s.Err.Message, "stat: ")
		if tool && n.Err != nil && n.Err.Message == "" {
			t.Errorf("op %d %s %q: no message with %s", i, op.Kind, op.Path, n.Err.Errno)
		}
		if s.Statfs != nil && n.Statfs != nil {
			a, b := s.Statfs, n.Statfs
			if !near(a.Bfree, b.Bfree, a.Blocks) || !near(a.Bavail, b.Bavail, a.Blocks) || !near(a.Ffree, b.Ffree, a.Files) {
				t.Errorf("op %d statfs %q: free counts\nscript %+v\nnative %+v", i, op.Path, *a, *b)
			}
		}
		cs, cn := comparable(s, tool), comparable(n, tool)
		if !reflect.DeepEqual(cs, cn) {
			t.Errorf("op %d %s %q (depth %d, limit %d, name %q):\nscript %s\nnative %s",
				i, op.Kind, op.Path, op.Depth, op.Limit, op.Name, describe(cs), describe(cn))
		}
	}
}

// describe prints a result for a failure message.
func describe(r helper.Result) string {
	var b strings.Builder
	if r.Err != nil {
		fmt.Fprintf(&b, "err %s %q", r.Err.Errno, r.Err.Message)
	}
	if r.Attr != nil {
		fmt.Fprintf(&b, "attr %+v target %q", *r.Attr, r.Target)
	}
	if r.Entries != nil {
		fmt.Fprintf(&b, "%d entries, truncated %v:", len(r.Entries), r.Truncated)
		for _, e := range r.Entries {
			fmt.Fprintf(&b, "\n  %q %+v %q", e.Name, e.Attr, e.Target)
		}
	}
	if r.Statfs != nil {
		fmt.Fprintf(&b, "statfs %+v", *r.Statfs)
	}
	if r.Value != nil || r.Names != nil {
		fmt.Fprintf(&b, "value %q (nil %v) names %q", r.Value, r.Value == nil, r.Names)
	}
	if b.Len() == 0 {
		return fmt.Sprintf("%+v", r)
	}
	return b.String()
}

// build makes files under dir from spec: a name ending in "/" is a
// directory, content "->T" a symlink to T, "|" a FIFO, "=" a Unix socket;
// anything else a regular file with that content.
func build(t *testing.T, dir string, spec [][2]string) {
	t.Helper()
	for _, s := range spec {
		name, content := s[0], s[1]
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(content, "->"):
			err = os.Symlink(content[2:], p)
		case content == "|":
			err = unix.Mkfifo(p, 0o640)
		case content == "=":
			err = makeSocket(p)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatalf("making %q: %v", name, err)
		}
	}
}

// makeSocket binds a Unix-domain socket at p and leaves the file.
func makeSocket(p string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Bind(fd, &unix.SockaddrUnix{Name: p})
}

// fixture is the tree every parity test looks at: files of every type,
// names that need escaping, several levels, symlinks to a directory, a
// dangling and a looping one.
var fixture = [][2]string{
	{"file", "hello"},
	{"empty", ""},
	{"with space", "x"},
	{"new\nline", "x"},
	{"bad\xff\xfeutf8", "x"},
	{"quote'\"s", "x"},
	{`back\slash %s \0101 \c`, "x"},
	{"-dash", "x"},
	{"emptydir/", ""},
	{"dir/a", "aaa"},
	{"dir/b/c/deep", "deep"},
	{"dir/b/c/d/e/f/g", "seven"},
	{"dir/b/x", "x"},
	{"dir/b2/y", "y"},
	{"dir/b2/z/", ""},
	{"dir/name with\nnewline/inner", "i"},
	{"bad\x80dir/child\xff", "c"},
	{"bad\x80dir/sub/leaf", "l"},
	{"linkdir", "->dir"},
	{"dangling", "->nowhere/at all"},
	{"oddlink", "->tar\nget\xff 'q'"},
	{"loop", "->loop"},
	{"fifo", "|"},
	{"sock", "="},
	{"wide/1", "1"}, {"wide/2", "2"}, {"wide/3/", ""}, {"wide/4", "4"}, {"wide/5/", ""},
	{"wide/3/a", "a"}, {"wide/3/b/", ""}, {"wide/3/b/c", "c"}, {"wide/5/a", "a"}, {"wide/5/b", "b"},
	{"wide/5/c/", ""}, {"wide/5/c/d/", ""}, {"wide/5/c/d/e", "e"},
	{"chain/1/2/3/4/5/6/7/8/end", "end"},
}

// makeFixture builds the fixture in a new directory and returns it; odd
// modes, a hard link, pre-1970 times and a device (as root) come on top.
func makeFixture(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	build(t, d, fixture)
	j := func(n string) string { return filepath.Join(d, n) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(unix.Chmod(j("file"), 0o4755))
	must(unix.Chmod(j("emptydir"), 0o1777))
	must(unix.Chmod(j("empty"), 0o2600))
	must(os.Link(j("file"), j("hardlink")))
	must(os.WriteFile(j("past"), []byte("old"), 0o600))
	past := []unix.Timespec{{Sec: -2, Nsec: 500_000_000}, {Sec: -86400 * 365, Nsec: 1}}
	must(unix.UtimesNanoAt(unix.AT_FDCWD, j("past"), past, unix.AT_SYMLINK_NOFOLLOW))
	must(os.WriteFile(j("sparse"), nil, 0o644))
	must(os.Truncate(j("sparse"), 1<<30))
	if os.Geteuid() == 0 {
		_ = unix.Mknod(j("null"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3)))
		_ = unix.Mknod(j("blk"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 200)))
	}
	return d
}

// fixturePaths are the fixture's files (and a few missing ones) by path.
func fixturePaths(d string) []string {
	seen := map[string]bool{}
	var ps []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	add(d)
	for _, s := range fixture {
		name := strings.TrimSuffix(s[0], "/")
		for {
			add(d + "/" + name)
			i := strings.LastIndexByte(name, '/')
			if i < 0 {
				break
			}
			name = name[:i]
		}
	}
	for _, n := range []string{"hardlink", "past", "sparse", "null", "blk"} {
		add(d + "/" + n)
	}
	return ps
}

// lookupCases are paths whose lookup fails, or goes through a symlink.
func lookupCases(d string) []string {
	return []string{
		d + "/missing",
		d + "/missing/deeper",
		d + "/file/below",
		d + "/dangling/x",
		d + "/loop/x",
		d + "/linkdir/a",
		d + "/linkdir/b",
		d + "/fifo/x",
		d + "/" + strings.Repeat("n", 256),
		d + "/dir/" + strings.Repeat("n", 255),
		d + "/" + strings.Repeat("m", 256) + "/x",
		"/proc/self/root" + d + "/file",
	}
}

// parityOps are the operations every parity test runs over d.
func parityOps(d string, xattrs bool) []helper.Op {
	var ops []helper.Op
	add := func(op helper.Op) { ops = append(ops, op) }
	all := append(fixturePaths(d), lookupCases(d)...)
	for _, p := range all { // consecutive stats: one "stats" group
		add(helper.Op{Kind: helper.OpStat, Path: p})
	}
	for _, p := range all { // each stat alone, then readlink
		add(helper.Op{Kind: helper.OpStat, Path: p})
		add(helper.Op{Kind: helper.OpReadlink, Path: p})
	}
	for _, p := range all {
		add(helper.Op{Kind: helper.OpList, Path: p})
	}
	for _, p := range []string{d, d + "/file", d + "/dangling", d + "/linkdir", d + "/missing", d + "/file/x"} {
		add(helper.Op{Kind: helper.OpStatfs, Path: p})
	}
	for _, root := range []string{d, d + "/dir", d + "/wide", d + "/chain", d + "/emptydir", d + "/bad\x80dir"} {
		for _, depth := range []int{1, 2, 3, 12} {
			for _, limit := range []int{1, 2, 3, 4, 6, 9, 17, 40, 1000} {
				add(helper.Op{Kind: helper.OpTree, Path: root, Depth: depth, Limit: limit})
			}
		}
	}
	for _, p := range []string{d + "/file", d + "/linkdir", d + "/missing", d + "/missing/x", d + "/file/x", d + "/loop/x"} {
		add(helper.Op{Kind: helper.OpTree, Path: p, Depth: 3, Limit: 10})
	}
	if xattrs {
		for _, p := range []string{d + "/file", d + "/dir", d + "/linkdir", d + "/empty", d + "/missing", d + "/file/x", d + "/fifo"} {
			add(helper.Op{Kind: helper.OpListxattr, Path: p})
			for _, name := range []string{"user.test", "user.nul", "user.empty", "user.missing", "nonamespace", "user." + strings.Repeat("l", 249)} {
				add(helper.Op{Kind: helper.OpGetxattr, Path: p, Name: name})
			}
		}
	}
	return ops
}

// setXattrs gives the fixture's file user xattrs; false if the file
// system keeps none.
func setXattrs(t *testing.T, d string) bool {
	t.Helper()
	f := d + "/file"
	for _, x := range [][2]string{{"user.test", "value"}, {"user.nul", "a\x00b\xff"}, {"user.empty", ""}, {"user.z", "last"}} {
		if err := unix.Lsetxattr(f, x[0], []byte(x[1]), 0); err != nil {
			t.Logf("no user xattrs here (%v): their parity is not tested", err)
			return false
		}
	}
	return true
}

// scriptHasXattrs reports whether the helper script can do xattrs here
// (perl with syscall.ph).
func scriptHasXattrs(t *testing.T, d string) bool {
	t.Helper()
	r := runScript(t, nil, []helper.Op{{Kind: helper.OpListxattr, Path: d}})[0]
	if r.Err != nil && r.Err.Errno == "ENOTSUP" && strings.Contains(r.Err.Message, "perl") {
		t.Logf("the script cannot do xattrs here (%s): their parity is not tested", r.Err.Message)
		return false
	}
	return true
}

func TestParity(t *testing.T) {
	d := makeFixture(t)
	xattrs := setXattrs(t, d) && scriptHasXattrs(t, d)
	ops := parityOps(d, xattrs)
	script := runScript(t, nil, ops)
	native := make([]helper.Result, len(ops))
	for i, op := range ops {
		native[i] = Exec(op)
	}
	compare(t, ops, script, native)
	// The checks above must have met what they are about.
	seen := map[string]bool{}
	for _, r := range native {
		if r.Err != nil {
			seen[r.Err.Errno] = true
		}
		if r.Truncated {
			seen["truncated"] = true
		}
	}
	want := []string{"ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG", "EINVAL", "truncated"}
	if xattrs {
		want = append(want, "ENODATA", "ENOTSUP")
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no op answered %s", w)
		}
	}
}

// TestParityUnprivileged compares the two as user nobody over a tree with
// directories that are closed, readable only, searchable only.
func TestParityUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as another user")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed")
	}
	nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
	d := openDir755(t)
	build(t, d, [][2]string{
		{"open/f", "f"}, {"open/sub/g", "g"},
		{"closed/f", "f"}, {"closed/sub/", ""},
		{"ronly/f", "f"}, {"ronly/sub/g", "g"},
		{"xonly/f", "f"}, {"xonly/sub/g", "g"},
		{"open/deep/closed/h", "h"}, {"open/deep/ronly/h", "h"}, {"open/deep/xonly/h", "h"}, {"open/deep/z", "z"},
		{"open/link", "->../closed/f"},
	})
	for dir, mode := range map[string]os.FileMode{"closed": 0o700, "ronly": 0o744, "xonly": 0o711,
		"open/deep/closed": 0o700, "open/deep/ronly": 0o744, "open/deep/xonly": 0o711} {
		if err := os.Chmod(filepath.Join(d, dir), mode); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(openDir755(t), "agent.test")
	copyFile(t, os.Args[0], bin)
	var ops []helper.Op
	for _, p := range []string{"", "/closed", "/closed/f", "/closed/missing", "/ronly", "/ronly/f", "/ronly/missing", "/xonly", "/xonly/f",
		"/xonly/missing", "/open", "/open/deep", "/open/link", "/open/deep/closed/h", "/open/deep/ronly", "/open/deep/xonly/h"} {
		p = d + p
		ops = append(ops,
			helper.Op{Kind: helper.OpStat, Path: p},
			helper.Op{Kind: helper.OpList, Path: p},
			helper.Op{Kind: helper.OpReadlink, Path: p},
			helper.Op{Kind: helper.OpStatfs, Path: p},
			helper.Op{Kind: helper.OpTree, Path: p, Depth: 4, Limit: 100},
			helper.Op{Kind: helper.OpTree, Path: p, Depth: 3, Limit: 3},
			helper.Op{Kind: helper.OpListxattr, Path: p},
			helper.Op{Kind: helper.OpGetxattr, Path: p, Name: "user.x"},
		)
	}
	script := runScript(t, nobody, ops)
	for i := range script {
		script[i] = overWire(t, script[i])
	}
	native := execAs(t, nobody, bin, ops)
	compare(t, ops, script, native)
	var eacces int
	for _, r := range native {
		if r.Err != nil && r.Err.Errno == "EACCES" {
			eacces++
		}
	}
	if eacces == 0 {
		t.Error("no op answered EACCES")
	}
}

// TestParityLargeDirectory compares a directory past fts's threshold for
// sorting entries by inode number.
func TestParityLargeDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	d := t.TempDir()
	big := filepath.Join(d, "big")
	if err := os.Mkdir(big, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < ftsSortThreshold+50; i++ {
		p := filepath.Join(big, fmt.Sprintf("f%05d", i))
		if i%1000 == 7 {
			p += ".d"
			if err := os.Mkdir(p, 0o755); err == nil {
				err = os.WriteFile(filepath.Join(p, "in"), nil, 0o644)
			}
		} else if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ops := []helper.Op{
		{Kind: helper.OpList, Path: big},
		{Kind: helper.OpTree, Path: d, Depth: 3, Limit: helper.MaxTreeLimit},
		{Kind: helper.OpTree, Path: d, Depth: 3, Limit: 5000},
		{Kind: helper.OpTree, Path: big, Depth: 2, Limit: ftsSortThreshold + 52},
	}
	script := runScript(t, nil, ops)
	native := make([]helper.Result, len(ops))
	for i, op := range ops {
		native[i] = Exec(op)
	}
	compare(t, ops, script, native)
}

func TestExecRefuses(t *testing.T) {
	for _, c := range []struct {
		op    helper.Op
		errno string
	}{
		{helper.Op{Kind: helper.OpMkdir, Path: "/nonexistent/x", Mode: 0o10755}, "EINVAL"},
		{helper.Op{Kind: helper.OpRename, Path: "/nonexistent/x", Path2: "y"}, "EINVAL"},
		{helper.Op{Kind: helper.OpSymlink, Path: "/nonexistent/x", Target: ""}, "EINVAL"},
		{helper.Op{Kind: helper.OpSetxattr, Path: "/nonexistent/x", Name: "user.x", XattrFlags: 3}, "EINVAL"},
		{helper.Op{Kind: helper.OpMknod, Path: "/nonexistent/x", Type: helper.TypeRegular}, "EINVAL"},
		{helper.Op{Kind: "bogus", Path: "/"}, "ENOSYS"},
		{helper.Op{Kind: helper.OpStat, Path: "relative"}, "EINVAL"},
		{helper.Op{Kind: helper.OpStat, Path: "/a/../b"}, "EINVAL"},
		{helper.Op{Kind: helper.OpStat, Path: "/" + strings.Repeat("a", helper.MaxPathBytes)}, "ENAMETOOLONG"},
		{helper.Op{Kind: helper.OpTree, Path: "/", Depth: 0, Limit: 1}, "EINVAL"},
		{helper.Op{Kind: helper.OpTree, Path: "/", Depth: 1, Limit: helper.MaxTreeLimit + 1}, "EINVAL"},
		{helper.Op{Kind: helper.OpGetxattr, Path: "/", Name: ""}, "ERANGE"},
		{helper.Op{Kind: helper.OpGetxattr, Path: "/", Name: "user.a\x00b"}, "EINVAL"},
	} {
		r := Exec(c.op)
		if r.Err == nil || r.Err.Errno != c.errno {
			t.Errorf("%s %q: got %+v, want %s", c.op.Kind, c.op.Path, r.Err, c.errno)
		}
		if v := helper.Validate(c.op); c.errno != "ENOSYS" && (v == nil || v.Error() != r.Err.Error()) {
			t.Errorf("%s %q: %v is not Validate's %v", c.op.Kind, c.op.Path, r.Err, v)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		root, p string
		in      bool
	}{
		{"/home/user", "/home/user", true},
		{"/home/user", "/home/user/a/b", true},
		{"/home/user", "/home/user2", false},
		{"/home/user", "/home/use", false},
		{"/home/user", "/home", false},
		{"/home/user", "/", false},
		{"/home/user", "/home/user/../user2", false},
		{"/home/user", "home/user/a", false},
		{"/", "/anything", true},
		{"/", "/", true},
	} {
		if got := within(c.root, c.p); got != c.in {
			t.Errorf("within(%q, %q) = %v, want %v", c.root, c.p, got, c.in)
		}
	}
}

// openDir755 is a new directory that every user may traverse.
func openDir755(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{d, filepath.Dir(d)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestParityDeepTree compares a tree whose entries' paths are longer than
// one system call takes (PATH_MAX).
func TestParityDeepTree(t *testing.T) {
	d := t.TempDir()
	rel := ""
	for i := 0; i < 24; i++ {
		rel = filepath.Join(rel, fmt.Sprintf("%03d%s", i, strings.Repeat("d", 200)))
	}
	fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { unix.Close(fd) }() // the last one opened
	// mkdir -p, one component at a time
	for _, c := range strings.Split(rel, "/") {
		if err := unix.Mkdirat(fd, c, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f, err := unix.Openat(next, "leaf", unix.O_CREAT|unix.O_WRONLY, 0o644); err == nil {
			unix.Close(f)
		}
		unix.Close(fd)
		fd = next
	}
	ops := []helper.Op{
		{Kind: helper.OpTree, Path: d, Depth: 30, Limit: 1000},
		{Kind: helper.OpTree, Path: d, Depth: 30, Limit: 41},
	}
	script := runScript(t, nil, ops)
	native := make([]helper.Result, len(ops))
	for i, op := range ops {
		native[i] = Exec(op)
	}
	compare(t, ops, script, native)
	if n := len(native[0].Entries); n != 48 || len(native[0].Entries[n-1].Name) <= helper.MaxPathBytes {
		t.Errorf("%d entries, the last %d bytes long", n, len(native[0].Entries[n-1].Name))
	}
}
