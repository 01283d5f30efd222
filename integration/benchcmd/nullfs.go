package main

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The null FUSE filesystem: a go-fuse filesystem that does no work. Its
// one regular file is answered from a fixed zero-filled buffer, and the
// files created in it swallow what is written to them. Whatever time the
// reads and writes of it take is the kernel's FUSE round trips and
// copies plus go-fuse's serving: the floor under any FUSE filesystem on
// this machine, arkerfs included.

// nullZeroName is the null filesystem's readable file.
const nullZeroName = "zero.bin"

// nullFS is the null filesystem's root directory. It holds zero.bin and
// makes a fresh sink for every file created in it.
type nullFS struct {
	gofs.Inode
	size      int64        // zero.bin's size
	zeros     []byte       // the fixed buffer reads are answered from
	served    atomic.Int64 // bytes read from zero.bin
	discarded atomic.Int64 // bytes written to sinks
}

var (
	_ gofs.NodeOnAdder   = (*nullFS)(nil)
	_ gofs.NodeGetattrer = (*nullFS)(nil)
	_ gofs.NodeCreater   = (*nullFS)(nil)
)

// newNullFS is a null filesystem whose zero.bin has size bytes.
func newNullFS(size int64) *nullFS {
	return &nullFS{size: size, zeros: make([]byte, blockSize)}
}

// OnAdd puts zero.bin in the root once it is mounted.
func (n *nullFS) OnAdd(ctx context.Context) {
	ch := n.NewPersistentInode(ctx, &nullZero{fs: n}, gofs.StableAttr{Mode: syscall.S_IFREG, Ino: 2})
	n.AddChild(nullZeroName, ch, true)
}

// Getattr describes the root directory.
func (n *nullFS) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o755
	return 0
}

// Create makes a new empty sink named name.
func (n *nullFS) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	s := &nullSink{fs: n}
	ch := n.NewInode(ctx, s, gofs.StableAttr{Mode: syscall.S_IFREG})
	s.attr(&out.Attr)
	return ch, nil, 0, 0
}

// nullZero is zero.bin: size bytes of zeros, read from n.zeros.
type nullZero struct {
	gofs.Inode
	fs *nullFS
}

var (
	_ gofs.NodeGetattrer = (*nullZero)(nil)
	_ gofs.NodeOpener    = (*nullZero)(nil)
	_ gofs.NodeReader    = (*nullZero)(nil)
)

// Getattr gives the file's size.
func (z *nullZero) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	out.Size = uint64(z.fs.size)
	return 0
}

// Open lets every open start cold: without FOPEN_KEEP_CACHE the kernel
// drops the file's pages, so each read of it goes through the server.
func (z *nullZero) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EROFS
	}
	return nil, 0, 0
}

// Read answers from the fixed buffer, without copying into dest.
func (z *nullZero) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n := int(max(0, min(int64(len(dest)), z.fs.size-off)))
	z.fs.served.Add(int64(n))
	if n <= len(z.fs.zeros) {
		return fuse.ReadResultData(z.fs.zeros[:n]), 0
	}
	clear(dest[:n]) // a read larger than the buffer (none with MaxWrite 1 MiB)
	return fuse.ReadResultData(dest[:n]), 0
}

// nullSink is a created file: writes are counted and dropped; its size
// is the end of the furthest write, as a real file's would be.
type nullSink struct {
	gofs.Inode
	fs   *nullFS
	mu   sync.Mutex
	size int64
}

var (
	_ gofs.NodeGetattrer = (*nullSink)(nil)
	_ gofs.NodeSetattrer = (*nullSink)(nil)
	_ gofs.NodeOpener    = (*nullSink)(nil)
	_ gofs.NodeWriter    = (*nullSink)(nil)
	_ gofs.NodeFlusher   = (*nullSink)(nil)
)

// attr fills in the sink's attributes.
func (s *nullSink) attr(out *fuse.Attr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out.Mode = syscall.S_IFREG | 0o644
	out.Size = uint64(s.size)
}

// Getattr gives the sink's size.
func (s *nullSink) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	s.attr(&out.Attr)
	return 0
}

// Setattr accepts a truncation (O_TRUNC of an existing sink).
func (s *nullSink) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok {
		s.mu.Lock()
		s.size = int64(sz)
		s.mu.Unlock()
	}
	s.attr(&out.Attr)
	return 0
}

// Open accepts any open.
func (s *nullSink) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return nil, 0, 0
}

// Write counts data and drops it.
func (s *nullSink) Write(ctx context.Context, fh gofs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	s.fs.discarded.Add(int64(len(data)))
	s.mu.Lock()
	s.size = max(s.size, off+int64(len(data)))
	s.mu.Unlock()
	return uint32(len(data)), 0
}

// Flush has nothing to upload.
func (s *nullSink) Flush(ctx context.Context, fh gofs.FileHandle) syscall.Errno { return 0 }
