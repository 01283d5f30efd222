//go:build linux

package helper

import (
	"bytes"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// userXattrs skips the test when dir's file system refuses user xattrs.
func userXattrs(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, ".probe")
	tree(t, dir, map[string]string{".probe": ""})
	if err := unix.Lsetxattr(p, "user.probe", []byte("1"), 0); err != nil {
		t.Skipf("no user xattrs in %s: %v", dir, err)
	}
}

func TestXattrOps(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		userXattrs(t, d)
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"f": "x", "sub/": "", "ln": "->f"})
		// Names and values are data: every byte a name may hold, quotes,
		// invalid UTF-8; a value of every byte, NUL included.
		odd := "user.\xff'\"$(x)\\ \n\t*"
		var all []byte
		for i := 0; i < 256; i++ {
			all = append(all, byte(i))
		}
		big := strings.Repeat("v", 3000) // ext4 takes about a block
		res := runOps(t, sh,
			Op{Kind: OpSetxattr, Path: j("f"), Name: "user.a", Value: "hello"},
			Op{Kind: OpSetxattr, Path: j("f"), Name: odd, Value: string(all)},
			Op{Kind: OpSetxattr, Path: j("f"), Name: "user.empty", Value: ""},
			Op{Kind: OpSetxattr, Path: j("f"), Name: "user.a", Value: "again", XattrFlags: XattrCreate},
			Op{Kind: OpSetxattr, Path: j("f"), Name: "user.nope", Value: "x", XattrFlags: XattrReplace},
			Op{Kind: OpSetxattr, Path: j("f"), Name: "user.a", Value: "world", XattrFlags: XattrReplace},
			Op{Kind: OpSetxattr, Path: j("sub"), Name: "user.big", Value: big},
			Op{Kind: OpGetxattr, Path: j("f"), Name: "user.a"},
			Op{Kind: OpGetxattr, Path: j("f"), Name: odd},
			Op{Kind: OpGetxattr, Path: j("f"), Name: "user.empty"},
			Op{Kind: OpGetxattr, Path: j("f"), Name: "user.missing"},
			Op{Kind: OpGetxattr, Path: j("missing"), Name: "user.a"},
			Op{Kind: OpGetxattr, Path: j("sub"), Name: "user.big"},
			Op{Kind: OpListxattr, Path: j("f")},
			Op{Kind: OpListxattr, Path: j("ln")},
			Op{Kind: OpRemovexattr, Path: j("f"), Name: "user.empty"},
			Op{Kind: OpRemovexattr, Path: j("f"), Name: "user.empty"},
			Op{Kind: OpSetxattr, Path: j("ln"), Name: "user.a", Value: "x"},
			Op{Kind: OpSetxattr, Path: j("f"), Name: "bogus.a", Value: "x"},
		)
		for i, what := range []string{"set", "set odd", "set empty"} {
			if res[i].Err != nil {
				t.Errorf("%s: %v", what, res[i].Err)
			}
		}
		wantErr(t, "create existing", res[3], "EEXIST")
		wantErr(t, "replace missing", res[4], "ENODATA")
		if res[5].Err != nil {
			t.Errorf("replace: %v", res[5].Err)
		}
		if res[6].Err != nil {
			t.Errorf("set big: %v", res[6].Err)
		}
		for _, c := range []struct {
			i    int
			want []byte
		}{{7, []byte("world")}, {8, all}, {9, []byte{}}, {12, []byte(big)}} {
			if res[c.i].Err != nil || !bytes.Equal(res[c.i].Value, c.want) {
				t.Errorf("get %d: %d bytes, %v; want %d bytes", c.i, len(res[c.i].Value), res[c.i].Err, len(c.want))
			}
		}
		wantErr(t, "get missing attribute", res[10], "ENODATA")
		wantErr(t, "get on a missing file", res[11], "ENOENT")
		got := append([]string(nil), res[13].Names...)
		sort.Strings(got)
		want := []string{odd, "user.a", "user.empty"}
		sort.Strings(want)
		if res[13].Err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("list = %q, %v; want %q", got, res[13].Err, want)
		}
		if res[14].Err != nil || len(res[14].Names) != 0 {
			t.Errorf("list symlink = %q, %v", res[14].Names, res[14].Err)
		}
		if res[15].Err != nil {
			t.Errorf("remove: %v", res[15].Err)
		}
		wantErr(t, "remove again", res[16], "ENODATA")
		wantErr(t, "user xattr on a symlink", res[17], "EPERM")
		wantErr(t, "unknown namespace", res[18], "ENOTSUP")

		// What the VM holds is what the ops said.
		v := make([]byte, 512)
		n, err := unix.Lgetxattr(j("f"), odd, v)
		if err != nil || !bytes.Equal(v[:n], all) {
			t.Errorf("lgetxattr odd = %q, %v", v[:n], err)
		}
		if _, err := unix.Lgetxattr(j("f"), "user.empty", v); !errors.Is(err, unix.ENODATA) {
			t.Errorf("removed attribute: %v", err)
		}
	})
}

func TestXattrLimits(t *testing.T) {
	p := "/tmp/x"
	for _, c := range []struct {
		op    Op
		errno string
	}{
		{Op{Kind: OpGetxattr, Path: p, Name: "user." + strings.Repeat("n", 251)}, "ERANGE"},
		{Op{Kind: OpSetxattr, Path: p, Name: ""}, "ERANGE"},
		{Op{Kind: OpRemovexattr, Path: p, Name: "user.\x00"}, "EINVAL"},
		{Op{Kind: OpSetxattr, Path: p, Name: "user.a", Value: strings.Repeat("v", MaxXattrValue+1)}, "E2BIG"},
		{Op{Kind: OpSetxattr, Path: p, Name: "user.a", XattrFlags: XattrCreate | XattrReplace}, "EINVAL"},
		{Op{Kind: OpSetxattr, Path: p, Name: "user.a", XattrFlags: 4}, "EINVAL"},
	} {
		var oe *OpError
		if err := Validate(c.op); !errors.As(err, &oe) || oe.Errno != c.errno {
			t.Errorf("Validate(%s %q, %d-byte value) = %v, want %s", c.op.Kind, c.op.Name, len(c.op.Value), err, c.errno)
		}
	}
	ok := []Op{
		{Kind: OpGetxattr, Path: p, Name: "user." + strings.Repeat("n", 250)},
		{Kind: OpSetxattr, Path: p, Name: "user.a", Value: strings.Repeat("\x00", MaxXattrValue), XattrFlags: XattrReplace},
		{Kind: OpListxattr, Path: p},
	}
	for _, op := range ok {
		if err := Validate(op); err != nil {
			t.Errorf("Validate(%s) = %v", op.Kind, err)
		}
	}
	// The largest setxattr fits a command with the longest path, all escaped.
	long := "/" + strings.Repeat("\xff", MaxPathBytes-1)
	if _, err := Command([]Op{{Kind: OpSetxattr, Path: long, Name: "user." + strings.Repeat("\xff", 250), Value: strings.Repeat("v", MaxXattrValue)}}); err != nil {
		t.Fatal(err)
	}
	if n := len(script) + opSize(Op{Kind: OpSetxattr, Path: long, Name: "user." + strings.Repeat("\xff", 250), Value: strings.Repeat("v", MaxXattrValue)}); n > MaxCommandBytes {
		t.Errorf("largest setxattr command is %d bytes, more than %d", n, MaxCommandBytes)
	}
}

// TestInstallKeepsXattrs: an install with KeepXattrs gives the new file
// the user xattrs of the file it replaces (names and values of any
// bytes); without it the new file has none.
func TestInstallKeepsXattrs(t *testing.T) {
	eachShell(t, func(t *testing.T, sh shell) {
		d := t.TempDir()
		userXattrs(t, d)
		j := func(n string) string { return filepath.Join(d, n) }
		tree(t, d, map[string]string{"keep": "old", "drop": "old", ".t1": "new", ".t2": "new"})
		odd := "user.\xff'$(x)\n"
		for _, f := range []string{"keep", "drop"} {
			for name, v := range map[string]string{"user.a": "1", odd: "\x00\xff"} {
				if err := unix.Lsetxattr(j(f), name, []byte(v), 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		res := runOps(t, sh,
			Op{Kind: OpInstall, Path: j("keep"), Path2: j(".t1"), KeepMode: true, KeepXattrs: true},
			Op{Kind: OpInstall, Path: j("drop"), Path2: j(".t2"), KeepMode: true},
		)
		for i, r := range res {
			if r.Err != nil {
				t.Fatalf("install %d: %v", i, r.Err)
			}
		}
		buf := make([]byte, 64)
		if n, err := unix.Lgetxattr(j("keep"), odd, buf); err != nil || string(buf[:n]) != "\x00\xff" {
			t.Errorf("kept %q = %q, %v", odd, buf[:max(n, 0)], err)
		}
		if n, err := unix.Lgetxattr(j("keep"), "user.a", buf); err != nil || string(buf[:n]) != "1" {
			t.Errorf("kept user.a = %q, %v", buf[:max(n, 0)], err)
		}
		if n, err := unix.Llistxattr(j("drop"), buf); err != nil || n != 0 {
			t.Errorf("an install without KeepXattrs left %q, %v", buf[:max(n, 0)], err)
		}
	})
}
