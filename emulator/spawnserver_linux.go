package emulator

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// spawnServer is the spawner's side of its socket (see spawner.go): it
// holds the namespaces of the emulator's sandboxes and starts runs in
// them. Every request is handled on a goroutine of its own, so that a slow
// namespace does not hold up runs of another sandbox.
type spawnServer struct {
	conn *spawnConn

	mu  sync.Mutex        // protects nss
	nss map[uint64]*runNS // by the ID of the request that made it
}

// serveSpawner answers the requests that come on sock until it closes,
// then releases every namespace. Runs still going keep running.
func serveSpawner(sock *os.File) error {
	conn, err := newSpawnConn(sock)
	if err != nil {
		return err
	}
	s := &spawnServer{conn: conn, nss: map[uint64]*runNS{}}
	defer s.releaseAll()
	for {
		var req spawnRequest
		fds, err := conn.receive(&req)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading a request: %w", err)
		}
		switch req.Op {
		case spawnMakeNS:
			closeFiles(fds)
			go s.makeNS(req)
		case spawnStart:
			go s.start(req, fds)
		case spawnRelease:
			closeFiles(fds)
			go s.release(req)
		default:
			closeFiles(fds)
			s.answer(spawnAnswer{ID: req.ID, Err: fmt.Sprintf("unknown request %d", req.Op)})
		}
	}
}

// answer sends a; if the socket broke, the read loop sees it and ends.
func (s *spawnServer) answer(a spawnAnswer) { _ = s.conn.send(a) }

func (s *spawnServer) makeNS(req spawnRequest) {
	ns, err := makeRunNS(req.Hosts, stepsFromWire(req.Steps), req.ForceUserNS)
	if err != nil {
		s.answer(spawnAnswer{ID: req.ID, Err: err.Error()})
		return
	}
	s.mu.Lock()
	s.nss[req.ID] = ns
	s.mu.Unlock()
	s.answer(spawnAnswer{ID: req.ID})
}

// start starts a run with the descriptors of the request as its stdout
// and stderr, answers its pid, waits for it and sends its exit.
func (s *spawnServer) start(req spawnRequest, fds []*os.File) {
	s.mu.Lock()
	ns := s.nss[req.NS]
	s.mu.Unlock()
	var err error
	switch {
	case ns == nil:
		err = fmt.Errorf("no namespace %d", req.NS)
	case len(fds) != 2:
		err = fmt.Errorf("%d descriptors came with the request, not stdout and stderr", len(fds))
	}
	if err != nil {
		closeFiles(fds)
		s.answer(spawnAnswer{ID: req.ID, Err: err.Error()})
		return
	}
	cmd, err := ns.start(req.Spec, fds[0], fds[1])
	closeFiles(fds) // the process has its own copies
	if err != nil {
		s.answer(spawnAnswer{ID: req.ID, Err: err.Error()})
		return
	}
	s.answer(spawnAnswer{ID: req.ID, Pid: cmd.Process.Pid})
	ws, err := childProcess{cmd}.wait()
	a := spawnAnswer{ID: req.ID, Exited: true, Status: uint32(ws)}
	if err != nil {
		a.Err = err.Error()
	}
	s.answer(a)
}

func (s *spawnServer) release(req spawnRequest) {
	s.mu.Lock()
	ns := s.nss[req.NS]
	delete(s.nss, req.NS)
	s.mu.Unlock()
	if ns != nil {
		ns.close()
	}
	s.answer(spawnAnswer{ID: req.ID})
}

func (s *spawnServer) releaseAll() {
	s.mu.Lock()
	nss := s.nss
	s.nss = map[uint64]*runNS{}
	s.mu.Unlock()
	for _, ns := range nss {
		ns.close()
	}
}
