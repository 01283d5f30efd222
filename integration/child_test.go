package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/emulator"
)

// Some file operations must not run in the process that serves the mount:
// msync of a shared mapping holds the address space's lock while the
// kernel waits for this process's FUSE server, and the server, needing
// memory or a fork, would wait for that lock in turn. (The emulator's
// runs do not fork from this process: see TestMain.) Such operations run
// in a child: this test binary, started again with childEnv naming what
// to do.
const childEnv = "ARKERFS_TEST_CHILD"

func TestMain(m *testing.M) {
	// The emulator's runs are forked by this binary executed again as its
	// spawner, not by this process, whose open files in the test mounts a
	// fork would flush (see emulator.ServeSpawnerIfAsked).
	emulator.ServeSpawnerIfAsked()
	if mode := os.Getenv(childEnv); mode != "" {
		if err := runChild(mode, os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	removeAgentBuild()
	os.Exit(code)
}

// runChild does one child operation on path.
func runChild(mode, path string) error {
	switch mode {
	case "mmap-write":
		return mmapWrite(path)
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

// mmapWrite maps the first 8 KiB of path shared, checks a byte, writes
// "mapped" at 4096, msyncs, unmaps and fsyncs.
func mmapWrite(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 8192, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	if mem[100] != '.' {
		unix.Munmap(mem)
		return fmt.Errorf("mmap read %q", mem[100])
	}
	copy(mem[4096:], "mapped")
	err = unix.Msync(mem, unix.MS_SYNC)
	if uerr := unix.Munmap(mem); err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("msync: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	return f.Close()
}

// child runs a child operation on path and fails the test if it fails.
func child(t *testing.T, mode, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$", path)
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("child %s %s did not finish within 2 minutes", mode, path)
		}
		t.Fatalf("child %s %s: %v\n%s", mode, path, err, out.String())
	}
}
