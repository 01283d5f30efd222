//go:build !linux

package emulator

import (
	"context"
	"errors"
	"os/exec"
	"runtime"
)

// sandbox is absent off Linux: showing directories at their VM paths needs
// a private mount namespace, which this platform does not have.
type sandbox struct{}

func newSandbox(list []*mapping, forceUserNS bool) (*sandbox, *apiError) {
	return nil, unsupportedRuns(
		"runs need a private mount namespace to show the VM's directories at their paths; %s has none, so the emulator cannot run commands here",
		runtime.GOOS)
}

func (sb *sandbox) close() {}

func (sb *sandbox) command(ctx context.Context, command, cwd string, env []string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/false")
}

func (sb *sandbox) start(cmd *exec.Cmd) error {
	return errors.New("runs are not supported on " + runtime.GOOS)
}
