package emulator

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// runNS is a mount namespace, held by the process that made it, in which
// every mapping is seen at its VM path, made in one of two ways:
//
//   - thread: as root, an OS thread of this process lives in it (see
//     nsThread): one fork and exec per run;
//   - user: otherwise, a user and mount namespace prepared once (see
//     userNS) and entered by nsenter: two execs per run.
//
// The spawner holds one per sandbox; a process that did not opt in to the
// spawner holds its sandbox's itself.
type runNS struct {
	thread *nsThread
	user   *userNS
}

// makeRunNS makes the namespace: hosts are the mappings' directories,
// steps the plan that shows them. It tries a thread first (unless
// forceUserNS) and a user namespace next; the error gives the reason of
// each failure.
func makeRunNS(hosts []string, steps []mountStep, forceUserNS bool) (*runNS, error) {
	var reasons []string
	if !forceUserNS {
		t, err := startNSThread(hosts, steps)
		if err == nil {
			return &runNS{thread: t}, nil
		}
		reasons = append(reasons, "mount namespace: "+err.Error())
	}
	u, err := prepareUserNS(hosts, steps)
	if err == nil {
		return &runNS{user: u}, nil
	}
	reasons = append(reasons, "user namespace: "+err.Error())
	return nil, errors.New(strings.Join(reasons, "; "))
}

// start starts spec inside the namespace, in its own process group, stdin
// /dev/null, stdout and stderr the files given (the caller keeps and
// closes its copies). The process is a child of this process: the caller
// waits for it with cmd.Wait.
func (ns *runNS) start(spec runSpec, stdout, stderr *os.File) (*exec.Cmd, error) {
	cmd := exec.Command("/bin/sh", "-c", spec.Command)
	if ns.thread != nil {
		cmd.Dir = spec.Cwd
	} else {
		ns.user.command(cmd, spec.Command, spec.Cwd)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = spec.Env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	var err error
	if ns.thread != nil {
		err = ns.thread.start(cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, err
	}
	return cmd, nil
}

// close releases the namespace; commands started in it keep running.
func (ns *runNS) close() {
	if ns.thread != nil {
		ns.thread.close()
	}
	if ns.user != nil {
		ns.user.close()
	}
}
