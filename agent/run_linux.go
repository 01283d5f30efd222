//go:build linux

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/arker-ai/arkerfs/agent/proto"
)

// shutdownWait bounds the wait for requests in flight when the agent
// stops.
const shutdownWait = 10 * time.Second

// Run serves the protocol until no request has arrived for o.Idle, or
// ctx ends, and returns nil then. One agent runs per state directory: if
// another holds its lock, Run prints that agent's state line on
// o.Stdout and returns nil at once. Otherwise it listens on o.Listen,
// writes its state file (agent.json) and prints the same line, serves,
// and removes the state file when it ends. Run never changes user: it
// serves with the permissions of whoever started it.
func Run(ctx context.Context, o Options) error {
	o = o.withDefaults()
	if o.StateDir == "" {
		return errors.New("agent: no state directory")
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	lock, held, err := lockState(o.StateDir)
	if err != nil {
		return err
	}
	if held {
		return printRunning(o)
	}
	defer lock.Close() // last: the state file goes before the lock
	if err := os.MkdirAll(filepath.Join(o.StateDir, mountsDir), 0o700); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer ln.Close()
	st := proto.State{Version: o.Version, Protocol: proto.Version, Port: ln.Addr().(*net.TCPAddr).Port, PID: os.Getpid()}
	line, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if err := writeState(o.StateDir, line); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(o.StateDir, stateFile))
	if err := printLine(o.Stdout, line); err != nil {
		return err
	}
	o.Logf("agent %s (protocol %d, pid %d) listening on %s, state in %s", o.Version, proto.Version, st.PID, ln.Addr(), o.StateDir)
	return serve(ctx, ln, o)
}

// printRunning prints the state line of the agent that holds the lock.
func printRunning(o Options) error {
	b, err := readState(o.StateDir)
	if err != nil {
		return err
	}
	line, err := compactLine(b)
	if err != nil {
		return err
	}
	o.Logf("an agent runs already for %s: %s", o.StateDir, line)
	return printLine(o.Stdout, line)
}

// serve answers requests on ln until the agent is idle or ctx ends, then
// lets the requests in flight finish.
func serve(ctx context.Context, ln net.Listener, o Options) error {
	idle := newIdleWatch()
	feeds := newFeeds(o.Logf)
	defer feeds.close()
	// Long polls of the change feed end when the agent stops (bctx).
	bctx, stopPolls := context.WithCancel(context.Background())
	defer stopPolls()
	srv := &http.Server{
		Handler: &handler{version: o.Version, logf: o.Logf, idle: idle, exec: Exec, feeds: feeds,
			mounts: newMounts(filepath.Join(o.StateDir, mountsDir))},
		BaseContext:       func(net.Listener) context.Context { return bctx },
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(logWriter(o.Logf), "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idled := make(chan bool, 1)
	go func() { idled <- idle.wait(wctx, o.Idle) }()
	var err error
	select {
	case <-idled:
		o.Logf("no request for %v: stopping", o.Idle)
	case <-ctx.Done():
		o.Logf("stopping: %v", context.Cause(ctx))
		<-idled
	case err = <-served:
		err = fmt.Errorf("agent: serving: %w", err)
		cancel()
		<-idled
	}
	stopPolls()
	sctx, scancel := context.WithTimeout(context.Background(), shutdownWait)
	defer scancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		o.Logf("stopping: %v", serr)
	}
	return err
}
