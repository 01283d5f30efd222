package fs

import (
	"context"
	"strings"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// Extended attributes (docs/SEMANTICS.md). Only the user namespace lives
// on the VM, through the helper's xattr ops. Every other namespace is
// answered here without a round trip, as a file system without ACLs,
// security labels or trusted attributes answers: get and remove ENODATA,
// set EOPNOTSUPP. ls -l and cp ask for security.selinux and
// system.posix_acl_access on every file; those must cost nothing.

var (
	_ = (gofs.NodeGetxattrer)((*node)(nil))
	_ = (gofs.NodeSetxattrer)((*node)(nil))
	_ = (gofs.NodeListxattrer)((*node)(nil))
	_ = (gofs.NodeRemovexattrer)((*node)(nil))
	_ = (gofs.NodeAllocater)((*fileNode)(nil))
)

const userPrefix = "user."

// onVM reports whether attribute name is kept on the VM.
func onVM(name string) bool {
	return strings.HasPrefix(name, userPrefix) && len(name) > len(userPrefix)
}

// checkXattrName answers the limits Linux checks before any file system.
func checkXattrName(name string) syscall.Errno {
	if name == "" || len(name) > helper.MaxXattrName {
		return syscall.ERANGE
	}
	return 0
}

func (n *node) Getxattr(ctx context.Context, name string, dest []byte) (uint32, syscall.Errno) {
	if e := checkXattrName(name); e != 0 {
		return 0, e
	}
	if !onVM(name) || n.localOnly() {
		return 0, syscall.ENODATA
	}
	r, err := n.fsys.metaOp(ctx, transport.MetaOp{Kind: helper.OpGetxattr, Path: n.vmPath(), Name: name})
	if err != nil {
		return 0, n.fsys.errno(err)
	}
	return fitXattr(r.Value, dest)
}

// fitXattr answers the size probe (an empty dest) with the size, a dest
// too small with ERANGE and the size, else copies v into dest.
func fitXattr(v, dest []byte) (uint32, syscall.Errno) {
	sz := uint32(len(v))
	if len(dest) == 0 {
		return sz, 0
	}
	if len(dest) < len(v) {
		return sz, syscall.ERANGE
	}
	copy(dest, v)
	return sz, 0
}

func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if n.localOnly() {
		return 0, 0
	}
	r, err := n.fsys.metaOp(ctx, transport.MetaOp{Kind: helper.OpListxattr, Path: n.vmPath()})
	if err != nil {
		if e := classify(err); e == syscall.ENOTSUP {
			return 0, 0 // the VM keeps none: an empty list
		}
		return 0, n.fsys.errno(err)
	}
	var b []byte
	for _, name := range r.Names {
		if onVM(name) {
			b = append(append(b, name...), 0)
		}
	}
	return fitXattr(b, dest)
}

func (n *node) Setxattr(ctx context.Context, name string, data []byte, flags uint32) syscall.Errno {
	if e := checkXattrName(name); e != 0 {
		return e
	}
	if len(data) > 64<<10 {
		return syscall.E2BIG
	}
	if !onVM(name) {
		return syscall.EOPNOTSUPP
	}
	return n.changeXattr(ctx, transport.MetaOp{Kind: helper.OpSetxattr, Name: name, Value: string(data), XattrFlags: int(flags)})
}

func (n *node) Removexattr(ctx context.Context, name string) syscall.Errno {
	if e := checkXattrName(name); e != 0 {
		return e
	}
	if !onVM(name) {
		return syscall.ENODATA
	}
	return n.changeXattr(ctx, transport.MetaOp{Kind: helper.OpRemovexattr, Name: name})
}

// changeXattr sends a set or remove of a user xattr (op without its
// path) for this node, after the file's pending writes.
func (n *node) changeXattr(ctx context.Context, op transport.MetaOp) syscall.Errno {
	if e := n.readOnly(); e != 0 {
		return e
	}
	if e := n.beforeXattrChange(ctx); e != 0 {
		return e
	}
	op.Path = n.vmPath()
	_, err := n.fsys.metaOp(ctx, op)
	return n.fsys.errno(err)
}

// localOnly reports a regular file made here and not uploaded yet: it
// has no attributes.
func (n *node) localOnly() bool {
	f, ok := n.EmbeddedInode().Operations().(*fileNode)
	if !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.local
}

// beforeXattrChange uploads a regular file's pending writes first: the
// upload puts a new inode in the file's place, which would drop the
// attribute set now (cp -a sets them before it closes the file).
func (n *node) beforeXattrChange(ctx context.Context) syscall.Errno {
	f, ok := n.EmbeddedInode().Operations().(*fileNode)
	if !ok || !f.dirty() {
		return 0
	}
	return n.fsys.errno(f.upload(ctx))
}

// Allocate is fallocate(2) on the staged copy, which is then uploaded as
// any write is: mode 0 extends the file with zeros, FALLOC_FL_KEEP_SIZE
// reserves nothing worth keeping (the VM file is rewritten on upload)
// and succeeds, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE writes zeros.
// Other modes are EOPNOTSUPP.
func (f *fileNode) Allocate(ctx context.Context, fh gofs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	const (
		keepSize  = 0x01 // FALLOC_FL_KEEP_SIZE
		punchHole = 0x02 // FALLOC_FL_PUNCH_HOLE
	)
	if e := f.readOnly(); e != 0 {
		return e
	}
	if size == 0 || off+size < off || off+size > 1<<62 {
		return syscall.EINVAL
	}
	switch mode {
	case 0:
		st, err := f.ensureStaged(ctx)
		if err != nil {
			return f.fsys.errno(err)
		}
		if end := int64(off + size); end > st.Size() {
			return f.fsys.errno(f.truncateStaged(ctx, end))
		}
		return 0
	case keepSize:
		return 0
	case punchHole | keepSize:
		st, err := f.ensureStaged(ctx)
		if err != nil {
			return f.fsys.errno(err)
		}
		end := min(int64(off+size), st.Size())
		zero := make([]byte, 64<<10)
		for o := int64(off); o < end; o += int64(len(zero)) {
			if _, err := st.WriteAt(zero[:min(int64(len(zero)), end-o)], o); err != nil {
				return f.fsys.errno(err)
			}
		}
		if int64(off) < end {
			st.MarkDirty()
			f.mu.Lock()
			f.attr.MtimeNs = now()
			f.attr.CtimeNs = f.attr.MtimeNs
			f.mu.Unlock()
		}
		return 0
	}
	return syscall.EOPNOTSUPP
}
