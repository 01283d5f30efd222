package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Bounds on the mount's life cycle.
const (
	mountWait   = 30 * time.Second // for the mount to appear
	unmountWait = 2 * time.Minute  // for the process to upload what is pending and exit
	pollEvery   = 20 * time.Millisecond
)

// mount is one `arkerfs mount` child process and its mountpoint.
type mount struct {
	bin  string
	dir  string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// startMount runs `bin args...` and waits until dir shows in mountinfo.
// The process is ended when ctx ends.
func startMount(ctx context.Context, bin string, args []string, dir string, env []string, logPath string) (*mount, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("mount log: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	m := &mount{bin: bin, dir: dir, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		m.err = cmd.Wait()
		logf.Close()
		close(m.done)
	}()
	deadline := time.NewTimer(mountWait)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !isMounted(dir) {
		select {
		case <-m.done:
			return m, fmt.Errorf("arkerfs mount exited before mounting (%v): %s", m.err, m.logTail())
		case <-deadline.C:
			return m, fmt.Errorf("%s did not appear in mountinfo within %v: %s", dir, mountWait, m.logTail())
		case <-ctx.Done():
			return m, ctx.Err()
		case <-tick.C:
		}
	}
	return m, nil
}

// pid is the mount process's id.
func (m *mount) pid() int { return m.cmd.Process.Pid }

// unmount unmounts with `arkerfs unmount` and waits for the process to
// exit; if that does not work in time it detaches the mount and ends the
// process. Calling it again is harmless.
func (m *mount) unmount() error {
	select {
	case <-m.done:
		if isMounted(m.dir) {
			detach(m.dir)
		}
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, uerr := exec.CommandContext(ctx, m.bin, "unmount", m.dir).CombinedOutput()
	if uerr != nil {
		uerr = fmt.Errorf("arkerfs unmount: %w: %s", uerr, strings.TrimSpace(string(out)))
		_, _ = exec.CommandContext(ctx, m.bin, "unmount", "--lazy", m.dir).CombinedOutput()
	}
	select {
	case <-m.done:
	case <-time.After(unmountWait):
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.done
		}
		if isMounted(m.dir) {
			detach(m.dir)
		}
		return errors.Join(uerr, fmt.Errorf("arkerfs mount did not exit within %v of unmount: %s", unmountWait, m.logTail()))
	}
	if uerr == nil && m.err != nil {
		uerr = fmt.Errorf("arkerfs mount exited with %v: %s", m.err, m.logTail())
	}
	return uerr
}

// logTail is the end of the mount's log, for error messages.
func (m *mount) logTail() string {
	b, _ := os.ReadFile(m.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// waitAgent waits until the mount's log says which path metadata takes:
// an error unless it is the agent.
func (m *mount) waitAgent(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, mountWait)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		b, _ := os.ReadFile(m.log)
		switch {
		case strings.Contains(string(b), "metadata goes through the agent"):
			return nil
		case strings.Contains(string(b), "metadata goes through runs"):
			return fmt.Errorf("the mount did not start its agent: %s", m.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the mount's agent did not answer within %v: %s", mountWait, m.logTail())
		case <-m.done:
			return fmt.Errorf("arkerfs mount exited (%v): %s", m.err, m.logTail())
		case <-tick.C:
		}
	}
}

// path is a path inside the mount.
func (m *mount) path(rel string) string { return m.dir + "/" + rel }
