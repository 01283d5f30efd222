package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/arker-ai/arkerfs/cache"
	"github.com/arker-ai/arkerfs/transport"
	"github.com/arker-ai/arkerfs/transport/helper"
)

// releaseUploadTimeout bounds the last upload attempt of a file whose
// final close could not upload it. Its data stays staged either way.
const releaseUploadTimeout = 2 * time.Minute

// startLocal gives a file created here its (empty, dirty) staged copy.
func (f *fileNode) startLocal(path string, a helper.Attr) error {
	st, err := f.fsys.staging.Create(path)
	if err != nil {
		return fmt.Errorf("staging %q: %w", path, err)
	}
	st.MarkDirty()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.staged, f.filled, f.local, f.attr = st, true, true, a
	return nil
}

// ensureStaged returns the staged copy, creating it and filling it with
// the VM's content first if needed, so that writes land on whole content.
func (f *fileNode) ensureStaged(ctx context.Context) (*cache.StagedFile, error) {
	f.mu.Lock()
	st, filled := f.staged, f.filled
	f.mu.Unlock()
	if st != nil && filled {
		return st, nil
	}
	f.io.Lock()
	defer f.io.Unlock()
	return f.fillLocked(ctx)
}

// fillLocked makes the staged copy whole. LOCKS_REQUIRED(f.io)
func (f *fileNode) fillLocked(ctx context.Context) (*cache.StagedFile, error) {
	f.mu.Lock()
	st, filled, base := f.staged, f.filled, f.origin
	f.mu.Unlock()
	if st != nil && filled {
		return st, nil
	}
	if st != nil {
		// Staged without its VM bytes (stageFromVMLocked): fetch the rest
		// from the version it was made from.
		if base == nil {
			return nil, fmt.Errorf("staging %q: bytes missing and no version to fetch them from", f.vmPath())
		}
		if err := fillMissing(ctx, base, st, 0, st.Size()); err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.filled, f.origin = true, nil
		f.mu.Unlock()
		base.close()
		return st, nil
	}
	p := f.vmPath()
	h := &fileHandle{f: f}
	defer h.close()
	if _, err := h.revalidate(ctx); err != nil {
		return nil, err
	}
	if err := h.confirm(ctx, 0); err != nil {
		return nil, err
	}
	st, err := f.fsys.staging.CreateFrom(p, h.size)
	if err != nil {
		return nil, fmt.Errorf("staging %q: %w", p, err)
	}
	if err := fillMissing(ctx, h, st, 0, h.size); err != nil {
		_ = st.Remove()
		return nil, err
	}
	e, _ := f.fsys.meta.lookup(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attr = e.Attr
	f.staged, f.filled = st, true
	return st, nil
}

// stageForWrite returns the staged copy writes land in: the one there is,
// else a new one. Where the VM side changes files in place, the new copy
// starts with none of the VM's bytes (an upload then sends only what
// changed, and reads fetch the rest); else it is filled whole first, for
// a whole upload.
func (f *fileNode) stageForWrite(ctx context.Context) (*cache.StagedFile, error) {
	f.mu.Lock()
	st := f.staged
	f.mu.Unlock()
	if st != nil {
		return st, nil
	}
	if !f.fsys.client.WritesInPlace() {
		return f.ensureStaged(ctx)
	}
	f.io.Lock()
	defer f.io.Unlock()
	f.mu.Lock()
	st = f.staged
	f.mu.Unlock()
	if st != nil {
		return st, nil
	}
	return f.stageFromVMLocked(ctx)
}

// stageFromVMLocked stages the file's VM content without fetching any of
// it: its bytes are missing until read (fillRange) or until the copy must
// be whole (fillLocked), and come from the version the attributes name
// then, which base keeps. LOCKS_REQUIRED(f.io)
func (f *fileNode) stageFromVMLocked(ctx context.Context) (*cache.StagedFile, error) {
	p := f.vmPath()
	h := &fileHandle{f: f}
	if _, err := h.revalidate(ctx); err != nil {
		return nil, err
	}
	st, err := f.fsys.staging.CreateFrom(p, h.size)
	if err != nil {
		h.close()
		return nil, fmt.Errorf("staging %q: %w", p, err)
	}
	e, _ := f.fsys.meta.lookup(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attr = e.Attr
	f.staged, f.filled, f.origin = st, h.size == 0, h
	if f.filled {
		f.origin = nil
		h.close()
	}
	return st, nil
}

// fillRange makes [off, off+n) of the staged copy st real, fetching the
// blocks that hold its missing bytes from the version it was made from.
func (f *fileNode) fillRange(ctx context.Context, st *cache.StagedFile, off, n int64) error {
	if len(st.Missing(off, n)) == 0 {
		return nil
	}
	f.io.Lock()
	defer f.io.Unlock()
	f.mu.Lock()
	base, cur := f.origin, f.staged
	f.mu.Unlock()
	if cur != st || base == nil {
		return nil // filled or dropped meanwhile: the read sees what st holds
	}
	bs := int64(f.fsys.blocks.BlockSize())
	start := off / bs * bs
	return fillMissing(ctx, base, st, start, (off+n+bs-1)/bs*bs-start)
}

// fillMissing fetches the missing parts of [off, off+n) of st through h,
// which must read the version st was staged from: bytes of another
// version would tear the file. Filling is not a change: an unchanged
// file is not uploaded.
func fillMissing(ctx context.Context, h *fileHandle, st *cache.StagedFile, off, n int64) error {
	h.mu.Lock()
	want := h.ver
	h.mu.Unlock()
	var buf []byte
	for _, g := range st.Missing(off, n) {
		for o, end := g[0], g[0]+g[1]; o < end; {
			if buf == nil {
				buf = make([]byte, min(4<<20, end-o))
			}
			k, err := h.remoteReadAt(ctx, buf[:min(int64(len(buf)), end-o)], o)
			h.mu.Lock()
			got := h.ver
			h.mu.Unlock()
			if got != want {
				return &transport.Error{Code: transport.CodeStale, Op: "read", Path: st.VMPath(),
					Message: "the file changed on the VM while it was being written here"}
			}
			if k > 0 {
				if werr := st.Fill(buf[:k], o); werr != nil {
					return fmt.Errorf("staging: %w", werr)
				}
				o += int64(k)
			}
			if err == io.EOF && o < end || err == nil && k == 0 {
				return io.ErrUnexpectedEOF
			}
			if err != nil && err != io.EOF {
				return err
			}
		}
	}
	return nil
}

// truncateStaged sets the size of the staged copy, making one if needed.
// Truncating to zero needs none of the VM's content, and neither does a
// copy the VM side will change in place.
func (f *fileNode) truncateStaged(ctx context.Context, size int64) error {
	f.io.Lock()
	defer f.io.Unlock()
	f.mu.Lock()
	st := f.staged
	f.mu.Unlock()
	switch {
	case st != nil:
	case size == 0:
		p := f.vmPath()
		ns, err := f.fsys.staging.Create(p)
		if err != nil {
			return fmt.Errorf("staging %q: %w", p, err)
		}
		e, _ := f.fsys.meta.lookup(p)
		f.mu.Lock()
		f.staged, f.filled, f.attr = ns, true, e.Attr
		f.mu.Unlock()
		st = ns
	case f.fsys.client.WritesInPlace():
		var err error
		if st, err = f.stageFromVMLocked(ctx); err != nil {
			return err
		}
	default:
		var err error
		if st, err = f.fillLocked(ctx); err != nil {
			return err
		}
	}
	if err := st.Truncate(size); err != nil {
		return fmt.Errorf("staging: %w", err)
	}
	st.MarkDirty()
	f.mu.Lock()
	f.attr.MtimeNs = now()
	f.attr.CtimeNs = f.attr.MtimeNs
	f.mu.Unlock()
	return nil
}

// upload sends the staged copy to the VM if it has changes. On failure
// the staged copy stays dirty, so nothing is lost and the next flush,
// fsync or release tries again.
func (f *fileNode) upload(ctx context.Context) error {
	f.io.Lock()
	defer f.io.Unlock()
	f.mu.Lock()
	st, local, unlinked := f.staged, f.local, f.unlinked
	perm := f.attr.Perm
	times := f.pendingTimes
	f.mu.Unlock()
	p := f.vmPath()
	if st == nil || !st.Dirty() || unlinked || p == "" {
		return nil
	}
	if f.fsys.mustPrecedeUpload(p) {
		// Times set before these writes would overwrite the upload's
		// mtime if applied after it, and a directory above the file may
		// not be made on the VM yet: send them first.
		if err := f.fsys.flushDeferred(ctx); err != nil {
			return err
		}
	}
	// Once sent, an upload may land: finish it even if the caller is
	// interrupted, so that close reports what really happened.
	ctx = context.WithoutCancel(ctx)
	gen := st.Generation()
	if !local {
		if a, ok := f.writeInPlaceLocked(ctx, p, st); ok {
			f.uploaded(p, st, gen, transport.UploadResult{Path: p, Size: a.Size, MtimeNs: a.MtimeNs, Ino: a.Ino, Attr: &a}, false, times)
			f.rebaseLocked(st, a)
			return nil
		}
	}
	if !st.Complete() {
		// Staged without all of the VM's bytes, and nothing on the VM
		// changes it in place (any more): a whole upload needs them.
		if _, err := f.fillLocked(ctx); err != nil {
			f.fsys.logf("upload %q: fetching the rest of the file: %v (changes kept in local staging)", p, err)
			return err
		}
	}
	// A rewrite keeps the file's user xattrs (GNU tar sets them on an
	// empty file before writing it; editors save over files that have
	// them), as a write in place on a local disk would.
	up := transport.Upload{Path: p, Size: st.Size(), Source: st, KeepXattrs: !local}
	if local {
		up.Mode = &perm
	}
	if low, _, spans := st.Delta(); low == 0 {
		up.Spans = append([][2]int64{}, spans...) // the rest is zeros
	}
	_ = st.SetVMPath(p)
	f.fsys.echoes.uploaded(p)
	res := f.fsys.uploads.Do(ctx, up)
	f.fsys.echoes.uploaded(p)
	if res.Err != nil {
		f.fsys.logf("upload %q: %v (changes kept in local staging)", p, res.Err)
		return res.Err
	}
	f.uploaded(p, st, gen, res, local, times)
	return nil
}

// inPlaceMin is the smallest file whose changes go to the VM as the
// changed bytes alone (writeInPlaceLocked); a smaller one is uploaded
// whole, in one request, and replaced atomically.
const inPlaceMin = 1 << 20

// writeInPlaceLocked sends what changed in st since it was staged (or
// last sent) to the VM side, which changes the file in place, when it can
// and it is worth it: the copy lacks bytes of the VM's (a whole upload
// would fetch them first), or the change is at most half of a file of
// inPlaceMin bytes or more. It reports false when the caller is to upload
// the whole file; a failure here is only logged, and the whole upload
// says what the VM thinks. LOCKS_REQUIRED(f.io)
func (f *fileNode) writeInPlaceLocked(ctx context.Context, p string, st *cache.StagedFile) (transport.Attr, bool) {
	if !f.fsys.client.WritesInPlace() {
		return transport.Attr{}, false
	}
	low, size, spans := st.Delta()
	var changed int64
	for _, sp := range spans {
		changed += sp[1]
	}
	if st.Complete() && (low == 0 || size < inPlaceMin || changed > size/2) {
		return transport.Attr{}, false
	}
	_ = st.SetVMPath(p)
	f.fsys.echoes.uploaded(p)
	a, err := f.fsys.client.WriteSpans(ctx, p, low, size, spans, st)
	f.fsys.echoes.uploaded(p)
	if err != nil {
		if !errors.Is(err, transport.ErrNoRangeWriter) {
			f.fsys.logf("write in place %q: %v; uploading the whole file", p, err)
		}
		return transport.Attr{}, false
	}
	return a, true
}

// rebaseLocked makes the missing bytes of st come from the VM version a
// write in place made (attributes a): the VM's file is st's content now,
// and the version st was made from is gone. LOCKS_REQUIRED(f.io)
func (f *fileNode) rebaseLocked(st *cache.StagedFile, a transport.Attr) {
	f.mu.Lock()
	old := f.origin
	if f.staged != st || old == nil {
		f.mu.Unlock()
		return
	}
	f.origin = f.pinnedHandle(a)
	f.mu.Unlock()
	old.close()
}

// uploaded records an upload of st, begun at generation gen, that the VM
// answered with res: the copy is clean if nothing changed since, the
// attributes and the block cache follow the VM's, and times set while
// writing go to the VM after it.
func (f *fileNode) uploaded(p string, st *cache.StagedFile, gen uint64, res transport.UploadResult, local bool, times [2]helper.Time) {
	st.MarkClean(gen)
	f.mu.Lock()
	if old := f.attr.Ino; res.Ino != 0 && old != res.Ino && f.attr.Nlink <= 1 {
		f.fsys.gens.retire(old) // the commit put a new file in place
	}
	if res.Ino != 0 {
		f.attr.Ino = res.Ino
	}
	f.local = false
	f.attr.Size, f.attr.MtimeNs = res.Size, res.MtimeNs
	f.attr.CtimeNs = max(f.attr.CtimeNs, res.MtimeNs) // the upload changed the file on the VM
	f.attr.Type, f.attr.Nlink = helper.TypeRegular, max(f.attr.Nlink, 1)
	f.pendingTimes = [2]helper.Time{}
	if times[0].Set || times[1].Set {
		// Times set while writing go to the VM after the upload (which
		// set the mtime), with the next run; the cache shows them now.
		// They skip the wait for room (deferRoom): the upload is done,
		// and they must not be lost.
		f.fsys.deferOp(transport.MetaOp{Kind: helper.OpUtimens, Path: p, Atime: times[0], Mtime: times[1]})
		t := now()
		if times[0].Set {
			f.attr.AtimeNs = timeValue(times[0], t)
		}
		if times[1].Set {
			f.attr.MtimeNs = timeValue(times[1], t)
		}
	}
	a := f.attr
	f.keptVersion = version(a.Size, a.MtimeNs)
	f.mu.Unlock()
	_, name := splitPath(p)
	f.fsys.meta.noteAttr(p, helper.Entry{Name: name, Attr: a})
	if local {
		f.fsys.meta.dirChanged(parentOf(p)) // the file appeared on the VM
	}
	f.fsys.blocks.DropOtherVersions(f.fileID, f.keptVersion)
	f.cacheUploaded(st, gen, res.Size, f.keptVersion)
}

// cacheWholeMax is the largest uploaded file whose bytes go straight into
// the block cache, so that the next open reads them without a round trip.
const cacheWholeMax = 1 << 20

// cacheUploaded puts a small file's uploaded content in the block cache
// under its new version, if the staged copy is still exactly what was
// uploaded (generation gen: no write came since).
func (f *fileNode) cacheUploaded(st *cache.StagedFile, gen uint64, size int64, ver string) {
	if size > cacheWholeMax || st.Generation() != gen || !st.Complete() {
		return
	}
	buf := make([]byte, size)
	n, err := st.ReadAt(buf, 0)
	if int64(n) == size && (err == nil || err == io.EOF) && st.Generation() == gen {
		f.fsys.blocks.PutWhole(f.fileID, ver, buf)
	}
}

// uploadIfLocal uploads a file that exists only here, before an
// operation that needs it on the VM (rename, link).
func (f *fileNode) uploadIfLocal(ctx context.Context, path string) error {
	f.mu.Lock()
	local := f.local
	f.mu.Unlock()
	if !local {
		return nil
	}
	return f.upload(ctx)
}

// detach prepares an unlink. An open file keeps working through its
// handles: its content is copied into the staged copy first. It reports
// whether the file exists on the VM (and so needs the VM-side unlink).
func (f *fileNode) detach(ctx context.Context) (onVM bool, err error) {
	f.mu.Lock()
	local, open := f.local, f.openers > 0
	f.mu.Unlock()
	if open && !local {
		if _, err := f.ensureStaged(ctx); err != nil {
			return true, err
		}
	}
	f.mu.Lock()
	f.unlinked = true
	var base *fileHandle
	if !open && f.staged != nil {
		_ = f.staged.Remove()
		f.staged, f.filled, f.origin, base = nil, false, nil, f.origin
	}
	f.mu.Unlock()
	if base != nil {
		base.close()
	}
	return !local, nil
}

// reattach undoes detach when the operation it prepared failed.
func (f *fileNode) reattach() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unlinked = false
}

// release drops a handle. The last one uploads what is left (when an
// earlier flush failed) and removes a clean staged copy; a copy that still
// cannot be uploaded stays in the staging directory, named in the log.
func (f *fileNode) release(h *fileHandle) {
	h.close()
	f.mu.Lock()
	f.openers--
	last := f.openers == 0
	f.mu.Unlock()
	if !last {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseUploadTimeout)
	defer cancel()
	if err := f.upload(ctx); err != nil {
		f.fsys.logf("could not upload %q: %v; its content is kept in the staging directory", f.vmPath(), err)
		return
	}
	f.io.Lock()
	defer f.io.Unlock()
	f.mu.Lock()
	var base *fileHandle
	if f.openers == 0 && f.staged != nil && (!f.staged.Dirty() || f.unlinked) {
		_ = f.staged.Remove()
		f.staged, f.filled, f.origin, base = nil, false, nil, f.origin
	}
	f.mu.Unlock()
	if base != nil {
		base.close()
	}
}
