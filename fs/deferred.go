package fs

import (
	"context"
	"github.com/hanwen/go-fuse/v2/fuse"
	"sync"
	"time"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// deferDelay is how long an attribute change may wait for another
// operation to travel with before it is sent on its own.
const deferDelay = 50 * time.Millisecond

// deferred holds attribute changes (chmod, utimens) that were answered
// from the cache at once and go to the VM with the next run: tools set a
// file's mode and times right before renaming it into place (rsync, tar,
// cp -p), and sending those with the rename saves two round trips a file.
// Every later run carries them first, so the VM applies them in order; an
// upload of a file with a pending time change sends them before it.
// A deferred change that fails on the VM is logged, not returned.
type deferred struct {
	mu    sync.Mutex // protects the fields below
	ops   []transport.MetaOp
	timer *time.Timer
}

// add queues op and arms the timer that sends it if nothing else does.
func (f *FS) deferOp(op transport.MetaOp) {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ops = append(d.ops, op)
	if d.timer == nil {
		d.timer = time.AfterFunc(deferDelay, func() { _ = f.flushDeferred(context.Background()) })
	}
}

// takeDeferred removes and returns the queued changes.
func (f *FS) takeDeferred() []transport.MetaOp {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	ops := d.ops
	d.ops = nil
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	return ops
}

// hasDeferredTimes reports whether a time change of path is queued.
func (f *FS) hasDeferredTimes(path string) bool {
	d := &f.deferred
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, op := range d.ops {
		if op.Path == path && op.Kind == helper.OpUtimens {
			return true
		}
	}
	return false
}

// Flush sends the attribute changes still waiting for a run; the mount
// calls it after unmounting.
func (f *FS) Flush(ctx context.Context) error { return f.flushDeferred(ctx) }

// flushDeferred sends the queued changes now.
func (f *FS) flushDeferred(ctx context.Context) error {
	ops := f.takeDeferred()
	if len(ops) == 0 {
		return nil
	}
	_, err := f.runWith(ctx, ops, nil)
	return err
}

// runWith sends the deferred ops ahead of op (if any) in one run and
// returns op's result. Failures of deferred ops are logged.
func (f *FS) runWith(ctx context.Context, pending []transport.MetaOp, op *transport.MetaOp) (transport.MetaResult, error) {
	ops := pending
	if op != nil {
		ops = append(ops[:len(ops):len(ops)], *op)
	}
	ctx, cancel := f.opContext(context.WithoutCancel(ctx))
	defer cancel()
	res, err := f.client.Meta(ctx, ops...)
	if err != nil {
		for _, p := range pending {
			f.meta.forget(p.Path)
		}
		f.logf("could not apply %d attribute change(s): %v", len(pending), err)
		return transport.MetaResult{}, err
	}
	for i, p := range pending {
		if res[i].Err != nil {
			f.meta.forget(p.Path)
			f.logf("%s %q: %v", p.Kind, p.Path, res[i].Err)
		}
	}
	if op == nil {
		return transport.MetaResult{}, nil
	}
	r := res[len(res)-1]
	return r, r.Err
}

// deferSetattr answers a mode or time change from the cached attributes
// and queues it for the VM. It declines (false) when the attributes are
// not cached or the change is anything else.
func (n *node) deferSetattr(p string, in *fuse.SetAttrIn, out *fuse.AttrOut) bool {
	if p == "" || in.Valid&^(fuse.FATTR_MODE|fuse.FATTR_ATIME|fuse.FATTR_MTIME|fuse.FATTR_ATIME_NOW|fuse.FATTR_MTIME_NOW|fuse.FATTR_CTIME|fuse.FATTR_LOCKOWNER) != 0 {
		return false
	}
	e, st := n.fsys.meta.lookup(p)
	if st != exists {
		return false
	}
	t := now()
	if mode, ok := in.GetMode(); ok {
		e.Attr.Perm = mode & 07777
		n.fsys.deferOp(transport.MetaOp{Kind: helper.OpChmod, Path: p, Mode: mode & 07777})
	}
	if at, mt, ok := setTimes(in); ok {
		if at.Set {
			e.Attr.AtimeNs = timeValue(at, t)
		}
		if mt.Set {
			e.Attr.MtimeNs = timeValue(mt, t)
		}
		n.fsys.deferOp(transport.MetaOp{Kind: helper.OpUtimens, Path: p, Atime: at, Mtime: mt})
	}
	e.Attr.CtimeNs = t
	n.fsys.meta.noteAttr(p, e)
	a := e.Attr
	n.last.Store(&a)
	n.fsys.fillAttr(&e.Attr, &out.Attr)
	out.Attr.Ino = n.StableAttr().Ino
	out.SetTimeout(n.fsys.opts.AttrTTL)
	return true
}

func timeValue(t helper.Time, now int64) int64 {
	if t.Now {
		return now
	}
	return t.Ns
}
