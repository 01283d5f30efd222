package emulator

import (
	"context"
	"errors"
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
//   - user: otherwise, inside a user and mount namespace prepared once
//     (see userNS) and entered by nsenter: two execs per run.
//
// Where neither works, runs are answered 501 unsupported_operation: a
// command never runs anywhere else.
type sandbox struct {
	ns   *nsThread
	user *userNS
}

// newSandbox makes the sandbox, trying the in-process namespace first
// (unless forceUserNS) and a user namespace next.
func newSandbox(home string, forceUserNS bool) (*sandbox, *apiError) {
	var reasons []string
	if !forceUserNS {
		t, err := startNSThread(home)
		if err == nil {
			return &sandbox{ns: t}, nil
		}
		reasons = append(reasons, "mount namespace: "+err.Error())
	}
	u, err := prepareUserNS(home)
	if err == nil {
		return &sandbox{user: u}, nil
	}
	reasons = append(reasons, "user namespace: "+err.Error())
	return nil, errorf(http.StatusNotImplemented, wire.CodeUnsupportedOperation, "",
		"run needs a private mount namespace to show the home directory at %s, and none can be made here (%s)",
		wire.HomeDir, strings.Join(reasons, "; "))
}

func (sb *sandbox) close() {
	if sb.ns != nil {
		sb.ns.close()
	}
	if sb.user != nil {
		sb.user.close()
	}
}

// command builds the exec.Cmd of a run.
func (sb *sandbox) command(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	if sb.ns != nil {
		cmd.Dir = wire.HomeDir
	} else {
		sb.user.command(cmd, command)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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
