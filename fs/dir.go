package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// dirNode is a directory on the VM.
type dirNode struct {
	node
}

var (
	_ = (gofs.NodeLookuper)((*dirNode)(nil))
	_ = (gofs.NodeReaddirer)((*dirNode)(nil))
	_ = (gofs.NodeGetattrer)((*dirNode)(nil))
	_ = (gofs.NodeSetattrer)((*dirNode)(nil))
	_ = (gofs.NodeStatfser)((*dirNode)(nil))
	_ = (gofs.NodeFsyncer)((*dirNode)(nil))
)

// Lookup finds name in the directory: from an open file not yet on the
// VM, from the caches, or by fetching the directory's listing (which
// fills the caches for every sibling at once).
func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if e := checkName(name); e != 0 {
		return nil, e
	}
	if ch := d.GetChild(name); ch != nil {
		if f, ok := ch.Operations().(*fileNode); ok {
			if e, local := f.localEntry(); local {
				d.fsys.fillEntry(&e, ch.StableAttr().Ino, out)
				out.SetAttrTimeout(uncached)
				return ch, 0
			}
		}
	}
	e, err := d.fsys.lookupPath(ctx, d.childPath(name))
	if err != nil {
		return nil, d.fsys.errno(err)
	}
	ch := d.fsys.newChild(ctx, &d.Inode, name, &e)
	d.fsys.fillEntry(&e, ch.StableAttr().Ino, out)
	return ch, 0
}

// Readdir lists the directory with every entry's type and inode number;
// the kernel's READDIRPLUS then finds their attributes in the cache.
func (d *dirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	entries, err := d.fsys.listDir(ctx, d.vmPath())
	if err != nil {
		return nil, d.fsys.errno(err)
	}
	list := make([]fuse.DirEntry, 0, len(entries)+2)
	list = append(list,
		fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Ino: d.StableAttr().Ino},
		fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR})
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		seen[e.Name] = true
		ino := e.Attr.Ino
		if ch := d.GetChild(e.Name); ch != nil && ch.StableAttr().Mode == e.Attr.Type.ModeBits() {
			ino = ch.StableAttr().Ino
		}
		list = append(list, fuse.DirEntry{Name: e.Name, Mode: e.Attr.Type.ModeBits(), Ino: ino})
	}
	// Files created here and not yet uploaded are listed too.
	for name, ch := range d.Children() {
		if f, ok := ch.Operations().(*fileNode); ok && !seen[name] {
			if _, local := f.localEntry(); local {
				list = append(list, fuse.DirEntry{Name: name, Mode: syscall.S_IFREG, Ino: ch.StableAttr().Ino})
			}
		}
	}
	return gofs.NewListDirStream(list), 0
}

func (d *dirNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return d.getattr(ctx, out)
}

// Fsync of a directory sends the changes still waiting to travel with a
// run (a mkdir, mode and time changes) and reports whether the VM took
// those of this directory, its entries and the directories above it.
func (d *dirNode) Fsync(ctx context.Context, fh gofs.FileHandle, flags uint32) syscall.Errno {
	refused, err := d.fsys.syncDeferred(ctx, d.vmPath(), true)
	if err == nil {
		err = refused
	}
	return d.fsys.errno(err)
}

func (d *dirNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if _, ok := in.GetSize(); ok {
		return syscall.EISDIR
	}
	return d.setattr(ctx, in, out)
}

var (
	_ = (gofs.NodeMkdirer)((*dirNode)(nil))
	_ = (gofs.NodeCreater)((*dirNode)(nil))
	_ = (gofs.NodeUnlinker)((*dirNode)(nil))
	_ = (gofs.NodeRmdirer)((*dirNode)(nil))
	_ = (gofs.NodeRenamer)((*dirNode)(nil))
	_ = (gofs.NodeSymlinker)((*dirNode)(nil))
	_ = (gofs.NodeLinker)((*dirNode)(nil))
	_ = (gofs.NodeMknoder)((*dirNode)(nil))
)

func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if e := d.writable(name); e != 0 {
		return nil, e
	}
	p := d.childPath(name)
	d.fsys.clearRefused(p)
	if ch, errno := d.mkdirLocal(ctx, name, p, mode&07777, out); ch != nil || errno != 0 {
		return ch, errno
	}
	r, err := d.fsys.metaOp(ctx, transport.MetaOp{Kind: helper.OpMkdir, Path: p, Mode: mode & 07777})
	if err != nil {
		d.fsys.meta.forget(p)
		return nil, d.fsys.errno(err)
	}
	d.fsys.meta.subdirs(d.vmPath(), 1)
	return d.added(ctx, name, p, r, out)
}

// mkdirLocal answers a mkdir without a round trip when name is known free
// (this directory's listing is cached and lacks it, and no node has the
// name): the new directory is then known to be empty, so looking inside it
// costs nothing either. The mkdir travels ahead of the next run, or alone
// within deferDelay (deferred.go). Until the kernel forgets the node it
// keeps a number from the synthetic range, which VM inode numbers do not
// reach; the cache takes the VM's attributes when the run answers. It
// returns nil when the mkdir must go to the VM now, and an errno when no
// room in the queue came within ctx (deferRoom).
func (d *dirNode) mkdirLocal(ctx context.Context, name, p string, perm uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	dir := d.vmPath()
	if dir == "" || d.GetChild(name) != nil || !d.fsys.meta.knownFree(dir, name) {
		return nil, 0
	}
	op := transport.MetaOp{Kind: helper.OpMkdir, Path: p, Mode: perm}
	if err := d.fsys.deferRoom(ctx, op); err != nil {
		return nil, d.fsys.errno(err)
	}
	if d.GetChild(name) != nil || !d.fsys.meta.knownFree(dir, name) {
		return nil, 0 // changed while waiting
	}
	t := now()
	// The helper's mkdir sets exactly perm (no umask, no inherited
	// setgid); size and blocks are those of an empty ext4 directory until
	// the VM's answer replaces them.
	e := helper.Entry{Name: name, Attr: helper.Attr{Type: helper.TypeDir, Perm: perm, Nlink: 2, Size: 4096, Blocks: 8,
		AtimeNs: t, MtimeNs: t, CtimeNs: t, Ino: d.fsys.syntheticIno()}}
	d.fsys.meta.noteAttr(p, e)
	d.fsys.meta.noteEmptyDir(p)
	d.fsys.meta.dirChanged(dir)
	d.fsys.meta.subdirs(dir, 1)
	d.fsys.deferOp(op)
	ch := d.fsys.newChild(ctx, &d.Inode, name, &e)
	d.fsys.fillEntry(&e, ch.StableAttr().Ino, out)
	return ch, 0
}

// nameMax is the longest name a directory entry takes (NAME_MAX, and the
// VM's ext4 limit). The kernel lets FUSE names up to 1024 bytes through.
const nameMax = 255

// checkName answers ENAMETOOLONG for a name no directory can hold, as
// local file systems do, before any cache or the VM is asked: a cached
// listing would otherwise answer ENOENT.
func checkName(name string) syscall.Errno {
	if len(name) > nameMax {
		return syscall.ENAMETOOLONG
	}
	return 0
}

// writable checks that name may be made in the directory: the mount is
// not read-only and the name fits.
func (d *dirNode) writable(name string) syscall.Errno {
	if e := d.readOnly(); e != 0 {
		return e
	}
	return checkName(name)
}

// added records a child our own operation made, and answers the kernel.
func (d *dirNode) added(ctx context.Context, name, p string, r transport.MetaResult, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if r.Attr == nil {
		d.fsys.meta.forget(p)
		return nil, syscall.EIO
	}
	e := helper.Entry{Name: name, Attr: *r.Attr, Target: r.Target}
	d.fsys.meta.noteAttr(p, e)
	d.fsys.meta.dirChanged(d.vmPath())
	if e.Attr.Type == helper.TypeDir {
		d.fsys.meta.noteEmptyDir(p)
	}
	ch := d.fsys.newChild(ctx, &d.Inode, name, &e)
	d.fsys.fillEntry(&e, ch.StableAttr().Ino, out)
	return ch, 0
}

// Create makes a regular file and opens it. O_EXCL is honoured on the VM
// at once (git's lock files depend on it); any other new file exists
// locally until its first flush uploads it, which saves a round trip.
func (d *dirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if e := d.writable(name); e != 0 {
		return nil, nil, 0, e
	}
	p := d.childPath(name)
	perm := mode & 07777
	var ch *gofs.Inode
	if flags&syscall.O_EXCL != 0 {
		r, err := d.fsys.metaOp(ctx, transport.MetaOp{Kind: helper.OpCreate, Path: p, Mode: perm, Exclusive: true})
		if err != nil {
			d.fsys.meta.forget(p)
			return nil, nil, 0, d.fsys.errno(err)
		}
		var errno syscall.Errno
		if ch, errno = d.added(ctx, name, p, r, out); errno != 0 {
			return nil, nil, 0, errno
		}
	} else {
		e := helper.Entry{Name: name, Attr: helper.Attr{Type: helper.TypeRegular, Perm: perm, Nlink: 1,
			AtimeNs: now(), MtimeNs: now(), CtimeNs: now(), Ino: d.fsys.syntheticIno()}}
		if old := d.GetChild(name); old != nil {
			d.RmChild(name) // replaced by the new file
		}
		ch = d.fsys.newChild(ctx, &d.Inode, name, &e)
		f := ch.Operations().(*fileNode)
		if err := f.startLocal(p, e.Attr); err != nil {
			return nil, nil, 0, d.fsys.errno(err)
		}
		d.fsys.meta.noteAttr(p, e)
		d.fsys.fillEntry(&e, ch.StableAttr().Ino, out)
	}
	// A new file's attributes change with its writes and its upload: the
	// kernel must ask again rather than cache them.
	out.SetAttrTimeout(uncached)
	// go-fuse links the child under its name only after Create returns;
	// link it now so that the open below sees the file's path.
	d.AddChild(name, ch, true)
	f := ch.Operations().(*fileNode)
	fh, fuseFlags, errno := f.open(ctx, flags)
	return ch, fh, fuseFlags, errno
}

func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if e := d.readOnly(); e != 0 {
		return e
	}
	p := d.childPath(name)
	if ch := d.GetChild(name); ch != nil {
		if f, ok := ch.Operations().(*fileNode); ok {
			onVM, err := f.detach(ctx)
			if err != nil {
				return d.fsys.errno(err)
			}
			if !onVM {
				d.fsys.meta.noteGone(p)
				return 0
			}
		}
	}
	return d.removeOnVM(ctx, helper.OpUnlink, p)
}

// removeOnVM unlinks or removes p on the VM and records it gone.
func (d *dirNode) removeOnVM(ctx context.Context, kind helper.Kind, p string) syscall.Errno {
	if _, err := d.fsys.metaOp(ctx, transport.MetaOp{Kind: kind, Path: p}); err != nil {
		d.fsys.meta.forget(p)
		return d.fsys.errno(err)
	}
	_, name := splitPath(p)
	d.fsys.removed(p, d.childIno(name))
	d.fsys.meta.noteGone(p)
	if kind == helper.OpRmdir {
		d.fsys.meta.subdirs(d.vmPath(), -1)
	}
	return 0
}

// childIsDir reports whether name (at VM path p) is a directory, as the
// kernel's node or the cache knows it.
func (d *dirNode) childIsDir(name, p string) bool {
	if ch := d.GetChild(name); ch != nil {
		return ch.StableAttr().Mode == syscall.S_IFDIR
	}
	e, st := d.fsys.meta.lookup(p)
	return st == exists && e.Attr.Type == helper.TypeDir
}

// childIno is the inode number of the kernel's node for name, 0 if none.
func (d *dirNode) childIno(name string) uint64 {
	if ch := d.GetChild(name); ch != nil {
		return ch.StableAttr().Ino
	}
	return 0
}

func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if e := d.readOnly(); e != 0 {
		return e
	}
	return d.removeOnVM(ctx, helper.OpRmdir, d.childPath(name))
}

// Rename moves name to newName in newParent. RENAME_NOREPLACE is kept;
// RENAME_EXCHANGE cannot be made atomic through the helper: ENOTSUP.
func (d *dirNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if e := d.readOnly(); e != 0 {
		return e
	}
	if e := checkName(newName); e != 0 {
		return e
	}
	const renameNoReplace, renameExchange = 1, 2
	if flags&renameExchange != 0 || flags&^uint32(renameNoReplace|renameExchange) != 0 {
		return syscall.ENOTSUP
	}
	np, ok := newParent.(*dirNode)
	if !ok {
		return syscall.EXDEV
	}
	src, dst := d.childPath(name), np.childPath(newName)
	if ch := d.GetChild(name); ch != nil {
		if f, ok := ch.Operations().(*fileNode); ok {
			// A file that exists only here goes to the VM first.
			if err := f.uploadIfLocal(ctx, src); err != nil {
				return d.fsys.errno(err)
			}
		}
	}
	dstIno := np.childIno(newName)
	movedDir, replacedDir := d.childIsDir(name, src), np.childIsDir(newName, dst)
	// A destination file that is open keeps its content for its handles.
	var replaced *fileNode
	if ch := np.GetChild(newName); ch != nil && flags&renameNoReplace == 0 {
		if f, ok := ch.Operations().(*fileNode); ok && f.isOpen() {
			if _, err := f.detach(ctx); err != nil {
				return d.fsys.errno(err)
			}
			replaced = f
		}
	}
	op := transport.MetaOp{Kind: helper.OpRename, Path: src, Path2: dst, NoReplace: flags&renameNoReplace != 0}
	r, err := d.fsys.metaOp(ctx, op)
	if err != nil {
		if replaced != nil {
			replaced.reattach()
		}
		d.fsys.meta.forget(src)
		d.fsys.meta.forget(dst)
		return d.fsys.errno(err)
	}
	d.fsys.removed(dst, dstIno) // a replaced destination
	d.fsys.meta.noteGone(src)
	d.fsys.meta.dropSubtree(dst)
	d.fsys.meta.dirChanged(parentOf(dst))
	// A directory's ".." links its parent: the counts of both move.
	if movedDir {
		d.fsys.meta.subdirs(parentOf(src), -1)
	}
	if movedDir && !replacedDir {
		d.fsys.meta.subdirs(parentOf(dst), 1)
	}
	if r.Attr != nil {
		d.fsys.meta.noteAttr(dst, helper.Entry{Name: newName, Attr: *r.Attr, Target: r.Target})
	} else {
		d.fsys.meta.forget(dst)
	}
	return 0
}

func (d *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if e := d.writable(name); e != 0 {
		return nil, e
	}
	p := d.childPath(name)
	r, err := d.fsys.metaOp(ctx, transport.MetaOp{Kind: helper.OpSymlink, Path: p, Target: target})
	if err != nil {
		d.fsys.meta.forget(p)
		return nil, d.fsys.errno(err)
	}
	r.Target = target
	return d.added(ctx, name, p, r, out)
}

func (d *dirNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if e := d.writable(name); e != 0 {
		return nil, e
	}
	t := target.EmbeddedInode()
	if _, parent := t.Parent(); parent == nil {
		if f, ok := target.(*fileNode); ok {
			return d.linkTmpfile(ctx, f, name, out)
		}
		return nil, syscall.ENOENT
	}
	src := d.fsys.opts.Root + "/" + t.Path(nil)
	if f, ok := target.(*fileNode); ok {
		if err := f.uploadIfLocal(ctx, src); err != nil {
			return nil, d.fsys.errno(err)
		}
	}
	p := d.childPath(name)
	r, err := d.fsys.metaOp(ctx, transport.MetaOp{Kind: helper.OpLink, Path: src, Path2: p})
	if err != nil {
		d.fsys.meta.forget(p)
		return nil, d.fsys.errno(err)
	}
	if r.Attr == nil {
		return nil, syscall.EIO
	}
	e := helper.Entry{Name: name, Attr: *r.Attr}
	d.fsys.meta.noteAttr(p, e)
	d.fsys.meta.dirChanged(d.vmPath())
	d.fsys.meta.noteAttr(src, e) // same inode: the count changed under every name
	d.fsys.fillEntry(&e, t.StableAttr().Ino, out)
	return t, 0
}
