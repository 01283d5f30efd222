package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/arker-ai/arkerfs/agent/agentclient"
	"github.com/arker-ai/arkerfs/agent/proto"
	"github.com/arker-ai/arkerfs/cache"
	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/fs"
	"github.com/arker-ai/arkerfs/transport"
)

// testToken is the emulator's bearer token in tests.
const testToken = "ark_test_key"

// emulatorLogEnv, set non-empty, sends the emulator's log (every request
// and its answer) to the test's log.
const emulatorLogEnv = "ARKERFS_TEST_EMULATOR_LOG"

// env is one mounted VM: the emulator serving home, and the mount.
type env struct {
	t      *testing.T
	home   string // the VM's /home/user, as a local directory
	mnt    string // the mountpoint
	emu    *emulator.Server
	url    string
	client *transport.Client
	fsys   *fs.FS
	server *fuse.Server
	opts   fs.Options
	// allowOther mounts with allow_other (withAllowOther).
	allowOther bool
	// unmounted is set once unmount ran (the test goroutine and cleanup
	// only).
	unmounted bool
	// agent installs the VM-side agent after mounting (withAgent); its
	// connection, once the client uses it.
	agent     bool
	agentConn *agentclient.Conn
}

// envOption adjusts a test mount before it is made.
type envOption func(*env)

// withTTL sets every cache TTL of the mount.
func withTTL(d time.Duration) envOption {
	return func(e *env) { e.opts.AttrTTL, e.opts.EntryTTL, e.opts.DirTTL, e.opts.NegativeTTL = d, d, d, d }
}

// withoutLog drops the mount's log lines, for tests that make thousands
// of failing calls on purpose.
func withoutLog() envOption {
	return func(e *env) { e.opts.Logf = func(string, ...any) {} }
}

// withLatency adds one-way latency to every emulator request.
func withLatency(d time.Duration) envOption {
	return func(e *env) { e.emu.SetLatency(d) }
}

// withAllowOther lets other local users into the mount, as
// --allow-other does, and lets them reach it: the VM's home and the
// directory above the mountpoint are opened to them.
func withAllowOther() envOption {
	return func(e *env) {
		e.allowOther = true
		for dir, mode := range map[string]os.FileMode{e.home: 0o755, filepath.Dir(e.mnt): 0o711} {
			if err := os.Chmod(dir, mode); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// requireFUSE fails in CI and skips elsewhere when FUSE cannot be used.
func requireFUSE(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("FUSE is required in CI but /dev/fuse is missing: %v", err)
		}
		t.Skipf("skipping real-mount test: /dev/fuse is missing (%v); install fuse3 to run it", err)
	}
}

// newEnv starts an emulator on loopback and mounts it.
func newEnv(t *testing.T, options ...envOption) *env {
	t.Helper()
	requireFUSE(t)
	e := &env{t: t, home: t.TempDir(), mnt: t.TempDir()}
	spec := contract(t)
	eo := emulator.Options{Home: e.home, Token: testToken, Lineage: spec.Lineage(), Wrap: spec.Middleware}
	if os.Getenv(emulatorLogEnv) != "" {
		eo.Logf = t.Logf
	}
	emu, err := emulator.New(eo)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	e.emu = emu
	if e.url, err = emu.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("emulator start: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	e.opts = fs.Options{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), OpTimeout: 20 * time.Second,
		Logf: func(f string, a ...any) { t.Logf("arkerfs: "+f, a...) }}
	e.agent = os.Getenv(agentEnv) != ""
	for _, o := range options {
		o(e)
	}
	cfg := transport.Config{APIKey: testToken, BaseURL: e.url, VMID: "local",
		Retry: transport.RetryPolicy{Attempts: 3, Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}}
	if e.client, err = transport.New(cfg); err != nil {
		t.Fatalf("client: %v", err)
	}
	e.mount()
	if e.agent {
		e.installAgent()
	}
	return e
}

// mount mounts e.mnt, unmounting in cleanup.
func (e *env) mount() {
	t := e.t
	blocks, err := cache.NewBlockCache(cache.BlockCacheOptions{MemBudget: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	staging, err := cache.NewStaging(filepath.Join(t.TempDir(), "staging"))
	if err != nil {
		t.Fatal(err)
	}
	e.fsys = fs.New(e.client, blocks, staging, e.opts)
	mo := e.fsys.MountOptions(fuse.MountOptions{FsName: "arkerfs:test", Name: "arkerfs", DirectMount: os.Geteuid() == 0,
		AllowOther: e.allowOther, MaxWrite: 1 << 20, MaxReadAhead: 1 << 20, Debug: os.Getenv("ARKERFS_TEST_FUSE_DEBUG") != ""})
	e.server, err = gofs.Mount(e.mnt, e.fsys.Root(), mo)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount failed in CI: %v", err)
		}
		t.Skipf("skipping real-mount test: cannot mount (%v)", err)
	}
	t.Cleanup(func() {
		e.unmount()
		staging.Close()
		blocks.Close()
	})
}

// unmount unmounts e.mnt and sends what the mount still holds back, as
// the arkerfs command does; later calls do nothing.
func (e *env) unmount() {
	t := e.t
	if e.unmounted {
		return
	}
	e.unmounted = true
	if err := e.server.Unmount(); err != nil {
		t.Errorf("unmount: %v", err)
		_ = exec.Command("umount", "-l", e.mnt).Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.fsys.Flush(ctx); err != nil {
		t.Errorf("flush after unmount: %v", err)
	}
}

// path is a path inside the mount.
func (e *env) path(rel string) string { return filepath.Join(e.mnt, rel) }

// vm is the same path as the VM sees it, in the emulator's home.
func (e *env) vm(rel string) string { return filepath.Join(e.home, rel) }

// write writes a file through the mount.
func (e *env) write(rel string, data []byte) {
	e.t.Helper()
	if err := os.WriteFile(e.path(rel), data, 0o644); err != nil {
		e.t.Fatalf("write %s: %v", rel, err)
	}
}

// vmRead reads a file on the VM side.
func (e *env) vmRead(rel string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(e.vm(rel))
	if err != nil {
		e.t.Fatalf("VM read %s: %v", rel, err)
	}
	return b
}

// vmRun runs a shell command inside the VM (through the emulator's run).
func (e *env) vmRun(cmd string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := e.client.Run(ctx, cmd, transport.RunOptions{Timeout: 20 * time.Second})
	if err != nil {
		e.t.Fatalf("VM run %q: %v", cmd, err)
	}
	if r.ExitCode != 0 {
		e.t.Fatalf("VM run %q: exit %d: %s", cmd, r.ExitCode, r.Stderr)
	}
	return string(r.Stdout)
}

// sh runs a local command with the mount as working directory. The shell
// changes into the mount itself: a child that did so between fork and exec
// (cmd.Dir) would wait on this process's FUSE server while the Go runtime
// of this process waits on the child (golang/go#11155), and hang the test.
func (e *env) sh(script string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", `cd "$1" && shift && eval "$1"`, "sh", e.mnt, script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("%s: %v\n%s", script, err, out.String())
	}
	return out.String()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	eventuallyWhy(t, within, what, func() (bool, string) { return cond(), "" })
}

// eventuallyWhy is eventually for a condition that says why it does not
// hold yet; the last reason goes into the failure.
func eventuallyWhy(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %v\n%s", what, within, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requests returns the emulator's request count for an endpoint.
func (e *env) requests(endpoint string) int64 { return e.emu.Stats().Requests[endpoint] }

// totalRequests is every request the emulator has served but the agent's
// change feed: its long polls follow the VM's changes (our own too, as
// they land), not the operations a test makes.
func (e *env) totalRequests() int64 {
	st := e.emu.Stats()
	n := -st.Ingress[proto.PathEvents]
	for _, v := range st.Requests {
		n += v
	}
	return n
}

var _ = strings.TrimSpace
