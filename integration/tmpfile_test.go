package integration

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTmpfile makes a nameless file with O_TMPFILE, writes it, gives it a
// name with linkat through /proc/self/fd (as systemd, glibc's mkostemp
// users and editors with atomic saves do), writes on, and closes: the VM
// has the whole content under the name, with the mode asked for. A name
// that exists is refused, and an unlinked tmpfile leaves nothing behind.
func TestTmpfile(t *testing.T) {
	e := newEnv(t)
	if err := os.Mkdir(e.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("d/taken", []byte("keep"))

	fd, err := unix.Open(e.path("d"), unix.O_TMPFILE|unix.O_RDWR, 0o640)
	if err != nil {
		t.Fatalf("open O_TMPFILE: %v", err)
	}
	f := os.NewFile(uintptr(fd), "tmpfile")
	defer f.Close()
	if _, err := f.WriteString("hello"); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Nlink != 0 || st.Size != 5 || st.Mode&0o777 != 0o640 {
		t.Fatalf("fstat of the unnamed file: nlink %d size %d mode %o, %v; want 0, 5, 640", st.Nlink, st.Size, st.Mode&0o777, err)
	}
	proc := fmt.Sprintf("/proc/self/fd/%d", fd)
	if err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, e.path("d/taken"), unix.AT_SYMLINK_FOLLOW); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("linkat over an existing name: %v, want EEXIST", err)
	}
	if err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, e.path("d/named"), unix.AT_SYMLINK_FOLLOW); err != nil {
		t.Fatalf("linkat: %v", err)
	}
	if _, err := f.WriteString(" world"); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(e.path("d/named")); err != nil || string(got) != "hello world" {
		t.Fatalf("read through the mount before close: %q, %v", got, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got := string(e.vmRead("d/named")); got != "hello world" {
		t.Fatalf("VM has %q, want %q", got, "hello world")
	}
	if fi, err := os.Stat(e.vm("d/named")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("VM mode: %v, %v; want 0640", fi, err)
	}
	if got := string(e.vmRead("d/taken")); got != "keep" {
		t.Fatalf("the refused link changed the existing file: %q", got)
	}

	// Never linked: nothing reaches the VM.
	before := e.totalRequests()
	fd2, err := unix.Open(e.path("d"), unix.O_TMPFILE|unix.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("second O_TMPFILE: %v", err)
	}
	if _, err := unix.Write(fd2, []byte("scratch")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Close(fd2); err != nil {
		t.Fatalf("close of an unnamed file: %v", err)
	}
	if n := e.totalRequests() - before; n != 0 {
		t.Errorf("an unnamed file cost %d requests", n)
	}
	ents, err := os.ReadDir(e.vm("d"))
	if err != nil || len(ents) != 2 {
		t.Fatalf("VM directory holds %v, %v; want named and taken", ents, err)
	}
}
