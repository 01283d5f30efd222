package emulator

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// spawner is this process's link to a spawner process (see spawner.go).
// Its methods are safe for concurrent use.
type spawner struct {
	conn   *spawnConn
	proc   *exec.Cmd
	exited chan struct{} // closed once proc was waited for; waitErr is its end
	gone   chan struct{} // closed once the link broke; err says why
	// waitErr is what waiting for proc returned; read once exited is closed.
	waitErr error

	mu     sync.Mutex            // protects the fields below
	lastID uint64                // the ID of the last request
	calls  map[uint64]*spawnCall // requests awaiting their answer, starts their exit
	err    error                 // why the link broke; set before gone is closed
	closed bool                  // close was called
}

// spawnCall is a request awaiting its answers.
type spawnCall struct {
	start  bool
	answer chan spawnAnswer // the answer (buffered)
	exit   chan spawnAnswer // a start's exit (buffered)
}

// spawnerArgv0 names the spawner in ps.
const spawnerArgv0 = "arker-emulator-spawner"

// theSpawner is the spawner of this process: started by the first sandbox
// made after the program opted in, shared by every later one, so that
// this process forks once, before it has mounted anything. Another starts
// only if it went away.
var theSpawner struct {
	mu sync.Mutex // protects sp
	sp *spawner
}

// sharedSpawner returns the spawner of this process, starting it if
// there is none (or it went away).
func sharedSpawner() (*spawner, error) {
	theSpawner.mu.Lock()
	defer theSpawner.mu.Unlock()
	if sp := theSpawner.sp; sp != nil && !sp.broken() {
		return sp, nil
	}
	sp, err := startSpawner()
	if err != nil {
		return nil, err
	}
	theSpawner.sp = sp
	return sp, nil
}

// startSpawner executes this binary again as a spawner, its socket as
// its first extra file. It is in a process group of its own, so that
// Ctrl-C at a terminal reaches this process only, and it is killed if
// this process dies.
func startSpawner() (*spawner, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("the spawner's socket: %w", err)
	}
	ours := os.NewFile(uintptr(pair[0]), "spawner socket")
	theirs := os.NewFile(uintptr(pair[1]), "spawner socket")
	defer theirs.Close() // the spawner has its copy once started
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{spawnerArgv0},
		Env:         append(os.Environ(), spawnerEnv+"="+spawnerEnvValue),
		Stderr:      os.Stderr,
		ExtraFiles:  []*os.File{theirs}, // fd 3: spawnerFD
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	sp := &spawner{proc: cmd, exited: make(chan struct{}), gone: make(chan struct{}), calls: map[uint64]*spawnCall{}}
	started := make(chan error, 1)
	go sp.own(started)
	if err := <-started; err != nil {
		ours.Close()
		return nil, fmt.Errorf("starting the spawner: %w", err)
	}
	if sp.conn, err = newSpawnConn(ours); err != nil {
		_ = cmd.Process.Kill()
		<-sp.exited
		return nil, err
	}
	go sp.read()
	return sp, nil
}

// own starts the spawner and waits for its end, on a thread of its own:
// PR_SET_PDEATHSIG acts when the thread that forked the spawner ends, not
// the process, and the Go runtime ends a thread whose goroutine exits
// while locked to it (as nsThread's does). Locked here, the thread can
// serve no other goroutine until the spawner ended.
func (sp *spawner) own(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(sp.exited)
	if err := sp.proc.Start(); err != nil {
		sp.waitErr = err
		started <- err
		return
	}
	started <- nil
	sp.waitErr = sp.proc.Wait()
}

// read delivers the spawner's answers until the link breaks.
func (sp *spawner) read() {
	var err error
	for {
		var a spawnAnswer
		var fds []*os.File
		fds, err = sp.conn.receive(&a)
		closeFiles(fds) // answers carry none
		if err != nil {
			break
		}
		sp.deliver(a)
	}
	sp.conn.close() // the spawner exits when it reads the end
	sp.mu.Lock()
	closed := sp.closed
	sp.mu.Unlock()
	if !errors.Is(err, io.EOF) && !closed {
		_ = sp.proc.Process.Kill()
	}
	<-sp.exited
	switch {
	case closed:
		err = errors.New("the spawner was closed")
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("the spawner went away (%v)", sp.waitErr)
	default:
		err = fmt.Errorf("reading from the spawner: %w", err)
	}
	sp.mu.Lock()
	sp.err = err
	sp.calls = nil
	sp.mu.Unlock()
	close(sp.gone)
}

// deliver hands a to the request it answers.
func (sp *spawner) deliver(a spawnAnswer) {
	sp.mu.Lock()
	c := sp.calls[a.ID]
	if c != nil && (a.Exited || !c.start || a.Err != "") {
		delete(sp.calls, a.ID) // nothing more comes for it
	}
	sp.mu.Unlock()
	switch {
	case c == nil:
	case a.Exited:
		c.exit <- a
	default:
		c.answer <- a
	}
}

// request sends req, with fds, under a new ID.
func (sp *spawner) request(req spawnRequest, fds ...*os.File) (*spawnCall, error) {
	c := &spawnCall{start: req.Op == spawnStart, answer: make(chan spawnAnswer, 1), exit: make(chan spawnAnswer, 1)}
	sp.mu.Lock()
	if sp.err != nil {
		sp.mu.Unlock()
		return nil, sp.err
	}
	sp.lastID++
	req.ID = sp.lastID
	sp.calls[req.ID] = c
	sp.mu.Unlock()
	if err := sp.conn.send(req, fds...); err != nil {
		sp.mu.Lock()
		delete(sp.calls, req.ID)
		sp.mu.Unlock()
		return nil, fmt.Errorf("writing to the spawner: %w", err)
	}
	return c, nil
}

// await returns what comes on ch, or why it never will.
func (sp *spawner) await(ch chan spawnAnswer) (spawnAnswer, error) {
	select {
	case a := <-ch:
		return a, nil
	case <-sp.gone:
		select {
		case a := <-ch: // came just before the end
			return a, nil
		default:
			return spawnAnswer{}, sp.err
		}
	}
}

// call sends req and waits for its answer.
func (sp *spawner) call(req spawnRequest, fds ...*os.File) (spawnAnswer, error) {
	c, err := sp.request(req, fds...)
	if err != nil {
		return spawnAnswer{}, err
	}
	return sp.await(c.answer)
}

// broken reports whether the link broke: nothing more can be started.
func (sp *spawner) broken() bool {
	select {
	case <-sp.gone:
		return true
	default:
		return false
	}
}

// close ends the link; the spawner exits, and runs it started go on.
func (sp *spawner) close() {
	sp.mu.Lock()
	sp.closed = true
	sp.mu.Unlock()
	sp.conn.close()
	<-sp.gone
}
