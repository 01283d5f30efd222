package fs

import (
	"context"
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
	st, filled := f.staged, f.filled
	f.mu.Unlock()
	if st != nil && filled {
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
	if st == nil {
		var err error
		if st, err = f.fsys.staging.CreateFrom(p, h.size); err != nil {
			return nil, fmt.Errorf("staging %q: %w", p, err)
		}
	}
	if err := copyRemote(ctx, h, st); err != nil {
		return nil, err
	}
	e, _ := f.fsys.meta.lookup(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.staged == nil {
		f.attr = e.Attr
	}
	f.staged, f.filled = st, true
	return st, nil
}

// copyRemote fills the parts of st still missing with the remote content
// h reads. Filling is not a change: an unchanged file is not uploaded.
func copyRemote(ctx context.Context, h *fileHandle, st *cache.StagedFile) error {
	buf := make([]byte, 4<<20)
	for off := int64(0); off < h.size; {
		n, err := h.remoteReadAt(ctx, buf, off)
		if n > 0 {
			if werr := st.Fill(buf[:n], off); werr != nil {
				return fmt.Errorf("staging: %w", werr)
			}
			off += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
	}
	return nil
}

// truncateStaged sets the size of the staged copy, making one if needed.
// Truncating to zero needs none of the VM's content.
func (f *fileNode) truncateStaged(ctx context.Context, size int64) error {
	f.io.Lock()
	defer f.io.Unlock()
	f.mu.Lock()
	st := f.staged
	f.mu.Unlock()
	if st == nil && size == 0 {
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
	} else {
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
	// A rewrite keeps the file's user xattrs (GNU tar sets them on an
	// empty file before writing it; editors save over files that have
	// them), as a write in place on a local disk would.
	up := transport.Upload{Path: p, Size: st.Size(), Source: st, KeepXattrs: !local}
	if local {
		up.Mode = &perm
	}
	_ = st.SetVMPath(p)
	f.fsys.echoes.uploaded(p)
	res := f.fsys.uploads.Do(ctx, up)
	f.fsys.echoes.uploaded(p)
	if res.Err != nil {
		f.fsys.logf("upload %q: %v (changes kept in local staging)", p, res.Err)
		return res.Err
	}
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
	return nil
}

// cacheWholeMax is the largest uploaded file whose bytes go straight into
// the block cache, so that the next open reads them without a round trip.
const cacheWholeMax = 1 << 20

// cacheUploaded puts a small file's uploaded content in the block cache
// under its new version, if the staged copy is still exactly what was
// uploaded (generation gen: no write came since).
func (f *fileNode) cacheUploaded(st *cache.StagedFile, gen uint64, size int64, ver string) {
	if size > cacheWholeMax || st.Generation() != gen {
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
	defer f.mu.Unlock()
	f.unlinked = true
	if !open && f.staged != nil {
		_ = f.staged.Remove()
		f.staged, f.filled = nil, false
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
	defer f.mu.Unlock()
	if f.openers == 0 && f.staged != nil && (!f.staged.Dirty() || f.unlinked) {
		_ = f.staged.Remove()
		f.staged, f.filled = nil, false
	}
}
