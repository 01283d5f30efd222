package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// Mknod makes a FIFO, a socket, a device node or an empty regular file
// on the VM (mknod(2) with S_IFREG is how GNU tar makes files before
// setting their xattrs). The VM decides what its user may make: a
// device node is usually refused there with EPERM, as it is to an
// unprivileged user of a local disk. The kernel serves opens of special
// files itself, so none of them ever reaches the VM.
func (d *dirNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if e := d.writable(name); e != 0 {
		return nil, e
	}
	p := d.childPath(name)
	op := transport.MetaOp{Kind: helper.OpMknod, Path: p, Mode: mode & 07777}
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG, 0:
		op = transport.MetaOp{Kind: helper.OpCreate, Path: p, Mode: mode & 07777, Exclusive: true}
	case syscall.S_IFIFO:
		op.Type = helper.TypeFIFO
	case syscall.S_IFSOCK:
		op.Type = helper.TypeSocket
	case syscall.S_IFCHR:
		op.Type, op.Major, op.Minor = helper.TypeChar, devMajor(dev), devMinor(dev)
	case syscall.S_IFBLK:
		op.Type, op.Major, op.Minor = helper.TypeBlock, devMajor(dev), devMinor(dev)
	default:
		return nil, syscall.EINVAL
	}
	r, err := d.fsys.metaOp(ctx, op)
	if err != nil {
		d.fsys.meta.forget(p)
		return nil, d.fsys.errno(err)
	}
	ch, errno := d.added(ctx, name, p, r, out)
	if errno == 0 && (op.Type == helper.TypeChar || op.Type == helper.TypeBlock) {
		// The VM's attributes do not carry a device's numbers: the
		// mount keeps them for its later answers (devNumbers).
		d.fsys.devs.set(r.Attr.Ino, dev)
		out.Attr.Rdev = dev
	}
	return ch, errno
}

// devMajor and devMinor split a device number as the kernel passes it
// to FUSE (new_encode_dev: 12-bit major, 20-bit minor).
func devMajor(dev uint32) uint32 { return (dev >> 8) & 0xfff }
func devMinor(dev uint32) uint32 { return dev&0xff | (dev>>12)&0xfff00 }
