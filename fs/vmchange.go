package fs

import (
	"strings"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// VMChanged records that paths changed on the VM by someone other than
// this mount (the agent's change feed reports them): what the caches know
// of each path, of its directory's listing and of its directory's
// attributes goes, and the kernel is told to forget the name and the
// file's attributes and pages, so the next look asks the VM. Paths
// outside the mounted root are ignored. The feed reports this mount's
// own changes too; forgetting them costs a lookup, never a wrong answer,
// because changes still deferred travel ahead of the lookup's fetch.
func (f *FS) VMChanged(paths []string) {
	var inRoot []string
	for _, p := range paths {
		if p != f.opts.Root && !isBelow(p, f.opts.Root) {
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
// forgets every name and attribute it holds of the mount.
func (f *FS) VMChangedAll() {
	f.meta.forgetAll()
	go func() {
		root := f.root.EmbeddedInode()
		_ = root.NotifyContent(-1, 0)
		forgetBelow(root)
	}()
}

// forgetBelow tells the kernel to forget every name below dir, and the
// attributes and pages of every node it holds there.
func forgetBelow(dir *gofs.Inode) {
	for name, ch := range dir.Children() {
		_ = ch.NotifyContent(0, 0)
		if ch.IsDir() {
			forgetBelow(ch)
		}
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
		dir := f.root.EmbeddedInode()
		names := strings.Split(strings.TrimPrefix(p, f.opts.Root+"/"), "/")
		for _, name := range names[:len(names)-1] {
			if dir = dir.GetChild(name); dir == nil {
				break
			}
		}
		if dir == nil {
			continue
		}
		last := names[len(names)-1]
		if ch := dir.GetChild(last); ch != nil {
			_ = ch.NotifyContent(0, 0)
		}
		_ = dir.NotifyEntry(last)
		_ = dir.NotifyContent(-1, 0)
	}
}
