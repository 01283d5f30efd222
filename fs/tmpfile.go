package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

var _ = (gofs.NodeTmpfiler)((*dirNode)(nil))

// Tmpfile answers open(2) with O_TMPFILE: a file with no name, which
// exists only here, in its staged copy, until linkat(2) gives it one
// (linkTmpfile). One never linked costs the VM nothing and goes with
// its last handle.
func (d *dirNode) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if e := d.readOnly(); e != 0 {
		return nil, nil, 0, e
	}
	t := now()
	a := helper.Attr{Type: helper.TypeRegular, Perm: mode & 07777, AtimeNs: t, MtimeNs: t, CtimeNs: t,
		Ino: d.fsys.syntheticIno()}
	ch := d.fsys.newChild(ctx, &d.Inode, "", &helper.Entry{Attr: a}) // in no directory
	f := ch.Operations().(*fileNode)
	if err := f.startLocal("", a); err != nil {
		return nil, nil, 0, d.fsys.errno(err)
	}
	f.mu.Lock()
	f.tmpfile, f.unlinked = true, true // unlinked: never uploaded, shown with no links
	f.mu.Unlock()
	fh, fuseFlags, errno := f.open(ctx, flags&^syscall.O_TRUNC)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	e, _ := f.localEntry()
	d.fsys.fillEntry(&e, a.Ino, out)
	out.SetAttrTimeout(uncached)
	return ch, fh, fuseFlags, 0
}

// linkTmpfile gives a file made by Tmpfile its name: the name is made on
// the VM exclusively (link(2) never replaces a name), and the content
// written so far follows with the file's next flush, as for any file
// being written. The file is open (linkat reaches it only through a
// descriptor), so that flush comes at the latest with its close.
func (d *dirNode) linkTmpfile(ctx context.Context, f *fileNode, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	f.mu.Lock()
	ok, perm := f.tmpfile && f.staged != nil, f.attr.Perm
	f.mu.Unlock()
	if !ok {
		return nil, syscall.ENOENT // linkat of an unlinked file that is not a tmpfile
	}
	p := d.childPath(name)
	r, err := d.fsys.metaOp(ctx, transport.MetaOp{Kind: helper.OpCreate, Path: p, Mode: perm, Exclusive: true})
	if err != nil {
		d.fsys.meta.forget(p)
		return nil, d.fsys.errno(err)
	}
	f.mu.Lock()
	f.tmpfile, f.unlinked, f.local = false, false, false
	if r.Attr != nil {
		f.attr.Ino = r.Attr.Ino
	}
	f.attr.Nlink = 1
	f.staged.MarkDirty() // the VM has an empty file: the content must follow
	f.mu.Unlock()
	// go-fuse links the node under its name only after Link returns;
	// link it now so that the file has its path from here on.
	d.AddChild(name, f.EmbeddedInode(), true)
	e, _ := f.localEntry()
	e.Name = name
	d.fsys.meta.noteAttr(p, e)
	d.fsys.meta.dirChanged(d.vmPath())
	d.fsys.fillEntry(&e, f.StableAttr().Ino, out)
	out.SetAttrTimeout(uncached)
	return f.EmbeddedInode(), 0
}
