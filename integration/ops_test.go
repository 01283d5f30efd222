package integration

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCreateWriteReadBack(t *testing.T) {
	e := newEnv(t)
	data := []byte("hello from the mount\n")
	e.write("a.txt", data)
	if got := e.vmRead("a.txt"); !bytes.Equal(got, data) {
		t.Fatalf("VM has %q, want %q", got, data)
	}
	got, err := os.ReadFile(e.path("a.txt"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("mount read %q, %v", got, err)
	}
	st, err := os.Stat(e.path("a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != int64(len(data)) || st.Mode().Perm() != 0o644 {
		t.Fatalf("stat: size %d mode %v", st.Size(), st.Mode())
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != uint32(os.Getuid()) {
		t.Fatalf("owner %d, want the mounting user %d", sys.Uid, os.Getuid())
	}
}

func TestReadVMFiles(t *testing.T) {
	e := newEnv(t)
	small := []byte("small file\n")
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16+7) // over the inline limit
	os.WriteFile(e.vm("small"), small, 0o600)
	os.WriteFile(e.vm("big"), big, 0o640)
	for name, want := range map[string][]byte{"small": small, "big": big} {
		got, err := os.ReadFile(e.path(name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: read %d bytes, %v; want %d", name, len(got), err, len(want))
		}
	}
	st, _ := os.Stat(e.path("small"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want the VM's 0600", st.Mode())
	}
	vst, _ := os.Stat(e.vm("small"))
	if !st.ModTime().Equal(vst.ModTime()) {
		t.Fatalf("mtime %v, want the VM's %v (ns precision)", st.ModTime(), vst.ModTime())
	}
}

func TestReaddirWithAttributes(t *testing.T) {
	e := newEnv(t)
	os.MkdirAll(e.vm("d/sub"), 0o755)
	for _, n := range []string{"x", "y", "z"} {
		os.WriteFile(e.vm("d/"+n), []byte(n), 0o644)
	}
	os.Symlink("x", e.vm("d/link"))
	ents, err := os.ReadDir(e.path("d"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range ents {
		names = append(names, de.Name())
	}
	sort.Strings(names)
	want := []string{"link", "sub", "x", "y", "z"}
	if len(names) != len(want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names %v, want %v", names, want)
		}
	}
	if target, err := os.Readlink(e.path("d/link")); err != nil || target != "x" {
		t.Fatalf("readlink %q %v", target, err)
	}
	if st, err := os.Lstat(e.path("d/sub")); err != nil || !st.IsDir() {
		t.Fatalf("sub: %v %v", st, err)
	}
}

func TestMkdirRmdirUnlinkErrors(t *testing.T) {
	e := newEnv(t)
	if err := os.Mkdir(e.path("d"), 0o750); err != nil {
		t.Fatal(err)
	}
	// The mkdir may travel with the next run, or alone within moments.
	eventually(t, 5*time.Second, "d made on the VM with mode 0750", func() bool {
		st, err := os.Stat(e.vm("d"))
		return err == nil && st.Mode().Perm() == 0o750
	})
	if err := os.Mkdir(e.path("d"), 0o755); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("mkdir twice: %v, want EEXIST", err)
	}
	e.write("d/f", []byte("x"))
	if err := syscall.Rmdir(e.path("d")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("rmdir non-empty: %v, want ENOTEMPTY", err)
	}
	if err := syscall.Rmdir(e.path("d/f")); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("rmdir file: %v, want ENOTDIR", err)
	}
	if err := syscall.Unlink(e.path("d")); !errors.Is(err, syscall.EISDIR) && !errors.Is(err, syscall.EPERM) {
		t.Fatalf("unlink dir: %v, want EISDIR", err)
	}
	if err := os.Remove(e.path("d/f")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Rmdir(e.path("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.vm("d")); !os.IsNotExist(err) {
		t.Fatalf("VM still has d: %v", err)
	}
	if _, err := os.Stat(e.path("nope/deeper")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("stat missing: %v", err)
	}
}

func TestExclusiveCreate(t *testing.T) {
	e := newEnv(t)
	os.WriteFile(e.vm("taken.lock"), nil, 0o644)
	_, err := os.OpenFile(e.path("taken.lock"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("O_EXCL on an existing file: %v, want EEXIST", err)
	}
	f, err := os.OpenFile(e.path("new.lock"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// The lock exists on the VM before it is closed: git relies on it.
	if _, err := os.Stat(e.vm("new.lock")); err != nil {
		t.Fatalf("O_EXCL file not on the VM while open: %v", err)
	}
	f.Write([]byte("locked"))
	f.Close()
	if got := string(e.vmRead("new.lock")); got != "locked" {
		t.Fatalf("VM has %q", got)
	}
}

func TestTruncateAppendSparse(t *testing.T) {
	e := newEnv(t)
	e.write("f", []byte("0123456789"))
	if err := os.Truncate(e.path("f"), 4); err != nil {
		t.Fatal(err)
	}
	if got := string(e.vmRead("f")); got != "0123" {
		t.Fatalf("after truncate VM has %q", got)
	}
	f, err := os.OpenFile(e.path("f"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("AB"))
	f.Close()
	if got := string(e.vmRead("f")); got != "0123AB" {
		t.Fatalf("after append VM has %q", got)
	}
	f, _ = os.OpenFile(e.path("f"), os.O_WRONLY|os.O_TRUNC, 0)
	f.WriteAt([]byte("end"), 1<<20) // sparse write past EOF
	f.Close()
	got := e.vmRead("f")
	if len(got) != 1<<20+3 || string(got[1<<20:]) != "end" || got[0] != 0 {
		t.Fatalf("sparse file: len %d", len(got))
	}
}

func TestRenameAndNoReplace(t *testing.T) {
	e := newEnv(t)
	e.write("a", []byte("A"))
	e.write("b", []byte("B"))
	if err := unix.Renameat2(unix.AT_FDCWD, e.path("a"), unix.AT_FDCWD, e.path("b"), unix.RENAME_NOREPLACE); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("RENAME_NOREPLACE over a file: %v, want EEXIST", err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, e.path("a"), unix.AT_FDCWD, e.path("b"), unix.RENAME_EXCHANGE); !errors.Is(err, syscall.ENOTSUP) && !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("RENAME_EXCHANGE: %v, want ENOTSUP", err)
	}
	if err := os.Rename(e.path("a"), e.path("b")); err != nil {
		t.Fatal(err)
	}
	if got := string(e.vmRead("b")); got != "A" {
		t.Fatalf("b = %q", got)
	}
	if _, err := os.Stat(e.path("a")); !os.IsNotExist(err) {
		t.Fatalf("a still there: %v", err)
	}
	os.Mkdir(e.path("dir"), 0o755)
	e.write("dir/inner", []byte("i"))
	if err := os.Rename(e.path("dir"), e.path("dir2")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(e.path("dir2/inner")); err != nil || string(got) != "i" {
		t.Fatalf("dir2/inner: %q %v", got, err)
	}
}

func TestChmodUtimesSymlinkLink(t *testing.T) {
	e := newEnv(t)
	e.write("f", []byte("data"))
	if err := os.Chmod(e.path("f"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(e.path("f")); st.Mode().Perm() != 0o600 {
		t.Fatalf("mount mode %v right after chmod", st.Mode())
	}
	when := time.Date(2020, 1, 2, 3, 4, 5, 123456789, time.UTC)
	if err := os.Chtimes(e.path("f"), when, when); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(e.path("f")); !st.ModTime().Equal(when) {
		t.Fatalf("mount mtime %v, want %v", st.ModTime(), when)
	}
	// Attribute changes travel with the next run, or on their own
	// within moments.
	eventually(t, 5*time.Second, "mode and mtime on the VM", func() bool {
		st, err := os.Stat(e.vm("f"))
		return err == nil && st.Mode().Perm() == 0o600 && st.ModTime().Equal(when)
	})
	if err := os.Symlink("f", e.path("s")); err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(e.vm("s")); target != "f" {
		t.Fatalf("VM symlink -> %q", target)
	}
	if err := os.Link(e.path("f"), e.path("h")); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(e.path("f"))
	b, _ := os.Stat(e.path("h"))
	if a.Sys().(*syscall.Stat_t).Ino != b.Sys().(*syscall.Stat_t).Ino || b.Sys().(*syscall.Stat_t).Nlink != 2 {
		t.Fatalf("hard link: ino %d vs %d, nlink %d", a.Sys().(*syscall.Stat_t).Ino, b.Sys().(*syscall.Stat_t).Ino, b.Sys().(*syscall.Stat_t).Nlink)
	}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(e.mnt, &sfs); err != nil || sfs.Blocks == 0 {
		t.Fatalf("statfs: %+v %v", sfs, err)
	}
}

func TestOpenFileSurvivesUnlinkAndRename(t *testing.T) {
	e := newEnv(t)
	e.write("f", []byte("keep me"))
	f, err := os.Open(e.path("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Rename(e.path("f"), e.path("g")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "keep" {
		t.Fatalf("read after rename: %q %v", buf, err)
	}
	if err := os.Remove(e.path("g")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(buf, 3); err != nil || string(buf) != "p me" {
		t.Fatalf("read after unlink: %q %v", buf, err)
	}
	if _, err := os.Stat(e.vm("g")); !os.IsNotExist(err) {
		t.Fatalf("VM still has g: %v", err)
	}
}

// TestSeveralWritersOneFile writes through two descriptors of one file
// and closes them one after the other. Each close uploads, and an upload
// ends with a run; the other descriptor stays open in this process, which
// also serves the mount. Were runs forked from this process, their execve
// would flush that descriptor into the mount while the upload waits for
// the run: a deadlock until the run times out (minutes). So the whole
// must take seconds.
func TestSeveralWritersOneFile(t *testing.T) {
	const bound = 20 * time.Second
	e := newEnv(t)
	start := time.Now()
	a, err := os.OpenFile(e.path("shared"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.OpenFile(e.path("shared"), os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	a.WriteAt([]byte("AAAA"), 0)
	b.WriteAt([]byte("BB"), 2)
	got := make([]byte, 4)
	a.ReadAt(got, 0)
	if string(got) != "AABB" {
		t.Fatalf("read through a: %q", got)
	}
	closed := make(chan error, 1)
	go func() {
		err := a.Close()
		if berr := b.Close(); err == nil {
			err = berr
		}
		closed <- err
	}()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(bound - time.Since(start)):
		// Stopping the emulator fails the upload that waits for its run,
		// which ends the deadlock, so that the cleanup can unmount.
		e.emu.Close()
		<-closed
		t.Fatalf("closing the two descriptors took more than %v: is a run forked from the process that serves the mount?", bound)
	}
	if got := string(e.vmRead("shared")); got != "AABB" {
		t.Fatalf("VM has %q", got)
	}
	t.Logf("written and closed in %v", time.Since(start))
}

// TestMmapSharedWrite writes through a shared mapping, from a child
// process (see child_test.go).
func TestMmapSharedWrite(t *testing.T) {
	e := newEnv(t)
	e.write("m", bytes.Repeat([]byte("."), 8192))
	child(t, "mmap-write", e.path("m"))
	if got := e.vmRead("m"); string(got[4096:4102]) != "mapped" {
		t.Fatalf("VM has %q", got[4096:4102])
	}
}

func TestReadOnlyMount(t *testing.T) {
	e := newEnv(t, func(e *env) { e.opts.ReadOnly = true })
	os.WriteFile(e.vm("r"), []byte("r"), 0o644)
	if got, err := os.ReadFile(e.path("r")); err != nil || string(got) != "r" {
		t.Fatalf("read: %q %v", got, err)
	}
	if err := os.WriteFile(e.path("w"), []byte("w"), 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write on read-only mount: %v, want EROFS", err)
	}
	if err := os.Remove(e.path("r")); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("remove on read-only mount: %v, want EROFS", err)
	}
}

var _ = filepath.Join
