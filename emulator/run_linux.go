package emulator

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// sandbox starts commands with every mapping seen at its VM path, in one
// of two ways:
//
//   - ns: as root, from a thread of this process that lives in a private
//     mount namespace (see nsThread): one fork and exec per run;
//   - user: otherwise, inside a user and mount namespace prepared once
//     (see userNS) and entered by nsenter: two execs per run.
//
// Where neither works, runs are refused with unsupported_operation: a
// command never runs anywhere else.
type sandbox struct {
	ns   *nsThread
	user *userNS
}

// newSandbox makes the sandbox, trying the in-process namespace first
// (unless forceUserNS) and a user namespace next.
func newSandbox(list []*mapping, forceUserNS bool) (*sandbox, *apiError) {
	vms := make([]string, len(list))
	hosts := make([]string, len(list))
	for i, m := range list {
		vms[i], hosts[i] = m.vm, m.host
	}
	steps, err := planMounts(vms, isHostDir)
	if err != nil {
		return nil, unsupportedRuns("runs cannot show the VM's directories: %v", err)
	}
	var reasons []string

	if !forceUserNS {
		t, err := startNSThread(hosts, steps)
		if err == nil {
			return &sandbox{ns: t}, nil
		}
		reasons = append(reasons, "mount namespace: "+err.Error())
	}
	u, err := prepareUserNS(hosts, steps)
	if err == nil {
		return &sandbox{user: u}, nil
	}
	reasons = append(reasons, "user namespace: "+err.Error())
	return nil, unsupportedRuns(
		"runs need a private mount namespace to show the VM's directories at their paths, and none can be made here (%s)",
		strings.Join(reasons, "; "))
}

func isHostDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func (sb *sandbox) close() {
	if sb.ns != nil {
		sb.ns.close()
	}
	if sb.user != nil {
		sb.user.close()
	}
}

// command builds the exec.Cmd of a run: sh -c command in cwd, in its own
// process group, stdin /dev/null.
func (sb *sandbox) command(ctx context.Context, command, cwd string, env []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	if sb.ns != nil {
		cmd.Dir = cwd
	} else {
		sb.user.command(cmd, command, cwd)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = env
	return cmd
}

// start starts cmd inside the sandbox.
func (sb *sandbox) start(cmd *exec.Cmd) error {
	if sb.ns != nil {
		return sb.ns.start(cmd)
	}
	return cmd.Start()
}
