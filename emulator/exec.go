package emulator

import (
	"fmt"
	"maps"
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

	pipes, err := newRunPipes()
	var p process
	if err == nil {
		p, err = sb.start(runSpec{Command: r.command, Cwd: cwd, Env: env}, pipes.w[0], pipes.w[1])
		if err != nil {
			pipes.closeAll()
		} else {
			pipes.collect(r.out)
		}
	}

	rs.mu.Lock()
	if err != nil {
		r.failReason = fmt.Sprintf("starting the command: %v", err)
		rs.finishLocked(r, wire.RunFailed, nil)
		rs.mu.Unlock()
		return
	}
	pgid := p.pid()
	kill := func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
	r.pgid, r.kill = pgid, kill
	switch reason := r.killReason; reason {
	case "":
	case failInterrupted: // interrupted while starting
		r.killReason = ""
		rs.interruptLocked(r)
	default:
		kill()
	}
	rs.mu.Unlock()

	var deadline *time.Timer
	if r.timeout > 0 {
		deadline = time.AfterFunc(r.timeout, kill) // a timeout kills the group
	}
	ws, err := p.wait()
	timedOut := deadline != nil && !deadline.Stop() // the kill ran first
	if err != nil {
		kill() // its end is unknown: make sure nothing of it goes on
	}
	pipes.finish(runWaitDelay)

	rs.mu.Lock()
	defer rs.mu.Unlock()
	r.exited = true
	if err != nil {
		r.failReason = fmt.Sprintf("waiting for the command: %v", err)
		rs.finishLocked(r, wire.RunFailed, nil)
		return
	}
	code, sig := exitStatus(ws)
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
