package integration

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
)

func mkdirFresh(dir string) error {
	os.RemoveAll(dir)
	return os.Mkdir(dir, 0o755)
}

func TestServerDownFailsFastAndRecovers(t *testing.T) {
	e := newEnv(t, withTTL(50*time.Millisecond))
	e.write("f", []byte("x"))
	addr := e.url[len("http://"):]
	e.emu.Close()
	start := time.Now()
	_, err := os.ReadDir(e.path("missing-dir-while-down"))
	if err == nil || time.Since(start) > 15*time.Second {
		t.Fatalf("with the VM down: err %v after %v; want EIO within seconds", err, time.Since(start))
	}
	if !errors.Is(err, syscall.EIO) && !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("with the VM down: %v, want EIO", err)
	}
	if _, err := e.emu.Start(addr); err != nil {
		t.Fatalf("restart emulator: %v", err)
	}
	eventually(t, 10*time.Second, "mount usable again", func() bool {
		b, err := os.ReadFile(e.path("f"))
		return err == nil && string(b) == "x"
	})
}

func TestFailedUploadReportedAndKept(t *testing.T) {
	e := newEnv(t)
	e.emu.InjectFault(emulator.Fault{Endpoint: "sync.write", Kind: emulator.FaultStatus, Status: 400, Code: "bad_request", Times: -1})
	f, err := os.Create(e.path("precious"))
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("do not lose me"))
	if err := f.Sync(); err == nil {
		t.Fatal("fsync succeeded though the upload failed")
	}
	if err := f.Close(); err == nil {
		t.Fatal("close succeeded though the upload failed")
	}
	// The data is still served by the mount, and lands once the VM accepts it.
	if got, err := os.ReadFile(e.path("precious")); err != nil || string(got) != "do not lose me" {
		t.Fatalf("after a failed upload the mount reads %q %v", got, err)
	}
	e.emu.ClearFaults()
	g, _ := os.OpenFile(e.path("precious"), os.O_WRONLY|os.O_APPEND, 0)
	if err := g.Close(); err != nil {
		t.Fatalf("close after recovery: %v", err)
	}
	if got := string(e.vmRead("precious")); got != "do not lose me" {
		t.Fatalf("VM has %q", got)
	}
}

func TestInterruptedReadReturnsEINTR(t *testing.T) {
	e := newEnv(t)
	os.WriteFile(e.vm("slow"), bytes.Repeat([]byte("s"), 10), 0o644)
	e.emu.InjectFault(emulator.Fault{Kind: emulator.FaultDelay, Delay: time.Minute, Times: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "cat", e.path("slow"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the read is stuck in the emulator, then interrupt cat.
	eventually(t, 10*time.Second, "request reaches the emulator", func() bool { return e.totalRequests() > 0 })
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("cat ended with %v after %v; want an interrupted exit promptly", err, time.Since(start))
	}
	e.emu.ClearFaults()
}

// TestServerDownIsEIO: with the VM unreachable, a program sees EIO (the
// log has the reason), never the network's errno (ECONNREFUSED).
func TestServerDownIsEIO(t *testing.T) {
	e := newEnv(t, withTTL(50*time.Millisecond))
	if err := os.WriteFile(e.vm("uncached"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.emu.Close()
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"open of a file never seen", func() error { _, err := os.ReadFile(e.path("uncached")); return err }},
		{"stat", func() error { _, err := os.Stat(e.path("other")); return err }},
		{"mkdir", func() error { return os.Mkdir(e.path("d"), 0o755) }},
	} {
		err := op.do()
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("%s with the VM down: %v, want EIO", op.name, err)
		}
	}
}
