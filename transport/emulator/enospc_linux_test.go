package emulator

import (
	"os"
	"syscall"
	"testing"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// TestCrossDeviceCommitAndNoSpace serves a small tmpfs: staging lives on
// another file system, so commits copy (EXDEV fallback), and a file that
// does not fit fails with ENOSPC.
func TestCrossDeviceCommitAndNoSpace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	home := t.TempDir()
	if err := syscall.Mount("arkerfs-test", home, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(home, syscall.MNT_DETACH) })
	e := newEnv(t, func(o *Options) { o.Home = home })
	e.home = home
	e.s.uploads.parent = t.TempDir() // made on the first upload; removed with the test
	if sameDevice(e.s.uploads.parent, home) {
		t.Fatal("staging on the served tmpfs")
	}
	data := []byte("fits")
	if r := e.write(chunk("/home/user/small", "s1", data))[0]; r.Error != nil || string(e.get("small")) != "fits" {
		t.Fatalf("small write: %+v", r.Error)
	}
	big := make([]byte, 1<<20)
	r := e.write(chunk("/home/user/big", "b1", big))[0]
	if r.Error == nil || r.Error.Code != wire.CodeResourcePressure || r.Error.Errno != "ENOSPC" {
		t.Fatalf("big write: %+v", r.Error)
	}
	ents, _ := os.ReadDir(home)
	if len(ents) != 1 {
		t.Errorf("home holds %d entries after a failed copy", len(ents))
	}
}
