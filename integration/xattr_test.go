//go:build linux

package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// userXattrTree makes a few files with user xattrs (any bytes in names
// and values) in a fresh local directory; it skips when that directory
// takes none.
func userXattrTree(t *testing.T) (dir string, attrs map[string]map[string][]byte) {
	t.Helper()
	dir = t.TempDir()
	attrs = map[string]map[string][]byte{
		"a":     {"user.one": []byte("1"), "user.bin\xff": {0, 1, 2, 255}},
		"sub/b": {"user.empty": {}},
		"sub":   {"user.dir": []byte("d")},
	}
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	for _, f := range []string{"a", "sub/b"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("content "+f), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for f, m := range attrs {
		for k, v := range m {
			if err := unix.Lsetxattr(filepath.Join(dir, f), k, v, 0); err != nil {
				t.Skipf("no user xattrs in %s: %v", dir, err)
			}
		}
	}
	return dir, attrs
}

// checkVMXattrs checks that each file below root on the VM has attrs.
func checkVMXattrs(t *testing.T, root string, attrs map[string]map[string][]byte) {
	t.Helper()
	buf := make([]byte, 1024)
	for f, m := range attrs {
		for k, v := range m {
			n, err := unix.Lgetxattr(filepath.Join(root, f), k, buf)
			if err != nil || !bytes.Equal(buf[:n], v) {
				t.Errorf("VM %s %q = %q, %v; want %q", f, k, buf[:max(n, 0)], err, v)
			}
		}
	}
}

func TestXattrThroughMount(t *testing.T) {
	e := newEnv(t)
	e.write("f", []byte("x"))
	p := e.path("f")
	if err := unix.Setxattr(p, "user.k", []byte{0, 'v', 255}, 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			t.Skipf("the VM side takes no user xattrs: %v", err)
		}
		t.Fatal(err)
	}
	if err := unix.Setxattr(p, "user.k", []byte("z"), unix.XATTR_CREATE); !errors.Is(err, unix.EEXIST) {
		t.Errorf("XATTR_CREATE over an existing attribute: %v", err)
	}
	if err := unix.Setxattr(p, "user.new", []byte("z"), unix.XATTR_REPLACE); !errors.Is(err, unix.ENODATA) {
		t.Errorf("XATTR_REPLACE of a missing attribute: %v", err)
	}
	checkVMXattrs(t, e.vm(""), map[string]map[string][]byte{"f": {"user.k": {0, 'v', 255}}})
	if n, err := unix.Getxattr(p, "user.k", nil); err != nil || n != 3 {
		t.Errorf("size probe = %d, %v", n, err)
	}
	small := make([]byte, 2)
	if _, err := unix.Getxattr(p, "user.k", small); !errors.Is(err, unix.ERANGE) {
		t.Errorf("small buffer: %v", err)
	}
	if _, err := unix.Getxattr(p, "user.missing", make([]byte, 10)); !errors.Is(err, unix.ENODATA) {
		t.Errorf("missing attribute: %v", err)
	}
	list := make([]byte, 100)
	if n, err := unix.Listxattr(p, list); err != nil || string(list[:n]) != "user.k\x00" {
		t.Errorf("list = %q, %v", list[:max(n, 0)], err)
	}
	name := make([]byte, 256)
	for i := range name {
		name[i] = 'n'
	}
	if err := unix.Setxattr(p, "user."+string(name), []byte("v"), 0); !errors.Is(err, unix.ERANGE) {
		t.Errorf("long name: %v", err)
	}
	if err := unix.Removexattr(p, "user.k"); err != nil {
		t.Errorf("remove: %v", err)
	}
	if err := unix.Removexattr(p, "user.k"); !errors.Is(err, unix.ENODATA) {
		t.Errorf("remove again: %v", err)
	}

	// Other namespaces are answered without a run.
	before := e.requests("runs")
	for i := 0; i < 20; i++ {
		if _, err := unix.Getxattr(p, "security.selinux", make([]byte, 64)); !errors.Is(err, unix.ENODATA) {
			t.Fatalf("security.selinux: %v", err)
		}
		if _, err := unix.Getxattr(p, "system.posix_acl_access", make([]byte, 64)); !errors.Is(err, unix.ENODATA) {
			t.Fatalf("posix_acl_access: %v", err)
		}
	}
	// A valid access ACL (version 2; user::rw- group::r-- other::r--): an
	// empty one would be a removal, which the kernel answers itself.
	acl := []byte{2, 0, 0, 0, 1, 0, 6, 0, 255, 255, 255, 255, 4, 0, 4, 0, 255, 255, 255, 255, 0x20, 0, 4, 0, 255, 255, 255, 255}
	if err := unix.Setxattr(p, "system.posix_acl_access", acl, 0); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("set ACL: %v", err)
	}
	if err := unix.Setxattr(p, "trusted.x", []byte("v"), 0); !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EPERM) {
		t.Errorf("set trusted: %v", err)
	}
	if n := e.requests("runs") - before; n != 0 {
		t.Errorf("%d runs for attributes answered locally", n)
	}
}

func TestCpArchiveDoc(t *testing.T) {
	src := filepath.Join(t.TempDir(), "doc")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	// A bounded sample of /usr/share/doc, copied with cp -a first.
	n := 0
	filepath.WalkDir("/usr/share/doc", func(p string, d fs.DirEntry, err error) error {
		if err != nil || n >= 300 || p == "/usr/share/doc" || !d.IsDir() || filepath.Dir(p) != "/usr/share/doc" {
			return nil
		}
		out, cerr := exec.Command("cp", "-a", p, src+"/").CombinedOutput()
		if cerr != nil {
			t.Logf("cp sample %s: %v %s", p, cerr, out)
			return fs.SkipDir
		}
		filepath.WalkDir(p, func(string, fs.DirEntry, error) error { n++; return nil })
		return fs.SkipDir
	})
	if n == 0 {
		t.Skip("nothing under /usr/share/doc")
	}
	e := newEnv(t)
	e.sh(fmt.Sprintf("cp -a %q doc", src))
	fsyncDir(t, e.path(""))
	checked := 0
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		vi, err := os.Lstat(filepath.Join(e.vm("doc"), rel))
		if err != nil {
			t.Errorf("%s missing on the VM: %v", rel, err)
			return nil
		}
		if vi.Mode() != fi.Mode() {
			t.Errorf("%s: mode %v on the VM, %v here", rel, vi.Mode(), fi.Mode())
		}
		if fi.Mode()&fs.ModeSymlink == 0 && !vi.ModTime().Equal(fi.ModTime()) {
			t.Errorf("%s: mtime %v on the VM, %v here", rel, vi.ModTime(), fi.ModTime())
		}
		checked++
		return nil
	})
	t.Logf("checked %d entries", checked)
}

func TestRsyncXattrs(t *testing.T) {
	needTool(t, "rsync")
	src, attrs := userXattrTree(t)
	e := newEnv(t)
	e.sh(fmt.Sprintf("rsync -aX %q/ tree/", src))
	fsyncDir(t, e.path(""))
	checkVMXattrs(t, e.vm("tree"), attrs)
}

func TestTarXattrs(t *testing.T) {
	needTool(t, "tar")
	src, attrs := userXattrTree(t)
	ball := filepath.Join(t.TempDir(), "t.tar")
	if out, err := exec.Command("tar", "--xattrs", "--xattrs-include=user.*", "-C", src, "-cf", ball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar c: %v %s", err, out)
	}
	e := newEnv(t)
	e.sh(fmt.Sprintf("mkdir tree && tar --xattrs --xattrs-include='user.*' -C tree -xf %q", ball))
	checkVMXattrs(t, e.vm("tree"), attrs)
}

func TestFallocate(t *testing.T) {
	e := newEnv(t)
	e.write("f", []byte("hello world"))
	fd, err := unix.Open(e.path("f"), unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(fd, 0, 0, 8192); err != nil {
		unix.Close(fd)
		t.Fatalf("fallocate: %v", err)
	}
	if err := unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, 0, 1<<20); err != nil {
		t.Errorf("fallocate keep size: %v", err)
	}
	if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 5); err != nil {
		t.Errorf("punch hole: %v", err)
	}
	if err := unix.Fallocate(fd, unix.FALLOC_FL_COLLAPSE_RANGE, 0, 4096); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("collapse range: %v", err)
	}
	if err := unix.Close(fd); err != nil {
		t.Fatal(err)
	}
	want := append([]byte("\x00\x00\x00\x00\x00 world"), make([]byte, 8192-11)...)
	if got := e.vmRead("f"); !bytes.Equal(got, want) {
		t.Errorf("VM content: %d bytes %q..., want %d bytes", len(got), got[:min(len(got), 16)], len(want))
	}
}
