package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// The model of runs and sessions.
//
// A session is a queue: one run executes at a time (its "current" run, the
// session's foreground); later runs wait, state pending, and start in
// order. The interrupt rule: a run entering a session whose current run was
// backgrounded (its caller got a 202, or went away before the answer)
// interrupts that run: SIGINT to its process group, SIGKILL 2 s later if it
// is still there; the interrupted run ends failed, fail_reason
// "interrupted", and the new run starts once it is gone. A run whose caller
// still waits for it is never interrupted: the new run queues behind it.
//
// Each run is a fresh `sh -c COMMAND` in the session's working directory
// with the session's environment: a cd or export does not carry over to the
// next run, as it would in a real session's shell.

// Run limits.
const (
	defaultTimeToBackground = 300 // seconds
	interruptGrace          = 2 * time.Second
	outputWindow            = 10 << 20 // bytes of stdout and stderr kept, combined
	maxRunRecords           = 2000     // finished runs remembered
	runWaitDelay            = 500 * time.Millisecond
)

// Fail reasons.
const (
	failTimeout        = "timeout"
	failInterrupted    = "interrupted"
	failSessionDeleted = "session deleted"
	failServerClosed   = "server closed"
)

// runStore holds the sessions and runs of the VM.
//
// Lock order: runStore.mu, then output.mu. Never held across a process
// start or wait.
type runStore struct {
	maps       *mappings
	runLatency time.Duration
	maxRecords int // finished runs remembered (maxRunRecords; lowered by tests)

	sbMu        sync.Mutex // protects the fields below
	sb          *sandbox   // made on first use, stopped by Close
	sbErr       *apiError  // why no sandbox can be made, once known
	forceUserNS bool       // tests: skip the namespace thread
	inProcess   bool       // tests: no spawner, though the program opted in

	mu       sync.Mutex // protects the fields below
	sessions map[string]*session
	byIdx    map[int]*session
	runs     map[string]*run
	order    []*run                // runs by creation, for bounds and listing
	idem     map[string]*idemEntry // by Idempotency-Key
}

// session is a shell of the VM in which runs queue.
type session struct {
	id      string
	idx     int
	cwd     string
	env     map[string]string
	started time.Time
	timeout *int64 // PATCH timeout_secs (PTY idle limit; kept, unused)

	current *run   // the run executing; nil when idle
	queue   []*run // pending runs, in order
}

// run is one command. Fields other than the immutable ones are protected
// by runStore.mu.
type run struct {
	id      string
	sess    *session
	command string
	timeout time.Duration // 0 = none
	created time.Time
	out     *output
	done    chan struct{} // closed when the run is terminal

	state        string
	started      time.Time
	completed    time.Time
	exitCode     *int
	failReason   string
	backgrounded bool   // its caller got a 202 or went away
	killReason   string // set when the emulator ends it: a fail reason
	cancelled    bool   // DELETE marked the record
	pgid         int    // process group, once started
	exited       bool   // the process was waited for
	kill         func() // kills the process group (SIGKILL); nil before start
}

// idemEntry binds an Idempotency-Key to the request it first came with.
type idemEntry struct {
	digest [32]byte
	runID  string
}

func newRunStore(ms *mappings, runLatency time.Duration) *runStore {
	rs := &runStore{maps: ms, runLatency: runLatency, maxRecords: maxRunRecords, sessions: map[string]*session{}, byIdx: map[int]*session{},
		runs: map[string]*run{}, idem: map[string]*idemEntry{}}
	rs.mu.Lock()
	rs.newSessionLocked(0, HomeDir, nil)
	rs.mu.Unlock()
	return rs
}

// newID returns a fresh id with prefix.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newSessionLocked makes a session with index idx.
// LOCKS_REQUIRED(rs.mu)
func (rs *runStore) newSessionLocked(idx int, cwd string, env map[string]string) *session {
	ss := &session{id: newID("ses_"), idx: idx, cwd: cwd, env: maps.Clone(env), started: time.Now()}
	rs.sessions[ss.id] = ss
	rs.byIdx[idx] = ss
	return ss
}

// freeIndexLocked is the lowest session index ≥ 1 not in use.
// LOCKS_REQUIRED(rs.mu)
func (rs *runStore) freeIndexLocked() int {
	for i := 1; ; i++ {
		if _, ok := rs.byIdx[i]; !ok {
			return i
		}
	}
}

// sessionFor resolves a run's session: by id (unknown: not_found), else by
// index (found or made), else the default session (index 0).
// LOCKS_REQUIRED(rs.mu)
func (rs *runStore) sessionForLocked(id *string, idx *int) (*session, *apiError) {
	if id != nil {
		ss, ok := rs.sessions[*id]
		if !ok {
			return nil, notFound(wire.ResourceSession, "no such session: %q", *id)
		}
		return ss, nil
	}
	i := 0
	if idx != nil {
		i = *idx
	}
	if ss, ok := rs.byIdx[i]; ok {
		return ss, nil
	}
	return rs.newSessionLocked(i, HomeDir, nil), nil
}

// busy reports whether the session has a run pending or running.
// LOCKS_REQUIRED(rs.mu)
func (ss *session) busy() bool { return ss.current != nil || len(ss.queue) > 0 }

// view is the session as the API shows it.
// LOCKS_REQUIRED(rs.mu)
func (ss *session) view() wire.Session {
	state := wire.SessionIdle
	if ss.busy() {
		state = wire.SessionRunning
	}
	idx := ss.idx
	return wire.Session{SessionID: ss.id, State: state, Cwd: ss.cwd, SessionIdx: &idx,
		Env: maps.Clone(ss.env), StartedAt: rfc3339(ss.started)}
}

// sessionList is every session, by index.
func (rs *runStore) sessionList() []wire.Session {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	idxs := slices.Sorted(maps.Keys(rs.byIdx))
	out := make([]wire.Session, 0, len(idxs))
	for _, i := range idxs {
		out = append(out, rs.byIdx[i].view())
	}
	return out
}

// enqueueLocked adds r to its session: it starts at once when the session
// is idle, interrupts a backgrounded current run, and otherwise waits.
// LOCKS_REQUIRED(rs.mu)
func (rs *runStore) enqueueLocked(r *run) {
	ss := r.sess
	rs.runs[r.id] = r
	rs.order = append(rs.order, r)
	ss.queue = append(ss.queue, r)
	if cur := ss.current; cur != nil && cur.backgrounded {
		rs.interruptLocked(cur)
	}
	rs.startNextLocked(ss)
}

// startNextLocked starts the session's next pending run when it is idle.
// LOCKS_REQUIRED(rs.mu)
func (rs *runStore) startNextLocked(ss *session) {
	if ss.current != nil || len(ss.queue) == 0 {
		return
	}
	r := ss.queue[0]
	ss.queue = ss.queue[1:]
	ss.current = r
	r.state, r.started = wire.RunRunning, time.Now()
	go rs.execute(r)
}

// interruptLocked applies the interrupt rule to r: SIGINT now, SIGKILL
// after interruptGrace. A run not started yet is not started.
// LOCKS_REQUIRED(rs.mu)
func (rs *runStore) interruptLocked(r *run) {
	if r.killReason != "" {
		return
	}
	r.killReason = failInterrupted
	if r.pgid == 0 || r.exited {
		return // execute sees killReason before starting the process
	}
	_ = syscall.Kill(-r.pgid, syscall.SIGINT)
	time.AfterFunc(interruptGrace, func() {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if !r.exited && r.kill != nil {
			r.kill()
		}
	})
}

// endLocked ends r's process with reason (SIGKILL to its group), or ends a
// pending r at once.
// LOCKS_REQUIRED(rs.mu)
func (rs *runStore) endLocked(r *run, reason string) {
	if r.state == wire.RunPending {
		r.sess.queue = slices.DeleteFunc(r.sess.queue, func(q *run) bool { return q == r })
		r.failReason = reason
		rs.finishLocked(r, wire.RunFailed, nil)
		return
	}
	if r.killReason == "" {
		r.killReason = reason
	}
	if r.kill != nil && !r.exited {
		r.kill()
	}
}

// finishLocked makes r terminal with state (a cancelled record stays
// cancelled) and exit code.
// LOCKS_REQUIRED(rs.mu)
func (rs *runStore) finishLocked(r *run, state string, exit *int) {
	if r.cancelled {
		state = wire.RunCancelled
	}
	r.state, r.exitCode, r.completed = state, exit, time.Now()
	if r.started.IsZero() {
		r.started = r.completed
	}
	close(r.done)
	if r.sess.current == r {
		r.sess.current = nil
		rs.startNextLocked(r.sess)
	}
	rs.trimLocked()
}

// trimLocked drops the oldest finished runs beyond maxRecords, with
// their idempotency keys.
// LOCKS_REQUIRED(rs.mu)
func (rs *runStore) trimLocked() {
	finished := 0
	for _, r := range rs.order {
		if isClosed(r.done) {
			finished++
		}
	}
	if finished <= rs.maxRecords {
		return
	}
	drop := finished - rs.maxRecords
	kept := rs.order[:0]
	for _, r := range rs.order {
		if drop > 0 && isClosed(r.done) {
			drop--
			delete(rs.runs, r.id)
			for k, e := range rs.idem {
				if e.runID == r.id {
					delete(rs.idem, k)
				}
			}
			continue
		}
		kept = append(kept, r)
	}
	clear(rs.order[len(kept):])
	rs.order = kept
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// killAll ends every run: pending ones at once, running ones by SIGKILL.
func (rs *runStore) killAll() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, ss := range rs.sessions {
		for _, r := range slices.Clone(ss.queue) {
			rs.endLocked(r, failServerClosed)
		}
		if ss.current != nil {
			rs.endLocked(ss.current, failServerClosed)
		}
	}
}

// deleteSession ends the session's runs and forgets it.
func (rs *runStore) deleteSession(id string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	ss, ok := rs.sessions[id]
	if !ok {
		return false
	}
	for _, r := range slices.Clone(ss.queue) {
		rs.endLocked(r, failSessionDeleted)
	}
	if ss.current != nil {
		rs.endLocked(ss.current, failSessionDeleted)
	}
	delete(rs.sessions, id)
	if rs.byIdx[ss.idx] == ss {
		delete(rs.byIdx, ss.idx)
	}
	return true
}

// getSandbox returns the sandbox, making it on first use, and again if
// its spawner went away. Why none can be made is kept; a failure of the
// spawner is not, so that the next run tries again.
func (rs *runStore) getSandbox() (*sandbox, *apiError) {
	rs.sbMu.Lock()
	defer rs.sbMu.Unlock()
	if rs.sb != nil && rs.sb.broken() {
		rs.sb.close()
		rs.sb = nil
	}
	if rs.sb != nil || rs.sbErr != nil {
		return rs.sb, rs.sbErr
	}
	sb, aerr := newSandbox(rs.maps.list, rs.forceUserNS, rs.inProcess)
	if aerr == nil || aerr.code != wire.CodeInternal {
		rs.sb, rs.sbErr = sb, aerr
	}
	return sb, aerr
}

// stopSandbox releases the sandbox; the next run makes a new one.
func (rs *runStore) stopSandbox() {
	rs.sbMu.Lock()
	sb := rs.sb
	rs.sb, rs.sbErr = nil, nil
	rs.sbMu.Unlock()
	if sb != nil {
		sb.close()
	}
}
