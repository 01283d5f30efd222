package integration

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/agent/agentclient"
	"github.com/arker-ai/arkerfs/emulator"
)

// agentVersion is the version the agent build of the tests carries.
const agentVersion = "test-agent"

// agentBuild is the arkerfs binary the tests install as the VM's agent,
// built once per test process (agentBinary) and removed by TestMain.
var agentBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// agentBinary builds cmd/arkerfs, static, as the agent of this machine's
// arch (the emulated VM is this machine).
func agentBinary(t *testing.T) string {
	t.Helper()
	b := &agentBuild
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "arkerfs-agent-build-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "arkerfs")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goCommand(t), "build", "-ldflags", "-X main.version="+agentVersion, "-o", b.path, "./cmd/arkerfs")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = &buildError{err: err, out: string(out)}
		}
	})
	if b.err != nil {
		t.Fatalf("building the agent: %v", b.err)
	}
	return b.path
}

// removeAgentBuild removes the agent build, after every test ran.
func removeAgentBuild() {
	if agentBuild.dir != "" {
		os.RemoveAll(agentBuild.dir)
	}
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// goCommand is the go command that builds arkerfs.
func goCommand(t *testing.T) string {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err == nil {
		return goBin
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build arkerfs with: %v", err)
	}
	return p
}

// agentStateDir keeps the agent's files on the VM out of the mounted home,
// whose listings the tests compare; the emulated VM's /tmp is private to
// each emulator.
const agentStateDir = "/tmp/arkerfs-agent"

// tryInstallAgent installs and starts the agent on the emulated VM, for
// the mount's root, listening on loopback only.
func (e *env) tryInstallAgent() (*agentclient.Conn, error) {
	bin := agentBinary(e.t)
	u, err := url.Parse(e.url)
	if err != nil {
		return nil, err
	}
	root := e.opts.Root
	if root == "" {
		root = emulator.HomeDir // the mount's default root
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return agentclient.Install(ctx, e.client, agentclient.Options{
		Root: root, Version: agentVersion, Listen: "127.0.0.1:0", Dial: u.Host, StateDir: agentStateDir,
		Binary: func(string) (string, error) { return bin, nil },
	})
}

// agentEnv, set non-empty, runs every mount of the suite with the agent
// (make test runs the suite once so).
const agentEnv = "ARKERFS_TEST_AGENT"

// withAgent installs the agent on the emulated VM once the mount is up,
// and makes the mount's client use it.
func withAgent() envOption { return func(e *env) { e.agent = true } }

// withoutAgent keeps a mount on runs alone even when agentEnv is set: the
// test measures or provokes the run path itself.
func withoutAgent() envOption { return func(e *env) { e.agent = false } }

// installAgent installs and starts the agent and hands it to the client,
// as the arkerfs command does; it fails the test if it cannot.
func (e *env) installAgent() {
	t := e.t
	conn, err := e.tryInstallAgent()
	if err != nil {
		t.Fatalf("installing the agent: %v", err)
	}
	e.agentConn = conn
	watch, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.client.UseMetaServer(conn, e.opts.Logf) // before the test's first operation
	go func() {
		defer close(done)
		agentclient.Serve(watch, e.client, conn, e.fsys, e.opts.Logf)
	}()
	t.Cleanup(func() {
		stop()
		<-done
		conn.Close()
	})
}
