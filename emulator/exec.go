package emulator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// runEnvPath is the PATH of runs.
const runEnvPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// runEnv is the environment of a run in a session with cwd and env.
func runEnv(cwd string, env map[string]string) []string {
	base := map[string]string{"PATH": runEnvPath, "HOME": HomeDir, "PWD": cwd, "LANG": "C.UTF-8"}
	maps.Copy(base, env)
	out := make([]string, 0, len(base))
	for _, k := range slices.Sorted(maps.Keys(base)) {
		out = append(out, k+"="+base[k])
	}
	return out
}

// execute runs r, the current run of its session, to its end: the run
// latency, the process in the sandbox, then the record.
func (rs *runStore) execute(r *run) {
	if rs.runLatency > 0 {
		time.Sleep(rs.runLatency)
	}
	sb, aerr := rs.getSandbox()
	rs.mu.Lock()
	cwd, env := r.sess.cwd, runEnv(r.sess.cwd, r.sess.env)
	if aerr == nil && r.killReason != "" {
		aerr = newError(wire.CodeInternal, "%s", r.killReason)
	}
	if aerr != nil {
		r.failReason = aerr.msg
		rs.finishLocked(r, wire.RunFailed, nil)
		rs.mu.Unlock()
		return
	}
	rs.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	if r.timeout > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), r.timeout)
	}
	defer cancel()
	cmd := sb.command(ctx, r.command, cwd, env)
	cmd.Stdout, cmd.Stderr = r.out.writers()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = runWaitDelay
	err := sb.start(cmd)

	rs.mu.Lock()
	if err != nil {
		r.failReason = fmt.Sprintf("starting the command: %v", err)
		rs.finishLocked(r, wire.RunFailed, nil)
		rs.mu.Unlock()
		return
	}
	pgid := cmd.Process.Pid
	r.pgid = pgid
	r.kill = func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
	switch reason := r.killReason; reason {
	case "":
	case failInterrupted: // interrupted while starting
		r.killReason = ""
		rs.interruptLocked(r)
	default:
		r.kill()
	}
	rs.mu.Unlock()

	err = cmd.Wait()
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)

	rs.mu.Lock()
	defer rs.mu.Unlock()
	r.exited = true
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		r.failReason = fmt.Sprintf("waiting for the command: %v", err)
		rs.finishLocked(r, wire.RunFailed, nil)
		return
	}
	code, sig := exitStatus(cmd.ProcessState)
	switch {
	case timedOut:
		code = -int(syscall.SIGKILL)
		r.failReason = failTimeout
		rs.finishLocked(r, wire.RunFailed, &code)
	case r.killReason != "":
		if sig != 0 {
			code = -int(sig)
		}
		r.failReason = r.killReason
		rs.finishLocked(r, wire.RunFailed, &code)
	default:
		if sig != 0 {
			code = 128 + int(sig) // as a shell reports it
		}
		rs.finishLocked(r, wire.RunCompleted, &code)
	}
}

// exitStatus is the process's exit code, or the signal that ended it.
func exitStatus(ps *os.ProcessState) (int, syscall.Signal) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 0, ws.Signal()
	}
	return ps.ExitCode(), 0
}
