package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
)

// The tests in cli_test.go and the files beside it (background_test.go,
// fstab_test.go, configfile_test.go) drive the real arkerfs binary, built
// from this tree, as a user or mount(8) would: its server is another
// process, in the background, against the emulator on loopback.

// cliEnv is one emulated VM and an arkerfs binary with a home, a cache
// and a mountpoint of its own.
type cliEnv struct {
	t      *testing.T
	bin    string // the arkerfs binary
	vmHome string // the VM's /home/user, as a local directory
	emu    *emulator.Server
	url    string // the emulator's base URL
	home   string // $HOME of the commands
	cache  string // $XDG_CACHE_HOME of the commands
	mnt    string // the mountpoint
	env    []string
	dir    string // working directory of the commands; "" = the test's
}

// newCLIEnv builds arkerfs, starts an emulator and prepares a home, a
// cache and a mountpoint. Commands get no key or endpoint from the
// environment unless a test adds them. Cleanup ends whatever server is
// still serving the mountpoint and removes its mount.
func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	requireFUSE(t)
	c := &cliEnv{t: t, vmHome: t.TempDir(), home: t.TempDir(), cache: t.TempDir(), mnt: t.TempDir()}
	c.bin = buildArkerfs(t)
	spec := contract(t)
	emu, err := emulator.New(emulator.Options{Home: c.vmHome, Token: testToken, Lineage: spec.Lineage(), Wrap: spec.Middleware})
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	c.emu = emu
	if c.url, err = emu.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("emulator start: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "ARKER_"), name == "AUTH_KEY", name == "HOME", name == "XDG_CACHE_HOME",
			name == "XDG_RUNTIME_DIR", name == "NOTIFY_SOCKET", name == "ARKERFS_CPUPROFILE":
			continue
		}
		c.env = append(c.env, kv)
	}
	c.env = append(c.env, "HOME="+c.home, "XDG_CACHE_HOME="+c.cache)
	if os.Getuid() != 0 {
		c.env = append(c.env, "XDG_RUNTIME_DIR="+t.TempDir())
	}
	t.Cleanup(c.cleanup)
	return c
}

// buildArkerfs builds cmd/arkerfs into a directory of the test's.
func buildArkerfs(t *testing.T) string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("no go command to build arkerfs with: %v", err)
		}
	}
	bin := filepath.Join(t.TempDir(), "arkerfs")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/arkerfs")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building arkerfs: %v\n%s", err, out)
	}
	return bin
}

// withEnv adds variables to the commands' environment.
func (c *cliEnv) withEnv(kv ...string) { c.env = append(c.env, kv...) }

// apiEnv is the emulator's key and endpoint as environment variables.
func (c *cliEnv) apiEnv() []string {
	return []string{"ARKER_API_KEY=" + testToken, "ARKER_BASE_URL=" + c.url}
}

// result is what a command did.
type result struct {
	stdout, stderr string
	code           int
}

// run runs arkerfs with args, bounded, with the env's environment plus
// extra.
func (c *cliEnv) run(extra []string, args ...string) result {
	c.t.Helper()
	return c.runCmd(extra, c.bin, args...)
}

// runCmd runs any program as run does.
func (c *cliEnv) runCmd(extra []string, prog string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(append([]string(nil), c.env...), extra...)
	cmd.Dir = c.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		c.t.Fatalf("%s %q: %v", prog, args, err)
	}
	if ctx.Err() != nil {
		c.t.Fatalf("%s %q did not finish within 2 minutes\nstdout: %s\nstderr: %s", prog, args, r.stdout, r.stderr)
	}
	return r
}

// mounted reports whether the mountpoint is in the host's mount table.
// It reads the calling thread's table: the in-process emulator keeps one
// thread in a namespace of its own, and that may be the main thread,
// which /proc/self shows.
func (c *cliEnv) mounted() bool {
	b, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		c.t.Fatalf("mountinfo: %v", err)
	}
	return bytes.Contains(b, []byte(" "+c.mnt+" "))
}

// servers are the arkerfs processes with an argument naming the
// mountpoint: the servers of this test's mounts (the mountpoint is a
// fresh temporary directory, so no other process names it). A server
// started through mount(8) runs as another path to the same binary.
func (c *cliEnv) servers() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := bytes.Split(b, []byte{0})
		if err != nil || filepath.Base(string(args[0])) != "arkerfs" {
			continue
		}
		for _, arg := range args[1:] {
			if bytes.Contains(arg, []byte(c.mnt)) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// noServerLeft waits (bounded) until no server of the mountpoint runs.
func (c *cliEnv) noServerLeft(what string) {
	c.t.Helper()
	eventuallyWhy(c.t, 20*time.Second, what, func() (bool, string) {
		pids := c.servers()
		return len(pids) == 0, fmt.Sprintf("still running: pids %v", pids)
	})
}

// cleanup removes what a failed test may have left: the mount, then the
// servers of this test's mountpoint, by their pids.
func (c *cliEnv) cleanup() {
	if c.mounted() {
		_ = exec.Command(c.bin, "unmount", "--lazy", c.mnt).Run()
	}
	for _, pid := range c.servers() {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	}
}

// logs is the text of the background mounts' log files in the cache.
func (c *cliEnv) logs() string {
	files, _ := filepath.Glob(filepath.Join(c.cache, "arkerfs", "logs", "*.log"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// oneLine checks that s is exactly one line.
func oneLine(t *testing.T, what, s string) {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Fatalf("%s: want exactly one line, got %q", what, s)
	}
}
