package fs

import (
	"context"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/arker-ai/arkerfs/cache"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// fileNode is a regular file. While it is being written its content lives
// in a staged local copy (staged.go) that is uploaded on flush, fsync and
// release (whole, or only what changed where the VM side changes files in
// place); otherwise reads go through the block cache (handle.go).
//
// Lock order: io before mu. io is held across network calls (filling the
// staged copy, uploading it); mu never is.
type fileNode struct {
	node
	fileID uint64 // names this file's blocks in the block cache

	io sync.Mutex // serialises filling and uploading the staged copy

	mu           sync.Mutex        // protects the fields below
	staged       *cache.StagedFile // local copy being written; nil when none
	filled       bool              // staged holds the whole content
	local        bool              // created here and not uploaded yet
	attr         helper.Attr       // attributes while staged != nil
	openers      int               // open handles
	unlinked     bool              // removed while open: serve handles, never upload
	tmpfile      bool              // made by O_TMPFILE and given no name yet (unlinked too)
	pendingTimes [2]helper.Time    // explicit times to set after the next upload
	keptVersion  string            // content version the kernel page cache holds
	// origin reads the VM version a staged copy that is not filled was
	// made from (or last written in place), for its missing bytes; nil
	// when filled or not staged. Replaced and closed with f.io held.
	origin *fileHandle
}

var (
	_ = (gofs.NodeOpener)((*fileNode)(nil))
	_ = (gofs.NodeGetattrer)((*fileNode)(nil))
	_ = (gofs.NodeSetattrer)((*fileNode)(nil))
	_ = (gofs.NodeReader)((*fileNode)(nil))
	_ = (gofs.NodeWriter)((*fileNode)(nil))
	_ = (gofs.NodeFlusher)((*fileNode)(nil))
	_ = (gofs.NodeFsyncer)((*fileNode)(nil))
	_ = (gofs.NodeReleaser)((*fileNode)(nil))
	_ = (gofs.NodeStatfser)((*fileNode)(nil))
)

// localEntry returns the file's attributes while its staged copy is the
// truth: it holds writes the VM has not seen, the file exists only here,
// or it was unlinked while open.
func (f *fileNode) localEntry() (helper.Entry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.staged == nil || !f.staged.Dirty() && !f.local && !f.unlinked {
		return helper.Entry{}, false
	}
	a := f.attr
	if size := f.staged.Size(); size != a.Size {
		a.Size, a.Blocks = size, (size+511)/512
	}
	if f.unlinked {
		a.Nlink = 0
	}
	return helper.Entry{Attr: a}, true
}

func (f *fileNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if e, ok := f.localEntry(); ok {
		f.fsys.fillAttr(&e.Attr, &out.Attr)
		out.Attr.Ino = f.StableAttr().Ino
		out.SetTimeout(uncached) // changing under writes and at upload
		return 0
	}
	return f.getattr(ctx, out)
}

func (f *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return f.open(ctx, flags)
}

// open makes a handle. O_TRUNC starts an empty staged copy; otherwise a
// file without a staged copy is revalidated against the VM (close-to-open)
// unless its attributes are fresh in the cache.
func (f *fileNode) open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	writing := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if writing || flags&syscall.O_TRUNC != 0 {
		if e := f.readOnly(); e != 0 {
			return nil, 0, e
		}
	}
	h := &fileHandle{f: f}
	f.mu.Lock()
	f.openers++
	f.mu.Unlock()
	if flags&syscall.O_TRUNC != 0 {
		if err := f.truncateStaged(ctx, 0); err != nil {
			f.release(h)
			return nil, 0, f.fsys.errno(err)
		}
	}
	if _, staged := f.localEntry(); staged {
		return h, 0, 0
	}
	if f.vmPath() == "" {
		// The name the kernel looked up was replaced (a rename over it)
		// before this open reached us, and nothing here holds the old
		// file's content. ESTALE makes the kernel walk the path again
		// (LOOKUP_REVAL) and open what the name holds now, as an open
		// racing an atomic save does on a local disk.
		f.release(h)
		return nil, 0, syscall.ESTALE
	}
	ver, err := h.revalidate(ctx)
	if err != nil {
		f.release(h)
		return nil, 0, f.fsys.errno(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var fuseFlags uint32
	if ver == f.keptVersion {
		fuseFlags |= fuse.FOPEN_KEEP_CACHE
	}
	f.keptVersion = ver
	return h, fuseFlags, 0
}

func (f *fileNode) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h := fh.(*fileHandle)
	res, err := h.read(ctx, dest, off)
	if err != nil {
		return nil, f.fsys.errno(err)
	}
	return res, 0
}

func (f *fileNode) Write(ctx context.Context, fh gofs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	st, err := f.stageForWrite(ctx)
	if err != nil {
		return 0, f.fsys.errno(err)
	}
	n, err := st.WriteAt(data, off)
	if err != nil {
		return uint32(n), f.fsys.errno(err)
	}
	st.MarkDirty()
	f.mu.Lock()
	f.attr.MtimeNs = now()
	f.attr.CtimeNs = f.attr.MtimeNs
	f.mu.Unlock()
	return uint32(n), 0
}

// Flush runs at every close(2) of a descriptor: the upload's outcome is
// what close returns, so a failed upload is seen by the writer.
func (f *fileNode) Flush(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	return f.fsys.errno(f.upload(ctx))
}

// Fsync uploads the staged copy, then sends the deferred changes of the
// file still waiting (a chmod, the times an upload left to set) and
// reports what the VM said of them, or of those an earlier run carried.
func (f *fileNode) Fsync(ctx context.Context, fh gofs.FileHandle, flags uint32) syscall.Errno {
	if err := f.upload(ctx); err != nil {
		return f.fsys.errno(err)
	}
	p := f.vmPath()
	if p == "" {
		return 0
	}
	if !f.fsys.deferredAt(p) {
		return f.fsys.errno(f.fsys.takeRefusedAttr(p))
	}
	refused, err := f.fsys.syncDeferred(ctx, p, false)
	if err == nil {
		err = refused
	}
	return f.fsys.errno(err)
}

func (f *fileNode) Release(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	if h, ok := fh.(*fileHandle); ok {
		f.release(h)
	}
	return 0
}

func (f *fileNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := f.readOnly(); e != 0 {
		return e
	}
	if size, ok := in.GetSize(); ok {
		if err := f.truncate(ctx, int64(size)); err != nil {
			return f.fsys.errno(err)
		}
		// truncate(2) by name of an open file went to its staged copy,
		// and no close of the caller's will publish it: upload now, as
		// a truncate straight on the VM would have published it.
		if fh == nil && f.dirty() {
			if err := f.upload(ctx); err != nil {
				return f.fsys.errno(err)
			}
		}
	}
	if !f.dirty() {
		return f.setattr(ctx, in, out)
	}
	// The file is being written: keep the changes locally. A new file's
	// mode goes with its upload; an existing file's chmod travels with
	// the next run (the upload keeps the mode either way); times are set
	// after the upload, which would otherwise overwrite the mtime. A
	// chmod waits for room in the queue first, without holding mu.
	mode, setMode := in.GetMode()
	chmod := transport.MetaOp{Kind: helper.OpChmod, Path: f.vmPath(), Mode: mode & 07777}
	f.mu.Lock()
	local := f.local
	f.mu.Unlock()
	if setMode && !local {
		if err := f.fsys.deferRoom(ctx, chmod); err != nil {
			return f.fsys.errno(err)
		}
	}
	f.mu.Lock()
	if setMode {
		f.attr.Perm = mode & 07777
		if !f.local {
			f.fsys.deferOp(chmod)
		}
	}
	if at, mt, ok := setTimes(in); ok {
		f.pendingTimes = [2]helper.Time{at, mt}
		if mt.Set && !mt.Now {
			f.attr.MtimeNs = mt.Ns
		}
		if at.Set && !at.Now {
			f.attr.AtimeNs = at.Ns
		}
	}
	f.mu.Unlock()
	return f.Getattr(ctx, fh, out)
}

// truncate sets the file's size: in the staged copy while there is one
// or the file is open, else directly on the VM. Every handle of an open
// file reads the staged copy once there is one, so a truncate that went
// to the VM around it would leave them reading the old size and bytes.
func (f *fileNode) truncate(ctx context.Context, size int64) error {
	if f.hasStaged() || f.isOpen() {
		return f.truncateStaged(ctx, size)
	}
	p := f.vmPath()
	r, err := f.fsys.metaOp(ctx, transport.MetaOp{Kind: helper.OpTruncate, Path: p, Size: size})
	if err != nil {
		f.fsys.meta.forget(p)
		return err
	}
	if r.Attr != nil {
		_, name := splitPath(p)
		f.fsys.meta.noteAttr(p, helper.Entry{Name: name, Attr: *r.Attr})
	}
	return nil
}

// dirty reports whether the staged copy holds changes not yet uploaded.
func (f *fileNode) dirty() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.staged != nil && (f.staged.Dirty() || f.local)
}

// hasStaged reports whether the file has a staged copy, clean or not.
func (f *fileNode) hasStaged() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.staged != nil
}

func (f *fileNode) isOpen() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.openers > 0
}
