package emulator

import (
	"errors"
	"os"
)

// sandbox starts commands with every mapping seen at its VM path, from a
// namespace (see runNS) held by the spawner when the program opted in to
// it (see spawner.go), by this process otherwise. Where no namespace can
// be made, runs are refused with unsupported_operation: a command never
// runs anywhere else.
type sandbox struct {
	local  *runNS     // held by this process
	remote *spawnedNS // held by the spawner
}

// newSandbox makes the sandbox of list; forceUserNS skips the namespace
// thread, inProcess the spawner (tests).
func newSandbox(list []*mapping, forceUserNS, inProcess bool) (*sandbox, *apiError) {
	vms := make([]string, len(list))
	hosts := make([]string, len(list))
	for i, m := range list {
		vms[i], hosts[i] = m.vm, m.host
	}
	steps, err := planMounts(vms, isHostDir)
	if err != nil {
		return nil, unsupportedRuns("runs cannot show the VM's directories: %v", err)
	}
	if !spawnerOptIn.Load() || inProcess {
		ns, err := makeRunNS(hosts, steps, forceUserNS)
		if err != nil {
			return nil, noRunNS(err)
		}
		return &sandbox{local: ns}, nil
	}
	sp, err := sharedSpawner()
	if err != nil {
		return nil, internalError("runs: %v", err)
	}
	ns, err := sp.makeNS(hosts, steps, forceUserNS)
	var refusal nsRefusal
	switch {
	case errors.As(err, &refusal):
		return nil, noRunNS(refusal)
	case err != nil:
		return nil, internalError("runs: %v", err)
	}
	return &sandbox{remote: ns}, nil
}

// noRunNS is the refusal of runs where no namespace can be made, why.
func noRunNS(why error) *apiError {
	return unsupportedRuns(
		"runs need a private mount namespace to show the VM's directories at their paths, and none can be made here (%v)", why)
}

func isHostDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// start starts spec in the sandbox, in its own process group, stdin
// /dev/null, stdout and stderr the files given (the caller keeps and
// closes its copies).
func (sb *sandbox) start(spec runSpec, stdout, stderr *os.File) (process, error) {
	if sb.remote != nil {
		return sb.remote.start(spec, stdout, stderr)
	}
	cmd, err := sb.local.start(spec, stdout, stderr)
	if err != nil {
		return nil, err
	}
	return childProcess{cmd}, nil
}

// broken reports whether the sandbox can start nothing more: its spawner
// went away.
func (sb *sandbox) broken() bool { return sb.remote != nil && sb.remote.sp.broken() }

func (sb *sandbox) close() {
	if sb.local != nil {
		sb.local.close()
	}
	if sb.remote != nil {
		sb.remote.close()
	}
}
