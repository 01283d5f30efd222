package integration

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSpecialFiles makes a FIFO, a socket, a character device and an
// empty regular file through the mount (mkfifo(1), a server's bind,
// mknod(1), GNU tar's mknod(S_IFREG)): each is on the VM with its type
// and mode, and the mount shows the same. A device node is made only if
// the VM user may make one; otherwise both sides answer EPERM.
func TestSpecialFiles(t *testing.T) {
	e := newEnv(t)
	if err := unix.Mkfifo(e.path("fifo"), 0o640); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	l, err := net.Listen("unix", e.path("sock"))
	if err != nil {
		t.Fatalf("bind a socket: %v", err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false) // keep the socket file
	l.Close()
	if err := unix.Mknod(e.path("reg"), unix.S_IFREG|0o600, 0); err != nil {
		t.Fatalf("mknod S_IFREG: %v", err)
	}
	if err := unix.Mkfifo(e.path("fifo"), 0o640); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("mkfifo over an existing name: %v, want EEXIST", err)
	}
	devErr := unix.Mknod(e.path("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	if devErr != nil && !errors.Is(devErr, syscall.EPERM) {
		t.Fatalf("mknod of a device: %v, want success or EPERM", devErr)
	}
	umask := os.FileMode(unix.Umask(0))
	unix.Umask(int(umask))
	if devErr == nil {
		var st unix.Stat_t
		if err := unix.Lstat(e.path("null"), &st); err != nil || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
			t.Errorf("device made through the mount: rdev %d,%d, %v; want 1,3", unix.Major(st.Rdev), unix.Minor(st.Rdev), err)
		}
	}
	want := map[string]os.FileMode{"fifo": os.ModeNamedPipe | 0o640&^umask, "sock": os.ModeSocket, "reg": 0o600 &^ umask}
	if devErr == nil {
		want["null"] = os.ModeDevice | os.ModeCharDevice | 0o666&^umask
	}
	for name, mode := range want {
		vm, err := os.Lstat(e.vm(name))
		if err != nil {
			t.Fatalf("VM side %s: %v", name, err)
		}
		local, err := os.Lstat(e.path(name))
		if err != nil {
			t.Fatalf("mount %s: %v", name, err)
		}
		if vm.Mode().Type() != mode.Type() || local.Mode().Type() != mode.Type() {
			t.Errorf("%s: VM %v, mount %v, want type %v", name, vm.Mode(), local.Mode(), mode.Type())
		}
		if mode.Type() != os.ModeSocket && (vm.Mode().Perm() != mode.Perm() || local.Mode().Perm() != mode.Perm()) {
			t.Errorf("%s: VM %v, mount %v, want %v", name, vm.Mode(), local.Mode(), mode)
		}
	}
	if err := os.Remove(e.path("fifo")); err != nil {
		t.Fatalf("unlink of a FIFO: %v", err)
	}
	if _, err := os.Lstat(e.vm("fifo")); !os.IsNotExist(err) {
		t.Fatalf("the FIFO is still on the VM: %v", err)
	}
}
