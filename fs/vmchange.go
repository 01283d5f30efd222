package fs

import (
	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// VMChanged records that paths changed on the VM by someone other than
// this mount (the agent's change feed reports them): what the caches know
// of each path, of its directory's listing and of its directory's
// attributes goes, and the kernel is told to forget the name and the
// file's attributes and pages, so the next look asks the VM. Paths
// outside the mounted root are ignored, and so are the echoes of the
// mount's own changes (echoes): the feed reports those too. A directory
// that exists stays in the kernel (only its attributes go): it may be a
// process's working directory, which an invalidated name would make
// unreachable.
func (f *FS) VMChanged(paths []string) {
	var inRoot []string
	for _, p := range paths {
		if p != f.opts.Root && !isBelow(p, f.opts.Root) || f.echoes.isEcho(p) {
			continue
		}
		f.meta.forget(p)
		if p != f.opts.Root {
			f.meta.forget(parentOf(p))
		}
		inRoot = append(inRoot, p)
	}
	if len(inRoot) > 0 {
		go f.notifyChanged(inRoot)
	}
}

// VMChangedAll records that changes on the VM were lost (the feed
// overflowed): every cached attribute and listing goes, and the kernel
// forgets every attribute it holds of the mount and the names of its
// files.
func (f *FS) VMChangedAll() {
	f.meta.forgetAll()
	go func() {
		root := f.root.EmbeddedInode()
		_ = root.NotifyContent(-1, 0)
		forgetBelow(root)
	}()
}

// forgetBelow tells the kernel to forget the names of the files below
// dir and the attributes and pages of every node it holds there;
// directories keep their names (see VMChanged).
func forgetBelow(dir *gofs.Inode) {
	for name, ch := range dir.Children() {
		if ch.IsDir() {
			_ = ch.NotifyContent(-1, 0)
			forgetBelow(ch)
			continue
		}
		_ = ch.NotifyContent(0, 0)
		_ = dir.NotifyEntry(name)
	}
}

// notifyChanged tells the kernel to forget the names of paths, the
// attributes and pages of their nodes, and their directories'
// attributes. It runs apart from any operation: the kernel may hold a
// directory's lock in the operation that led here.
func (f *FS) notifyChanged(paths []string) {
	for _, p := range paths {
		if p == f.opts.Root {
			_ = f.root.EmbeddedInode().NotifyContent(-1, 0)
			continue
		}
		dir, last, ok := f.dirNodeOf(p)
		if !ok {
			continue
		}
		ch := dir.GetChild(last)
		switch {
		case ch != nil && ch.IsDir():
			_ = ch.NotifyContent(-1, 0) // attributes; the name stays (see VMChanged)
		case ch != nil:
			_ = ch.NotifyContent(0, 0)
			_ = dir.NotifyEntry(last)
		default:
			_ = dir.NotifyEntry(last) // a negative entry the kernel may hold
		}
		_ = dir.NotifyContent(-1, 0)
	}
}
