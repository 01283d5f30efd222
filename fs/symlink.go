package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// symlinkNode is a symbolic link on the VM.
type symlinkNode struct {
	node
}

var (
	_ = (gofs.NodeReadlinker)((*symlinkNode)(nil))
	_ = (gofs.NodeGetattrer)((*symlinkNode)(nil))
	_ = (gofs.NodeSetattrer)((*symlinkNode)(nil))
)

// Readlink answers from the listing that found the link when it is fresh.
func (s *symlinkNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	p := s.vmPath()
	if e, st := s.fsys.meta.lookup(p); st == exists && e.Attr.Type == helper.TypeSymlink && e.Target != "" {
		return []byte(e.Target), 0
	}
	r, err := s.fsys.metaOp(ctx, transport.MetaOp{Kind: helper.OpReadlink, Path: p})
	if err != nil {
		return nil, s.fsys.errno(err)
	}
	return []byte(r.Target), 0
}

func (s *symlinkNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return s.getattr(ctx, out)
}

func (s *symlinkNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return s.setattr(ctx, in, out)
}
