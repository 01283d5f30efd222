package emulator

import (
	"fmt"
	"os"
	"sync/atomic"
)

// The spawner.
//
// A run is a child forked from the process that starts it. At execve the
// kernel closes the child's close-on-exec descriptors, and closing a
// descriptor of a file in a FUSE mount sends that mount's server a FLUSH.
// In a program that hosts the emulator and also has files of a mount of it
// open (the integration tests, the benchmark driver), that server may be
// waiting for this very run (an upload ends with one) while the run's exec
// waits for the flush: a deadlock, until the run times out.
//
// So runs are forked by the spawner: this program's binary executed again,
// started once per process by the first sandbox (the first Start, before
// anything is mounted), holding no descriptor but its socket to this
// process. It makes every sandbox's namespace (spawnserver_linux.go) and
// forks every run; this process keeps their output pipes and signals their
// process groups directly (spawnclient_linux.go). It exits when its socket
// closes: when this process ends, or when it is killed with it
// (PR_SET_PDEATHSIG).
//
// A program opts in by calling ServeSpawnerIfAsked first thing in main
// (or TestMain). Calling it is the opt-in, rather than an Options field,
// because only a binary that calls it can serve as the spawner: the call
// is both the ability and the choice. A program that does not call it runs
// commands from the emulator's own process, as it always did; that is safe
// wherever the process has no file of a mount of the emulator open.

// spawnerEnv marks a process started as the spawner; spawnerEnvValue is its
// value (a protocol version: a spawner of another build is refused).
const (
	spawnerEnv      = "ARKER_EMULATOR_SPAWNER"
	spawnerEnvValue = "1"
	spawnerFD       = 3 // the spawner's socket, its first extra file
)

// spawnerOptIn is set by ServeSpawnerIfAsked, once, before the program
// does anything else; read when a sandbox is made.
var spawnerOptIn atomic.Bool

// ServeSpawnerIfAsked must be called first thing in main, or in TestMain,
// by a program that hosts the emulator. In the process the emulator
// started as its spawner it serves as the spawner and exits, never
// returning. Anywhere else it returns at once, and the emulator's runs in
// this process are then started by a spawner rather than forked from this
// process (see the comment at the top of spawner.go).
func ServeSpawnerIfAsked() {
	v, ok := os.LookupEnv(spawnerEnv)
	if !ok {
		spawnerOptIn.Store(true)
		return
	}
	if v != spawnerEnvValue {
		fmt.Fprintf(os.Stderr, "arker emulator spawner: %s=%q, this build speaks %q\n", spawnerEnv, v, spawnerEnvValue)
		os.Exit(2)
	}
	os.Unsetenv(spawnerEnv)
	if err := serveSpawner(os.NewFile(spawnerFD, "spawner socket")); err != nil {
		fmt.Fprintf(os.Stderr, "arker emulator spawner: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}
