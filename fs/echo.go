package fs

import (
	"strings"
	"sync"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// echoWindow is how long after the VM answered a change of a path the
// change feed's report of that path is taken for the echo of the change
// itself, and ignored. The feed reports a change within milliseconds of
// it, before or just after its answer; a change the VM's own programs
// make to the same path within the window shows only when the TTLs run
// out.
const echoWindow = time.Second

// maxEchoes bounds the paths echoes remembers; past it, those older than
// echoWindow go (and when all are recent, the oldest knowledge goes all
// at once: some echoes are then taken for the VM's changes, which costs
// lookups, never a wrong answer).
const maxEchoes = 8192

// echoes remembers when the mount last sent a change of each path, so
// that the change feed, which reports the mount's own changes too, does
// not make the mount forget what it knows of them: forgetting would cost
// a lookup each, and the kernel would drop the nodes of files it holds,
// whose inode numbers would then change under the programs using them
// (a file numbered before its first upload takes the VM's number on its
// next lookup), and a working directory would become unreachable.
type echoes struct {
	mu sync.Mutex           // protects at
	at map[string]time.Time // path → when a change of it was last sent
}

// sent records that ops are being sent to the VM now, or were answered
// now: callers call it both before sending and after the answer.
func (e *echoes) sent(ops ...transport.MetaOp) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, op := range ops {
		if helper.ReadOnly(op.Kind) {
			continue
		}
		e.putLocked(op.Path, now)
		if op.Path2 != "" {
			e.putLocked(op.Path2, now)
		}
	}
}

// uploaded records that the content of path is being sent now, or was
// just put in place: callers call it before and after.
func (e *echoes) uploaded(path string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.putLocked(path, time.Now())
}

func (e *echoes) putLocked(path string, now time.Time) {
	if e.at == nil {
		e.at = make(map[string]time.Time)
	}
	if len(e.at) >= maxEchoes {
		for p, t := range e.at {
			if now.Sub(t) > echoWindow {
				delete(e.at, p)
			}
		}
		if len(e.at) >= maxEchoes {
			e.at = make(map[string]time.Time)
		}
	}
	e.at[path] = now
}

// isEcho reports whether a report of path is likely the echo of the
// mount's own change: a change of it was sent within echoWindow, or it
// is the temporary name of an upload.
func (e *echoes) isEcho(path string) bool {
	if _, name := splitPath(path); strings.HasPrefix(name, transport.TempPrefix) {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.at[path]
	return ok && time.Since(t) <= echoWindow
}
