package emulator

import (
	"errors"
	"os/exec"
	"syscall"
)

// runSpec is what a run executes: `sh -c Command` in Cwd with the
// environment Env. Its fields are exported for the spawner's messages.
type runSpec struct {
	Command string
	Cwd     string
	Env     []string
}

// process is the process of a started run. It leads its own process
// group, whose id is its pid: the emulator signals the group directly.
type process interface {
	pid() int
	// wait blocks until the process ended and returns its wait status;
	// an error means the status is unknown.
	wait() (syscall.WaitStatus, error)
}

// childProcess is a process this process started.
type childProcess struct{ cmd *exec.Cmd }

func (p childProcess) pid() int { return p.cmd.Process.Pid }

func (p childProcess) wait() (syscall.WaitStatus, error) {
	err := p.cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return 0, err
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return 0, errors.New("no wait status")
	}
	return ws, nil
}

// exitStatus is the process's exit code, or the signal that ended it.
func exitStatus(ws syscall.WaitStatus) (int, syscall.Signal) {
	if ws.Signaled() {
		return 0, ws.Signal()
	}
	return ws.ExitStatus(), 0
}
