package fs

import (
	"context"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// lookupPath answers what is at path: from the caches, else by fetching
// the parent directory's subtree (one run answers the whole neighbourhood),
// else by a stat of path alone.
func (f *FS) lookupPath(ctx context.Context, path string) (helper.Entry, error) {
	if e, st := f.meta.lookup(path); st != unknown {
		return e, errIfMissing(st)
	}
	if err := f.fetchDir(ctx, parentOf(path)); err != nil {
		return helper.Entry{}, err
	}
	if e, st := f.meta.lookup(path); st != unknown {
		return e, errIfMissing(st)
	}
	return f.statPath(ctx, path)
}

func errIfMissing(st lookupState) error {
	if st == missing {
		return syscall.ENOENT
	}
	return nil
}

// statPath asks the VM for path's attributes and caches the answer.
func (f *FS) statPath(ctx context.Context, path string) (helper.Entry, error) {
	since := f.meta.begin()
	defer f.meta.end(since)
	r, err := f.metaOp(ctx, transport.MetaOp{Kind: helper.OpStat, Path: path})
	if err != nil {
		if transport.IsNotFound(err) {
			f.meta.storeMissing(path, since)
		}
		return helper.Entry{}, err
	}
	if r.Attr == nil {
		return helper.Entry{}, syscall.EIO
	}
	_, name := splitPath(path)
	e := helper.Entry{Name: name, Attr: *r.Attr, Target: r.Target}
	f.meta.storeStat(path, e, since)
	return e, nil
}

// listDir returns the entries of dir, from the cache or the VM.
func (f *FS) listDir(ctx context.Context, dir string) ([]helper.Entry, error) {
	if es, ok := f.meta.listing(dir); ok {
		return es, nil
	}
	if err := f.fetchDir(ctx, dir); err != nil {
		return nil, err
	}
	if es, ok := f.meta.listing(dir); ok {
		return es, nil
	}
	// The subtree fetch was cut before dir was complete, or a change of
	// ours since it began left it out: list dir alone.
	since := f.meta.begin()
	defer f.meta.end(since)
	r, err := f.metaOp(ctx, transport.MetaOp{Kind: helper.OpList, Path: dir})
	if err != nil {
		return nil, err
	}
	f.meta.storeListing(dir, r.Entries, since)
	f.keepDeferredMkdirs()
	return r.Entries, nil
}

// fetchDir fetches the subtree below dir, bounded in depth and entries,
// and caches every attribute and every directory listing it completes.
// Concurrent fetches of one directory share one run.
func (f *FS) fetchDir(ctx context.Context, dir string) error {
	_, err, _ := f.lists.Do(dir, func() (any, error) {
		depth, limit := f.opts.PrefetchDepth, f.opts.PrefetchLimit
		since := f.meta.begin()
		defer f.meta.end(since)
		r, err := f.metaOp(ctx, transport.MetaOp{Kind: helper.OpTree, Path: dir, Depth: depth, Limit: limit})
		if err != nil {
			if transport.IsNotFound(err) {
				f.meta.storeMissing(dir, since)
			}
			return nil, err
		}
		f.storeTree(dir, r, depth, since)
		return nil, nil
	})
	return err
}

// storeTree caches the answer r of a subtree fetch of dir to depth, asked
// at since.
func (f *FS) storeTree(dir string, r transport.MetaResult, depth int, since uint64) {
	f.meta.storeTree(dir, r.Entries, completeDirs(r.Entries, depth, r.Truncated), since)
	f.keepDeferredMkdirs()
}

// keepDeferredMkdirs puts back into the cached listings the directories
// made by deferred mkdirs that a listing just stored may not show yet.
func (f *FS) keepDeferredMkdirs() {
	for _, p := range f.deferredMkdirs() {
		f.meta.editListing(p, true)
	}
}

// completeDirs says which directories a subtree fetch listed completely,
// as paths relative to its root ("" is the root). The helper emits the
// entries level by level, and within a level grouped by directory in one
// order (find's), the one the level above listed those directories in.
// So when the fetch was cut in its last level L, every directory above
// level L-1 is complete, and at level L-1 those before the parent of the
// last entry kept; a fetch that was not cut completed every directory
// above the depth limit. Directories of level L, or at the limit, never
// are complete: their children were not listed.
func completeDirs(entries []helper.Entry, depth int, truncated bool) map[string]bool {
	level := func(name string) int { return strings.Count(name, "/") + 1 }
	complete := map[string]bool{}
	if !truncated {
		complete[""] = true
		for _, e := range entries {
			if e.Attr.Type == helper.TypeDir && level(e.Name) < depth {
				complete[e.Name] = true
			}
		}
		return complete
	}
	n := len(entries)
	if n == 0 {
		return complete
	}
	last := entries[n-1].Name
	cut := level(last)
	if cut > 1 {
		complete[""] = true
	}
	parent := ""
	if i := strings.LastIndexByte(last, '/'); i >= 0 {
		parent = last[:i]
	}
	for _, e := range entries {
		if e.Attr.Type != helper.TypeDir {
			continue
		}
		l := level(e.Name)
		if l == cut-1 && e.Name == parent {
			break // it and the directories of its level after it were cut
		}
		if l < cut {
			complete[e.Name] = true
		}
	}
	return complete
}

// getattr answers a getattr for a node without local state.
func (n *node) getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	p := n.vmPath()
	if p == "" {
		last := n.last.Load()
		if last == nil {
			return syscall.ENOENT
		}
		a := *last
		a.Nlink = 0
		n.fsys.fillAttr(&a, &out.Attr)
		out.Attr.Ino = n.StableAttr().Ino
		return 0
	}
	e, st := n.fsys.meta.lookup(p)
	var err error
	if st != exists {
		// Unknown, or gone by name while the kernel still holds the
		// inode (an open directory, a file not yet forgotten): ask the VM.
		e, err = n.fsys.statPath(ctx, p)
	}
	if err != nil {
		return n.fsys.errno(err)
	}
	a := e.Attr
	n.last.Store(&a)
	n.fsys.fillAttr(&e.Attr, &out.Attr)
	out.Attr.Ino = n.StableAttr().Ino
	out.SetTimeout(n.fsys.opts.AttrTTL)
	return 0
}

// setattr applies mode and time changes through the helper. Owner changes
// are accepted and ignored: every file appears owned by the mounting user.
func (n *node) setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := n.readOnly(); e != 0 {
		return e
	}
	p := n.vmPath()
	if ok, errno := n.deferSetattr(ctx, p, in, out); ok {
		return errno
	}
	var ops []transport.MetaOp
	if mode, ok := in.GetMode(); ok {
		ops = append(ops, transport.MetaOp{Kind: helper.OpChmod, Path: p, Mode: mode & 07777})
	}
	if at, mt, ok := setTimes(in); ok {
		ops = append(ops, transport.MetaOp{Kind: helper.OpUtimens, Path: p, Atime: at, Mtime: mt})
	}
	for _, op := range ops {
		r, err := n.fsys.metaOp(ctx, op)
		if err != nil {
			n.fsys.meta.forget(p)
			return n.fsys.errno(err)
		}
		if r.Attr != nil {
			_, name := splitPath(p)
			old, _ := n.fsys.meta.lookup(p)
			n.fsys.meta.noteAttr(p, helper.Entry{Name: name, Attr: *r.Attr, Target: old.Target})
		}
	}
	return n.getattr(ctx, out)
}

// setTimes extracts utimens' arguments from a setattr request.
func setTimes(in *fuse.SetAttrIn) (at, mt helper.Time, ok bool) {
	if in.Valid&fuse.FATTR_ATIME != 0 {
		at = helper.Time{Set: true, Now: in.Valid&fuse.FATTR_ATIME_NOW != 0, Ns: int64(in.Atime)*1e9 + int64(in.Atimensec)}
	}
	if in.Valid&fuse.FATTR_MTIME != 0 {
		mt = helper.Time{Set: true, Now: in.Valid&fuse.FATTR_MTIME_NOW != 0, Ns: int64(in.Mtime)*1e9 + int64(in.Mtimensec)}
	}
	return at, mt, at.Set || mt.Set
}

// Statfs reports the VM file system's capacity.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	r, err := n.fsys.metaOp(ctx, transport.MetaOp{Kind: helper.OpStatfs, Path: n.vmPath()})
	if err != nil {
		return n.fsys.errno(err)
	}
	if s := r.Statfs; s != nil {
		out.Bsize = uint32(s.Bsize)
		out.Frsize = uint32(s.Bsize)
		out.Blocks, out.Bfree, out.Bavail = s.Blocks, s.Bfree, s.Bavail
		out.Files, out.Ffree = s.Files, s.Ffree
		out.NameLen = uint32(s.NameLen)
	}
	return 0
}

// syntheticIno numbers files that exist only locally until their first
// upload, from a range the VM's inode numbers do not reach in practice.
func (f *FS) syntheticIno() uint64 { return syntheticBit | f.fileIDs.Add(1) }

// syntheticBit marks the inode numbers syntheticIno makes.
const syntheticBit = 1 << 62

// isSynthetic reports whether ino was made by syntheticIno.
func isSynthetic(ino uint64) bool { return ino&syntheticBit != 0 }
