package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/agent/proto"
)

// Files of the state directory.
const (
	lockFile  = "agent.lock" // flock'ed by the running agent
	stateFile = "agent.json" // proto.State of the running agent
	mountsDir = "mounts"     // one proto.MountFile per mount, named by its id
)

// stateWait bounds the wait for the agent that holds the lock to write
// its state file (it takes the lock before it listens).
const stateWait = 5 * time.Second

// lockState takes the state directory's lock without waiting. held is
// true, and f nil, when another process holds it. The lock lasts until f
// is closed.
func lockState(dir string) (f *os.File, held bool, err error) {
	f, err = os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("agent: opening the lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("agent: locking %s: %w", dir, err)
	}
	return f, false, nil
}

// readState reads the state file of the agent that holds the lock,
// waiting up to stateWait for it to appear.
func readState(dir string) ([]byte, error) {
	deadline := time.Now().Add(stateWait)
	for {
		b, err := os.ReadFile(filepath.Join(dir, stateFile))
		if err == nil {
			var st proto.State
			if json.Unmarshal(b, &st) == nil && st.Port > 0 {
				return b, nil
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("agent: reading the running agent's state: %w", err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("agent: another agent holds %s but wrote no state within %v", dir, stateWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeState writes b as the state file atomically (a temporary file
// renamed into place), mode 0600. It is not synced: after a crash the
// next agent writes it anew.
func writeState(dir string, b []byte) error {
	f, err := os.CreateTemp(dir, ".agent-*.json")
	if err != nil {
		return fmt.Errorf("agent: writing the state file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, stateFile))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("agent: writing the state file: %w", err)
	}
	return nil
}

// printLine writes b and a newline to w in one write, and flushes w if
// it buffers.
func printLine(w io.Writer, b []byte) error {
	if _, err := w.Write(append(append([]byte{}, b...), '\n')); err != nil {
		return fmt.Errorf("agent: printing the state: %w", err)
	}
	if f, ok := w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return fmt.Errorf("agent: printing the state: %w", err)
		}
	}
	return nil
}

// compactLine is a state file's JSON on one line.
func compactLine(b []byte) ([]byte, error) {
	var st proto.State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("agent: the running agent's state: %w", err)
	}
	return json.Marshal(st)
}
