package fs

import (
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/arker-ai/arkerfs/cache"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// fileHandle is one open file. Reads go to the node's staged copy while
// there is one, else through the block cache to the VM, as of the content
// version seen when the handle was revalidated.
type fileHandle struct {
	f *fileNode

	mu     sync.Mutex        // protects the fields below
	obj    *transport.Object // the VM's answer to a sync read; nil until needed
	ver    string            // content version this handle reads
	size   int64             // size of that version
	mtime  int64             // mtime (ns) of that version, as the attributes gave it
	reader *cache.FileReader // block-cache reader for ver; nil until needed
	// tentative: ver comes from attributes seen within the TTL and no
	// content is cached; the first read confirms it with a sync read.
	tentative bool
}

// revalidate pins the version this handle reads. Versions come from the
// helper's attributes (size and mtime): the published read answer carries
// none. Attributes seen within the TTL are trusted and the VM is asked only
// when the handle first reads (an open for fchmod or fstat costs nothing);
// otherwise one stat asks the VM now.
func (h *fileHandle) revalidate(ctx context.Context) (string, error) {
	f := h.f
	p := f.vmPath()
	if p == "" {
		return "", syscall.ENOENT
	}
	e, st := f.fsys.meta.lookup(p)
	if st != exists {
		var err error
		sctx, cancel := f.fsys.opContext(ctx)
		e, err = f.fsys.statPath(sctx, p)
		cancel()
		if err != nil {
			return "", err
		}
	}
	if e.Attr.Type != helper.TypeRegular {
		// The name now holds another kind of file than the one the
		// kernel looked up (a symlink or directory renamed over it):
		// ESTALE makes the kernel look the name up again and open what
		// it holds now, as for a file replaced by a rename (open).
		return "", syscall.ESTALE
	}
	ver := version(e.Attr.Size, e.Attr.MtimeNs)
	cached := e.Attr.Size == 0 || f.fsys.blocks.Contains(cache.BlockKey{File: f.fileID, Version: ver, Index: 0})
	h.pin(nil, ver, e.Attr.Size)
	h.mu.Lock()
	h.tentative, h.mtime = !cached, e.Attr.MtimeNs
	h.mu.Unlock()
	return ver, nil
}

// pinnedHandle is a handle of f that reads the VM version a names,
// confirmed by its first read as an opened one is.
func (f *fileNode) pinnedHandle(a transport.Attr) *fileHandle {
	h := &fileHandle{f: f}
	h.pin(nil, version(a.Size, a.MtimeNs), a.Size)
	h.mu.Lock()
	h.tentative, h.mtime = a.Size > 0, a.MtimeNs
	h.mu.Unlock()
	return h
}

// confirm checks a tentative version against the VM before anything is
// read at off. With a server that reads ranges (the agent), the block
// that holds off is read with the version checked where the file is: one
// request, and the read that follows finds the block cached. Otherwise,
// or if the file turns out to be of another version, one sync read,
// whose answer (for a small file, the content) the first read then uses.
func (h *fileHandle) confirm(ctx context.Context, off int64) error {
	h.mu.Lock()
	tentative := h.tentative
	h.mu.Unlock()
	if !tentative {
		return nil
	}
	p := h.f.vmPath()
	if p == "" {
		// Replaced or removed since the open, before anything was read:
		// the VM has no name for its content any more (NFS says the same).
		return syscall.ESTALE
	}
	if h.confirmByRange(ctx, p, off) {
		return nil
	}
	_, err := h.syncRead(ctx, p)
	return err
}

// confirmByRange reads the block at off of the tentative version from a
// server that reads ranges, and pins that version if it is the file's.
// It reports false when there is no such server or the read failed: the
// caller then asks with a sync read, which says what the file is now.
func (h *fileHandle) confirmByRange(ctx context.Context, p string, off int64) bool {
	f := h.f
	h.mu.Lock()
	ver, size, mtime := h.ver, h.size, h.mtime
	h.mu.Unlock()
	obj, ok := f.fsys.client.OpenKnown(p, size, mtime)
	if !ok {
		return false
	}
	if bs := int64(f.fsys.blocks.BlockSize()); off < size {
		start := off / bs * bs
		block := make([]byte, min(bs, size-start))
		ctx, cancel := f.fsys.opContext(ctx)
		_, err := f.fsys.client.ReadAt(ctx, obj, block, start)
		cancel()
		if err != nil && err != io.EOF {
			f.fsys.logf("read %q: the version seen in its attributes did not hold (%v): asking the VM", p, err)
			obj.Release()
			return false
		}
		f.fsys.blocks.Put(cache.BlockKey{File: f.fileID, Version: ver, Index: start / bs}, block)
	}
	f.fsys.blocks.DropOtherVersions(f.fileID, ver)
	h.pin(obj, ver, size)
	return true
}

// syncRead reads p's description (and a small file's content) and pins the
// version it belongs to.
func (h *fileHandle) syncRead(ctx context.Context, p string) (string, error) {
	f := h.f
	ctx, cancel := f.fsys.opContext(ctx)
	defer cancel()
	obj, err := f.fsys.client.Open(ctx, p)
	if err != nil {
		if transport.IsNotFound(err) {
			f.fsys.meta.noteGone(p)
		}
		return "", err
	}
	ver, err := f.observe(ctx, p, obj)
	if err != nil {
		obj.Release()
		return "", err
	}
	h.pin(obj, ver, obj.Size)
	return ver, nil
}

// observe matches what a sync read saw with the file's attributes and
// returns the content version. The read answer has a size but no time: a
// size other than the cached attributes' means the file changed, and one
// stat fetches the attributes of the new version. Blocks of other versions
// are dropped.
func (f *fileNode) observe(ctx context.Context, p string, obj *transport.Object) (string, error) {
	e, st := f.fsys.meta.lookup(p)
	if st != exists || e.Attr.Size != obj.Size {
		var err error
		if e, err = f.fsys.statPath(ctx, p); err != nil {
			return "", err
		}
		if e.Attr.Size != obj.Size {
			return "", &transport.Error{Code: transport.CodeStale, Op: "read", Path: p,
				Message: "the file is changing on the VM while it is read"}
		}
	}
	ver := version(e.Attr.Size, e.Attr.MtimeNs)
	if obj.Inline != nil {
		f.fsys.blocks.PutWhole(f.fileID, ver, obj.Inline)
	}
	f.fsys.blocks.DropOtherVersions(f.fileID, ver)
	return ver, nil
}

func (h *fileHandle) pin(obj *transport.Object, ver string, size int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reader != nil && h.ver != ver {
		h.reader.Close()
		h.reader = nil
	}
	if h.obj != nil && h.obj != obj {
		h.obj.Release()
	}
	if h.ver != ver {
		h.mtime = 0 // unknown for this version until revalidate says
	}
	h.obj, h.ver, h.size, h.tentative = obj, ver, size, false
}

// read serves a read from the staged copy or the VM. Bytes from the VM
// go out as slices of the block cache, pinned until the reply is sent.
func (h *fileHandle) read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, error) {
	f := h.f
	f.mu.Lock()
	st := f.staged
	f.mu.Unlock()
	if st == nil {
		pn, err := h.remoteRead(ctx, dest, off)
		if err != nil && err != io.EOF {
			return nil, err
		}
		return pinnedResult{pn}, nil
	}
	if err := f.fillRange(ctx, st, off, int64(len(dest))); err != nil {
		return nil, err
	}
	n, err := st.ReadAt(dest, off)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return fuse.ReadResultData(dest[:n]), nil
}

// remoteRead reads the pinned version through the block cache.
func (h *fileHandle) remoteRead(ctx context.Context, dest []byte, off int64) (*cache.Pinned, error) {
	r, err := h.cacheReader(ctx, off)
	if err != nil {
		return nil, err
	}
	return r.ReadPinned(ctx, dest, off)
}

// remoteReadAt copies bytes of the pinned version into dest.
func (h *fileHandle) remoteReadAt(ctx context.Context, dest []byte, off int64) (int, error) {
	r, err := h.cacheReader(ctx, off)
	if err != nil {
		return 0, err
	}
	return r.ReadAt(ctx, dest, off)
}

// cacheReader confirms the pinned version for a read at off and returns
// the handle's reader of it.
func (h *fileHandle) cacheReader(ctx context.Context, off int64) (*cache.FileReader, error) {
	if err := h.confirm(ctx, off); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reader == nil {
		h.reader = cache.NewFileReader(h.f.fsys.blocks, h.f.fileID, h.ver, h.size, h.fetch, h.f.fsys.opts.ReadAhead)
	}
	return h.reader, nil
}

// pinnedResult is a FUSE read reply made of block cache slices: go-fuse
// writes them to the kernel with one writev (Slices) and then calls Done,
// which releases the pins.
type pinnedResult struct{ pn *cache.Pinned }

func (r pinnedResult) Size() int { return r.pn.N }

func (r pinnedResult) Done() { r.pn.Release() }

// Slices gives go-fuse the bytes to write as they are.
func (r pinnedResult) Slices() ([][]byte, fuse.Status) { return r.pn.Vecs, fuse.OK }

// Bytes copies the bytes into buf, for the paths that want them whole.
func (r pinnedResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	buf = buf[:0]
	for _, v := range r.pn.Vecs {
		buf = append(buf, v...)
	}
	return buf, fuse.OK
}

// fetch reads bytes of the pinned version from the VM for the block
// cache. The object is resolved on first need; if the file moved or its
// URL went stale the object is re-resolved at the file's current path, and
// the read goes on only if the content version is still the pinned one.
func (h *fileHandle) fetch(ctx context.Context, p []byte, off int64) (int, error) {
	obj, err := h.object(ctx, false)
	if err != nil {
		return 0, err
	}
	n, err := h.f.fsys.client.ReadAt(ctx, obj, p, off)
	switch transport.CodeOf(err) {
	case transport.CodeStale, transport.CodeNotFound:
		if obj, err = h.object(ctx, true); err != nil {
			return 0, err
		}
		n, err = h.f.fsys.client.ReadAt(ctx, obj, p, off)
	}
	return n, err
}

// object returns the Object the pinned version is read through: unless
// refresh, the one the handle has, else one OpenKnown makes of the
// version's attributes (no request) when a server reads ranges, else a
// sync read's answer, which must be of the pinned version.
func (h *fileHandle) object(ctx context.Context, refresh bool) (*transport.Object, error) {
	h.mu.Lock()
	obj, ver, size, mtime := h.obj, h.ver, h.size, h.mtime
	h.mu.Unlock()
	if obj != nil && !refresh {
		return obj, nil
	}
	p := h.f.vmPath()
	if p == "" {
		return nil, syscall.ESTALE // as in confirm
	}
	obj, known := h.f.fsys.client.OpenKnown(p, size, mtime)
	if refresh || !known || mtime == 0 {
		var err error
		if obj, err = h.f.fsys.client.Open(ctx, p); err != nil {
			return nil, err
		}
		got, err := h.f.observe(ctx, p, obj)
		if err == nil && got != ver {
			err = &transport.Error{Code: transport.CodeStale, Op: "read", Path: p,
				Message: fmt.Sprintf("file changed on the VM while open (version %s, now %s)", ver, got)}
		}
		if err != nil {
			obj.Release()
			return nil, err
		}
	}
	h.mu.Lock()
	if h.obj != nil {
		h.obj.Release()
	}
	h.obj = obj
	h.mu.Unlock()
	return obj, nil
}

// close stops the handle's read-ahead and releases its object.
func (h *fileHandle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reader != nil {
		h.reader.Close()
		h.reader = nil
	}
	if h.obj != nil {
		h.obj.Release()
		h.obj = nil
	}
}
