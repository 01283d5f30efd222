package fs

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// deferDelay is how long the queue waits, after its latest change, for
// another operation to travel with before it is sent on its own.
const deferDelay = 50 * time.Millisecond

// deferMaxDelay bounds how long a queued change waits for the queue to go
// quiet: a steady stream of changes goes at this pace. A change replaced
// by a newer one of the same path (coalesce) counts from the newer: until
// the changes pause, only the last of them would matter on the VM.
const deferMaxDelay = time.Second

// deferred holds changes that were answered locally at once and go to the
// VM with the next run: attribute changes (chmod, utimens) of cached
// files, and mkdir in a directory whose listing is cached and lacks the
// name. Tools set a file's mode and times right before renaming it into
// place (rsync, tar, cp -p), and make a directory right before creating
// files in it: sending those with the next operation saves a round trip
// each. Every later run carries them first, and waits for runs that
// already carry earlier ones, so the VM applies them in order; an upload
// of a file with a pending time change, or below a directory not yet
// made on the VM, sends them before it. Changes of one path fold into
// one (coalesce.go), and at most Options.DeferLimit wait at a time
// (deferRoom). A deferred change that fails on the VM is logged, its
// cached state dropped, and the next fsync of its path reports it
// (settleDeferred).
type deferred struct {
	mu sync.Mutex // protects the fields below
	// ops are the changes queued for the next run, coalesced; at[i] is
	// when ops[i] last changed, zero for a change that arms no timer
	// (deferLazy).
	ops []transport.MetaOp
	at  []time.Time
	// timer sends ops once they have waited long enough (flushDelay); nil
	// while none is armed.
	timer *time.Timer
	// sending are the batches taken from ops whose run has not answered
	// yet, oldest first; inflight counts their ops.
	sending  []*deferredBatch
	inflight int
	// room is closed, and set to nil, whenever a batch of sending answers:
	// changes waiting for room (deferRoom) look again. nil while nobody
	// waits.
	room chan struct{}
	// waitLogged is set once a wait for room was logged: the mount says
	// it once, not at every change of a tar that fills the queue.
	waitLogged bool
	// refused holds the VM's refusals of deferred mkdirs by path, for an
	// fsync of the directory (or below it) to report whichever run sent
	// them; a new mkdir of the path clears its entry. At most maxRefused.
	refused map[string]error
	// refusedAttr holds the VM's refusals of deferred chmods and utimens
	// (or the failure of the run that carried them) by path, for the next
	// fsync of the path to report, whichever run sent them; that fsync
	// clears the entry. At most maxRefused.
	refusedAttr map[string]error
	// flush sends the queue when the timer fires: flushDeferred, or a
	// test's stand-in. Set by New, never changed.
	flush func()
}

// maxRefused bounds deferred.refused and deferred.refusedAttr; past it the
// oldest knowledge goes.
const maxRefused = 1024

// deferredBatch is deferred changes on their way to the VM in one run.
type deferredBatch struct {
	ops  []transport.MetaOp
	done chan struct{} // closed once the run answered and its outcome is recorded
}

// deferOp queues op and (re)arms the timer that sends the queue if
// nothing else does. The caller has waited for room (deferRoom) before
// answering the change locally; a change that must not fail (the times
// an upload leaves to set) may skip that and pass the limit by one.
func (f *FS) deferOp(op transport.MetaOp) {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	t := time.Now()
	d.queue(op, t)
	delay := flushDelay(t, d.at)
	if d.timer == nil {
		d.timer = time.AfterFunc(delay, d.flush)
	} else {
		d.timer.Reset(delay)
	}
}

// queue adds op to d.ops, stamped with t (zero: a change that arms no
// timer). d.mu must be held.
func (d *deferred) queue(op transport.MetaOp, t time.Time) {
	var i int
	d.ops, i = coalesce(d.ops, op)
	switch {
	case i == len(d.at):
		d.at = append(d.at, t)
	case !t.IsZero():
		d.at[i] = t // a newer change
	}
}

// flushDelay is how long from now a queue whose changes were last changed
// at the times at waits before it goes on its own: deferDelay after the
// latest change, and no longer than deferMaxDelay after the oldest. Zero
// times do not count.
func flushDelay(now time.Time, at []time.Time) time.Duration {
	var oldest, latest time.Time
	for _, t := range at {
		if t.IsZero() {
			continue
		}
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
		if t.After(latest) {
			latest = t
		}
	}
	if latest.IsZero() {
		return deferDelay
	}
	return max(0, min(latest.Add(deferDelay).Sub(now), oldest.Add(deferMaxDelay).Sub(now)))
}

// deferRoom waits until the queue has room for ops: fewer than
// Options.DeferLimit changes queued or on their way, or queued changes
// that every op of ops folds into. While it waits, the queue is sent at
// once. It gives up when ctx ends or after the operation timeout. Callers
// wait before answering a change locally and then queue it (deferOp,
// deferLazy): callers let in at the same moment may pass the limit by a
// change each.
func (f *FS) deferRoom(ctx context.Context, ops ...transport.MetaOp) error {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	fits := func() bool {
		if len(d.ops)+d.inflight < f.opts.DeferLimit {
			return true
		}
		for _, op := range ops {
			if mergeIndex(d.ops, op) < 0 {
				return false
			}
		}
		return true
	}
	if fits() {
		return nil
	}
	ctx, cancel := f.opContext(ctx)
	defer cancel()
	for !fits() {
		if !d.waitLogged {
			d.waitLogged = true
			f.logf("%d deferred changes wait for the VM, the limit: new ones wait for room (said once)", len(d.ops)+d.inflight)
		}
		if len(d.ops) > 0 { // send them now
			if d.timer == nil {
				d.timer = time.AfterFunc(0, d.flush)
			} else {
				d.timer.Reset(0)
			}
		}
		if d.room == nil {
			d.room = make(chan struct{})
		}
		room := d.room
		d.mu.Unlock()
		select {
		case <-room:
			d.mu.Lock()
		case <-ctx.Done():
			d.mu.Lock()
			return fmt.Errorf("waiting for room among %d deferred changes: %w", len(d.ops)+d.inflight, ctx.Err())
		}
	}
	return nil
}

// deferLazy queues op without arming the timer: a change that makes no
// difference the mount knows of (a chmod to the mode the file already
// has) waits for whatever run goes next. rsync sets a new temporary
// file's mode to the one it was created with and renames it only after
// its upload: sent on its own that change would cost a run of its own.
func (f *FS) deferLazy(op transport.MetaOp) {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queue(op, time.Time{})
}

// allOps yields the deferred changes on their way and then those queued,
// oldest first. d.mu must be held.
func (d *deferred) allOps() iter.Seq[transport.MetaOp] {
	return func(yield func(transport.MetaOp) bool) {
		for _, b := range d.sending {
			for _, op := range b.ops {
				if !yield(op) {
					return
				}
			}
		}
		for _, op := range d.ops {
			if !yield(op) {
				return
			}
		}
	}
}

// deferredMkdirs returns the directories made by deferred mkdirs that are
// queued or on their way.
func (f *FS) deferredMkdirs() []string {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for op := range d.allOps() {
		if op.Kind == helper.OpMkdir {
			out = append(out, op.Path)
		}
	}
	return out
}

// takeDeferred removes the queued changes for a run that will carry them.
// It also returns the batches taken earlier whose runs have not answered:
// the caller's run must wait for them (waitDeferred), or the VM could see
// its operation before theirs (a file created in a directory not made
// yet). The caller calls sent once its run has answered and its outcome
// is recorded.
func (f *FS) takeDeferred() (ops []transport.MetaOp, earlier []*deferredBatch, sent func()) {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	ops, d.ops, d.at = d.ops, nil, nil
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	earlier = slices.Clone(d.sending)
	if len(ops) == 0 {
		return nil, earlier, func() {}
	}
	b := &deferredBatch{ops: ops, done: make(chan struct{})}
	d.sending = append(d.sending, b)
	d.inflight += len(ops)
	return ops, earlier, func() {
		d.mu.Lock()
		if i := slices.Index(d.sending, b); i >= 0 {
			d.sending = slices.Delete(d.sending, i, i+1)
			d.inflight -= len(b.ops)
		}
		if d.room != nil {
			close(d.room)
			d.room = nil
		}
		d.mu.Unlock()
		close(b.done)
	}
}

// waitDeferred waits until the runs of the earlier batches have answered.
// A caller that took deferred changes itself (took is not empty) must
// send them whatever happens, so it waits even when ctx ends; the runs
// waited for are bounded by the operation timeout.
func waitDeferred(ctx context.Context, took []transport.MetaOp, earlier []*deferredBatch) error {
	if len(took) > 0 {
		ctx = context.WithoutCancel(ctx)
	}
	for _, b := range earlier {
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// mustPrecedeUpload reports whether a deferred change must reach the VM
// before an upload of path: a time change of path (the upload would
// otherwise set an mtime the change then overwrites), a mode change of
// path (the upload gives the new file the mode the VM's file has when it
// lands, and a chmod sent alongside could reach the file it replaces:
// cp -a's fchmod before close was lost that way), or the making of a
// directory above path (the upload needs it). Changes already on their
// way count too; flushDeferred waits for them.
func (f *FS) mustPrecedeUpload(path string) bool {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	for op := range d.allOps() {
		if (op.Kind == helper.OpUtimens || op.Kind == helper.OpChmod) && op.Path == path || op.Kind == helper.OpMkdir && isBelow(path, op.Path) {
			return true
		}
	}
	return false
}

// isBelow reports whether path lies strictly below directory dir.
func isBelow(path, dir string) bool {
	return len(path) > len(dir)+1 && strings.HasPrefix(path, dir) && path[len(dir)] == '/'
}

// Flush sends the changes still waiting for a run; the mount calls it
// after unmounting.
func (f *FS) Flush(ctx context.Context) error { return f.flushDeferred(ctx) }

// flushDeferred sends the queued changes now and waits for those already
// on their way. The error is the run's; refusals of single changes are
// logged and kept for fsync (see settleDeferred).
func (f *FS) flushDeferred(ctx context.Context) error {
	_, err := f.syncDeferred(ctx, "", true)
	return err
}

// syncDeferred is flushDeferred that also returns what an fsync of p
// reports (p "" asks for nothing): the VM's refusal of a deferred chmod or
// utimens of p, whichever run sent it, since an fsync last reported one;
// of a deferred mkdir of p (a directory) or of a directory above it,
// whichever run sent it; or, for a directory, of a change of an entry in
// it that this call sent.
func (f *FS) syncDeferred(ctx context.Context, p string, dir bool) (refused, err error) {
	ops, earlier, sent := f.takeDeferred()
	defer sent()
	if err := waitDeferred(ctx, ops, earlier); err != nil {
		return nil, err
	}
	if len(ops) > 0 {
		res, err := f.runDeferred(ctx, ops)
		if err != nil {
			f.takeRefusedAttr(p) // reported now
			return nil, err
		}
		for i, op := range ops {
			if e := res[i].Err; e != nil && dir && (op.Path == p || parentOf(op.Path) == p) {
				refused = e
				break
			}
		}
	}
	if e := f.takeRefusedAttr(p); refused == nil {
		refused = e
	}
	if refused == nil && p != "" {
		if !dir {
			p = parentOf(p)
		}
		refused = f.refusedAt(p)
	}
	return refused, nil
}

// deferredAt reports whether a deferred change that an fsync of file p
// waits for is queued or on its way: a change of p, or the making of a
// directory above it.
func (f *FS) deferredAt(p string) bool {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	for op := range d.allOps() {
		if op.Path == p || op.Kind == helper.OpMkdir && isBelow(p, op.Path) {
			return true
		}
	}
	return false
}

// noteRefusedAttr records that the VM refused a deferred chmod or utimens
// of path, or that the run carrying it failed.
func (f *FS) noteRefusedAttr(path string, err error) {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	putBounded(&d.refusedAttr, path, err)
}

// takeRefusedAttr returns and forgets the recorded refusal of a deferred
// chmod or utimens of path, if any.
func (f *FS) takeRefusedAttr(path string) error {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.refusedAttr[path]
	delete(d.refusedAttr, path)
	return err
}

// noteRefused records that the VM refused the deferred mkdir of path.
func (f *FS) noteRefused(path string, err error) {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	putBounded(&d.refused, path, err)
}

// putBounded records err for path in *m, starting *m afresh when it holds
// maxRefused entries: past the bound the oldest knowledge goes.
func putBounded(m *map[string]error, path string, err error) {
	if *m == nil || len(*m) >= maxRefused {
		*m = make(map[string]error)
	}
	(*m)[path] = err
}

// clearRefused forgets a refusal of path: it is being made again.
func (f *FS) clearRefused(path string) {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.refused, path)
}

// refusedAt returns the recorded refusal of a mkdir of dir or of a
// directory above it, if any.
func (f *FS) refusedAt(dir string) error {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	for p := dir; p != "" && p != "/"; p = parentOf(p) {
		if e, ok := d.refused[p]; ok {
			return e
		}
	}
	return nil
}

// runWith sends the deferred changes pending ahead of op in one run, and
// after op the subtree fetch refresh if any, and returns op's result.
// When op fails below a directory whose deferred mkdir the VM refused, op
// reports the refusal (ENOSPC, EACCES, …) rather than the missing
// directory it caused.
func (f *FS) runWith(ctx context.Context, pending []transport.MetaOp, op transport.MetaOp, refresh *transport.MetaOp) (transport.MetaResult, error) {
	ops := []transport.MetaOp{op}
	var since uint64
	if refresh != nil {
		ops = append(ops, *refresh)
		since = f.meta.begin()
		defer f.meta.end(since)
	}
	res, err := f.runDeferred(ctx, pending, ops...)
	if err != nil {
		return transport.MetaResult{}, err
	}
	if refresh != nil {
		if r := res[len(res)-1]; r.Err == nil {
			f.storeTree(refresh.Path, r, refresh.Depth, since)
		}
	}
	r := res[len(pending)]
	if r.Err != nil {
		for i, p := range pending {
			e := res[i].Err
			if p.Kind == helper.OpMkdir && e != nil && transport.CodeOf(e) != transport.CodeExists &&
				(isBelow(op.Path, p.Path) || op.Path2 != "" && isBelow(op.Path2, p.Path)) {
				r.Err = e
				break
			}
		}
	}
	return r, r.Err
}

// runDeferred sends pending, then more, in one run and records what the
// VM said of pending (settleDeferred). res has one result per op of
// pending and more. The run also stats the directories that pending
// makes directories in, after the mkdirs: their mtimes moved on the VM,
// and tools compare them (rsync leaves a directory's time alone when the
// mount shows the source's), so the cache takes the VM's.
func (f *FS) runDeferred(ctx context.Context, pending []transport.MetaOp, more ...transport.MetaOp) ([]transport.MetaResult, error) {
	stats := parentStats(pending)
	ops := make([]transport.MetaOp, 0, len(pending)+len(stats)+len(more))
	ops = append(append(append(ops, pending...), stats...), more...)
	ctx, cancel := f.opContext(context.WithoutCancel(ctx))
	defer cancel()
	f.echoes.sent(ops...)
	res, err := f.client.Meta(ctx, ops...)
	f.echoes.sent(ops...)
	if err != nil {
		f.settleDeferred(pending, nil, err)
		return nil, err
	}
	n, m := len(pending), len(pending)+len(stats)
	f.settleDeferred(pending, res[:n], nil)
	for i, st := range stats {
		if res[n+i].Err == nil {
			f.adoptAttr(st.Path, stats[i:i+1], res[n+i:n+i+1])
		}
	}
	return append(res[:n:n], res[m:]...), nil
}

// parentStats returns a stat of each directory that a mkdir of pending
// makes a directory in, once each.
func parentStats(pending []transport.MetaOp) []transport.MetaOp {
	var out []transport.MetaOp
	for _, op := range pending {
		if op.Kind != helper.OpMkdir {
			continue
		}
		dir := parentOf(op.Path)
		if !slices.ContainsFunc(out, func(o transport.MetaOp) bool { return o.Path == dir }) {
			out = append(out, transport.MetaOp{Kind: helper.OpStat, Path: dir})
		}
	}
	return out
}

// settleDeferred records the VM's answers to deferred changes. A change
// that failed (or whose run failed) leaves the cached state of its path
// uncertain: it is dropped, and the kernel is told to forget the
// attributes (or, for a directory that could not be made, the name), so
// the next look asks the VM; the failure waits for fsync of the path.
// A directory that was made takes the VM's attributes (the latest any
// change in this run reported).
func (f *FS) settleDeferred(pending []transport.MetaOp, res []transport.MetaResult, err error) {
	if err != nil && len(pending) > 0 {
		f.logf("could not send %d deferred change(s): %v", len(pending), err)
	}
	for i, p := range pending {
		e := err
		if e == nil {
			e = res[i].Err
		}
		switch {
		case e != nil && p.Kind == helper.OpMkdir:
			if transport.CodeOf(e) == transport.CodeExists {
				f.logf("mkdir %q: something was made there on the VM meanwhile; showing what the VM has", p.Path)
			} else {
				f.logf("mkdir %q: %v", p.Path, e)
			}
			f.noteRefused(p.Path, e)
			f.meta.forget(p.Path)
			f.meta.dropSubtree(p.Path)
			f.forgetEntry(p.Path)
		case e != nil:
			f.noteRefusedAttr(p.Path, e)
			f.meta.forget(p.Path)
			f.forgetAttr(p.Path)
			if err == nil {
				f.logf("%s %q: %v", p.Kind, p.Path, e)
			}
		case p.Kind == helper.OpMkdir:
			f.adoptAttr(p.Path, pending[i:], res[i:])
		}
	}
}

// adoptAttr replaces the locally guessed attributes of directory p with
// the VM's: the last that ops answered for it. It leaves them when a
// change of p, or a mkdir in it, still waits in the queue: the cache's
// guess is then newer than the VM's answer.
func (f *FS) adoptAttr(p string, ops []transport.MetaOp, res []transport.MetaResult) {
	var vm *helper.Attr
	for i, op := range ops {
		if op.Path == p && res[i].Err == nil && res[i].Attr != nil {
			vm = res[i].Attr
		}
	}
	cached, ok := f.meta.attrs.Get(p)
	if vm == nil || !ok || cached.Attr.Type != helper.TypeDir || vm.Type != helper.TypeDir || f.queuedAt(p) {
		return // changed or dropped meanwhile: the cache already knows better
	}
	cached.Attr = *vm
	f.meta.attrs.Set(p, cached)
}

// queuedAt reports whether a deferred change of dir, or a mkdir in it,
// waits in the queue.
func (f *FS) queuedAt(dir string) bool {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, op := range d.ops {
		if op.Path == dir || op.Kind == helper.OpMkdir && parentOf(op.Path) == dir {
			return true
		}
	}
	return false
}

// forgetEntry tells the kernel to drop its entry for path (if the mount
// has a node there), so that the next access looks it up again.
func (f *FS) forgetEntry(path string) {
	f.atNode(path, func(dir *gofs.Inode, name string) { _ = dir.NotifyEntry(name) })
}

// forgetAttr tells the kernel to drop the attributes it caches for the
// node at path, if the mount has one, so that the next stat asks us.
func (f *FS) forgetAttr(path string) {
	f.atNode(path, func(dir *gofs.Inode, name string) {
		if ch := dir.GetChild(name); ch != nil {
			_ = ch.NotifyContent(-1, 0) // attributes only, no page range
		}
	})
}

// atNode calls fn with the node of path's directory and path's name, if
// the mount has nodes down to that directory. It runs apart: the kernel
// may hold the directory's lock in the operation that called us.
func (f *FS) atNode(path string, fn func(dir *gofs.Inode, name string)) {
	go func() {
		if dir, name, ok := f.dirNodeOf(path); ok {
			fn(dir, name)
		}
	}()
}

// dirNodeOf finds the kernel node of the directory of path, a VM path
// strictly below the root, and path's last name; ok is false when the
// mount has no node down to that directory.
func (f *FS) dirNodeOf(path string) (dir *gofs.Inode, name string, ok bool) {
	rel, ok := strings.CutPrefix(path, f.opts.Root+"/")
	if !ok || rel == "" {
		return nil, "", false
	}
	dir = f.root.EmbeddedInode()
	names := strings.Split(rel, "/")
	for _, n := range names[:len(names)-1] {
		if dir = dir.GetChild(n); dir == nil {
			return nil, "", false
		}
	}
	return dir, names[len(names)-1], true
}

// deferSetattr answers a mode or time change from the cached attributes
// and queues it for the VM, once the queue has room (deferRoom: a wait
// that ends without room answers its error). It declines (false) when
// the attributes are not cached or the change is anything else.
func (n *node) deferSetattr(ctx context.Context, p string, in *fuse.SetAttrIn, out *fuse.AttrOut) (bool, syscall.Errno) {
	if p == "" || in.Valid&^(fuse.FATTR_MODE|fuse.FATTR_ATIME|fuse.FATTR_MTIME|fuse.FATTR_ATIME_NOW|fuse.FATTR_MTIME_NOW|fuse.FATTR_CTIME|fuse.FATTR_LOCKOWNER) != 0 {
		return false, 0
	}
	if _, st := n.fsys.meta.lookup(p); st != exists {
		return false, 0
	}
	var ops []transport.MetaOp
	mode, setMode := in.GetMode()
	if setMode {
		ops = append(ops, transport.MetaOp{Kind: helper.OpChmod, Path: p, Mode: mode & 07777})
	}
	at, mt, setTime := setTimes(in)
	if setTime {
		ops = append(ops, transport.MetaOp{Kind: helper.OpUtimens, Path: p, Atime: at, Mtime: mt})
	}
	if err := n.fsys.deferRoom(ctx, ops...); err != nil {
		return true, n.fsys.errno(err)
	}
	e, st := n.fsys.meta.lookup(p)
	if st != exists {
		return false, 0 // dropped while waiting: ask the VM
	}
	t := now()
	noop := false // a chmod to the mode the file has
	if setMode {
		noop = e.Attr.Perm == mode&07777
		e.Attr.Perm = mode & 07777
	}
	if setTime {
		if at.Set {
			e.Attr.AtimeNs = timeValue(at, t)
		}
		if mt.Set {
			e.Attr.MtimeNs = timeValue(mt, t)
		}
	}
	e.Attr.CtimeNs = t
	n.fsys.meta.noteAttr(p, e) // before the change can be sent and answered
	for _, op := range ops {
		if op.Kind == helper.OpChmod && noop {
			n.fsys.deferLazy(op)
		} else {
			n.fsys.deferOp(op)
		}
	}
	a := e.Attr
	n.last.Store(&a)
	n.fsys.fillAttr(&e.Attr, &out.Attr)
	out.Attr.Ino = n.StableAttr().Ino
	out.SetTimeout(n.fsys.opts.AttrTTL)
	return true, 0
}

func timeValue(t helper.Time, now int64) int64 {
	if t.Now {
		return now
	}
	return t.Ns
}
