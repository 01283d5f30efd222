//go:build !linux

package emulator

import (
	"errors"
	"os"
	"runtime"
)

// sandbox is absent off Linux: showing directories at their VM paths needs
// a private mount namespace, which this platform does not have.
type sandbox struct{}

func newSandbox(list []*mapping, forceUserNS, inProcess bool) (*sandbox, *apiError) {
	return nil, unsupportedRuns(
		"runs need a private mount namespace to show the VM's directories at their paths; %s has none, so the emulator cannot run commands here",
		runtime.GOOS)
}

func (sb *sandbox) start(spec runSpec, stdout, stderr *os.File) (process, error) {
	return nil, errors.New("runs are not supported on " + runtime.GOOS)
}

func (sb *sandbox) broken() bool { return false }

func (sb *sandbox) close() {}

// serveSpawner fails: there is no spawner off Linux, as there are no runs.
func serveSpawner(sock *os.File) error {
	sock.Close()
	return errors.New("there are no runs, hence no spawner, on " + runtime.GOOS)
}
