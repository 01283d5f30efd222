package emulator

import (
	"errors"
	"os"
	"syscall"
)

// What the emulator asks of its spawner (see spawnclient_linux.go for the
// link itself): a namespace per sandbox, and runs started in it.

// nsRefusal is the spawner's reason why no namespace can be made.
type nsRefusal string

func (r nsRefusal) Error() string { return string(r) }

// makeNS has the spawner make a namespace (see makeRunNS). An nsRefusal
// says why none can be made; any other error is the spawner's.
func (sp *spawner) makeNS(hosts []string, steps []mountStep, forceUserNS bool) (*spawnedNS, error) {
	a, err := sp.call(spawnRequest{Op: spawnMakeNS, Hosts: hosts, Steps: stepsToWire(steps), ForceUserNS: forceUserNS})
	if err != nil {
		return nil, err
	}
	if a.Err != "" {
		return nil, nsRefusal(a.Err)
	}
	return &spawnedNS{sp: sp, id: a.ID}, nil
}

// spawnedNS is a namespace held by the spawner.
type spawnedNS struct {
	sp *spawner
	id uint64 // the ID of the request that made it
}

// start has the spawner start spec in the namespace, with stdout and
// stderr (the caller keeps and closes its copies).
func (ns *spawnedNS) start(spec runSpec, stdout, stderr *os.File) (process, error) {
	c, err := ns.sp.request(spawnRequest{Op: spawnStart, NS: ns.id, Spec: spec}, stdout, stderr)
	if err != nil {
		return nil, err
	}
	a, err := ns.sp.await(c.answer)
	if err != nil {
		return nil, err
	}
	if a.Err != "" {
		return nil, errors.New(a.Err)
	}
	return &spawnedProcess{sp: ns.sp, p: a.Pid, exit: c.exit}, nil
}

// close has the spawner release the namespace.
func (ns *spawnedNS) close() {
	_, _ = ns.sp.call(spawnRequest{Op: spawnRelease, NS: ns.id})
}

// spawnedProcess is a run the spawner started: its child, in this
// process's PID namespace.
type spawnedProcess struct {
	sp   *spawner
	p    int
	exit chan spawnAnswer
}

func (p *spawnedProcess) pid() int { return p.p }

func (p *spawnedProcess) wait() (syscall.WaitStatus, error) {
	a, err := p.sp.await(p.exit)
	if err != nil {
		return 0, err
	}
	if a.Err != "" {
		return 0, errors.New(a.Err)
	}
	return syscall.WaitStatus(a.Status), nil
}
