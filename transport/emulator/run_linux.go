package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

// sandbox starts commands with Home seen at /home/user, in one of two ways:
//
//   - ns: as root, from a thread of this process that lives in a private
//     mount namespace (see nsThread): one fork and exec per run;
//   - user namespace: otherwise, each run is cloned into a new user and
//     mount namespace (mapped to root inside) where a setup script mounts
//     Home, received as file descriptor 3, on /home/user and then execs
//     the command. It costs a few more execs (mount) per run.
//
// Where neither works, runs are answered 501 unsupported_operation: a
// command never runs anywhere else.
type sandbox struct {
	ns     *nsThread
	homeFd *os.File // user-namespace mode: Home, passed to the setup script
}

// setupExitCode and setupMarker let the user-namespace setup script report
// its own failure apart from the command's.
const (
	setupExitCode = 125
	setupMarker   = "arkerfs-emulator-setup: "
)

// setupScript runs as root of a new user and mount namespace with Home
// open as fd 3 and the command as $1; it never splices either into script
// text.
const setupScript = `fail() { printf '` + setupMarker + `%s\n' "$*" >&2; exit ` + "125" + `; }
out=$(mount --make-rprivate / 2>&1) || fail "making mounts private: $out"
if [ ! -d /home/user ]; then
  out=$(mount -t tmpfs -o mode=0755,size=1m arkerfs-home /home 2>&1) || fail "mounting a tmpfs on /home: $out"
  mkdir /home/user || fail "making /home/user"
fi
out=$(mount --no-canonicalize --rbind /proc/self/fd/3 /home/user 2>&1) || fail "bind-mounting home on /home/user: $out"
exec 3<&-
cd /home/user || fail "entering /home/user"
exec /bin/sh -c "$1"
`

// newSandbox makes the sandbox, trying the in-process namespace first
// (unless forceUserNS) and user namespaces next.
func newSandbox(home string, forceUserNS bool) (*sandbox, *apiError) {
	var reasons []string
	if !forceUserNS {
		t, err := startNSThread(home)
		if err == nil {
			return &sandbox{ns: t}, nil
		}
		reasons = append(reasons, "mount namespace: "+err.Error())
	}
	f, err := os.Open(home)
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, wire.CodeInternal, "", "opening home: %v", err)
	}
	sb := &sandbox{homeFd: f}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, aerr := sb.execute(ctx, "true", 10*time.Second)
	if aerr == nil && resp.ExitCode == 0 {
		return sb, nil
	}
	f.Close()
	switch {
	case aerr != nil:
		reasons = append(reasons, "user namespace: "+aerr.body.Message)
	default:
		reasons = append(reasons, fmt.Sprintf("user namespace: probe exited %d: %s", resp.ExitCode, resp.Stderr))
	}
	return nil, errorf(http.StatusNotImplemented, wire.CodeUnsupportedOperation, "",
		"run needs a private mount namespace to show the home directory at %s, and none can be made here (%s)",
		wire.HomeDir, strings.Join(reasons, "; "))
}

func (sb *sandbox) close() {
	if sb.ns != nil {
		sb.ns.close()
	}
	if sb.homeFd != nil {
		sb.homeFd.Close()
	}
}

// command builds the exec.Cmd of a run.
func (sb *sandbox) command(ctx context.Context, command string) *exec.Cmd {
	attr := &syscall.SysProcAttr{Setpgid: true}
	var cmd *exec.Cmd
	if sb.ns != nil {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", command)
		cmd.Dir = wire.HomeDir
	} else {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", setupScript, "arkerfs-run", command)
		cmd.ExtraFiles = []*os.File{sb.homeFd}
		uid, gid := os.Getuid(), os.Getgid()
		attr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	cmd.SysProcAttr = attr
	cmd.Env = runEnv
	cmd.Cancel = func() error {
		// The whole process group: the shell and whatever it started.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 500 * time.Millisecond
	return cmd
}

// execute runs command with a time limit. A client that goes away cancels
// ctx, which kills the run.
func (sb *sandbox) execute(ctx context.Context, command string, timeout time.Duration) (*wire.RunResponse, *apiError) {
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := sb.command(runCtx, command)
	stdout, stderr := &capBuffer{max: maxRunOutput}, &capBuffer{max: maxRunOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	var err error
	if sb.ns != nil {
		err = sb.ns.start(cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, wire.CodeInternal, "", "starting the command: %v", err)
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		return nil, errClientGone
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		return nil, errorf(http.StatusInternalServerError, wire.CodeInternal, "", "waiting for the command: %v", err)
	}
	resp := &wire.RunResponse{RunID: newRunID(), State: wire.RunCompleted, ExitCode: exitCode(cmd.ProcessState)}
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		reason := "timeout"
		resp.State, resp.FailReason = wire.RunFailed, &reason
	}
	if sb.ns == nil && resp.ExitCode == setupExitCode && bytes.HasPrefix(stderr.buf.Bytes(), []byte(setupMarker)) {
		return nil, errorf(http.StatusInternalServerError, wire.CodeInternal, "", "%s", strings.TrimSpace(stderr.buf.String()))
	}
	resp.Stdout, resp.StdoutEncoding = encodeOutput(stdout.buf.Bytes())
	resp.Stderr, resp.StderrEncoding = encodeOutput(stderr.buf.Bytes())
	return resp, nil
}

// exitCode is the shell's exit status, 128+N for a death by signal N.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
