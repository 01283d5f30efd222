package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// StagedFile is one staged file: local data that holds a VM file's writes
// until they are uploaded. It is safe for concurrent use.
//
// Content: every byte in [0, Size()) is either real (written, filled from
// the remote copy, or zeros past the end of the remote copy) or missing
// (only in a file from CreateFrom, until filled). Missing bytes read as
// zeros: check Missing before trusting ReadAt in a file from CreateFrom.
//
// Dirtiness: every change (WriteAt, Truncate, MarkDirty) bumps the
// generation and makes the file dirty. An upload that began at generation
// g calls MarkClean(g), which succeeds only if nothing changed since.
//
// Delta: what differs from the remote copy the file was staged from (or
// last uploaded), so that an upload may send only that (Delta).
type StagedFile struct {
	s  *Staging
	id string

	mu sync.RWMutex // protects the fields below; ReadAt and the queries hold it shared
	f  *os.File     // nil once closed
	// size is the file's length. INVARIANT: the data file is exactly size long.
	size int64
	// filled holds the real content. INVARIANT: within [0, size).
	filled rangeSet
	// complete: no byte has been missing since the sidecar last said so;
	// it only ever goes from false to true.
	complete bool
	vmPath   string
	gen      uint64
	dirty    bool
	removed  bool
	// changed and low are the delta against the remote copy: bytes
	// written since, and the smallest size the file had since.
	// INVARIANT: every byte in [low, size) outside changed is zero, and
	// missing bytes lie below low; so the remote copy cut to low, then
	// the changed bytes written over it, then cut or extended to size,
	// is the file.
	changed rangeSet
	low     int64
	// onChange, when set, hears of every change of content: bytes
	// [off, end) differ from before. It runs with mu held.
	onChange func(off, end int64)
}

// OnChange sets (or, with nil, clears) the function that hears of every
// change of the content, after the bytes changed. It runs under the
// file's lock: it must be quick and must not call the file.
func (f *StagedFile) OnChange(fn func(off, end int64)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onChange = fn
}

// Path returns the local data file.
func (f *StagedFile) Path() string { return f.s.path(f.id, dataSuffix) }

// VMPath returns the VM path the file will be uploaded to.
func (f *StagedFile) VMPath() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.vmPath
}

// ReadAt reads with io.ReaderAt semantics (io.EOF at Size()).
func (f *StagedFile) ReadAt(p []byte, off int64) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if err := f.usableLocked(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("cache: staged read at negative offset %d", off)
	}
	if off >= f.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), f.size-off)
	got, err := f.f.ReadAt(p[:n], off)
	if err != nil && !(errors.Is(err, io.EOF) && int64(got) == n) {
		return got, fmt.Errorf("cache: staged read %q: %w", f.vmPath, err)
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// WriteAt writes p at off. Writing past the end grows the file; the gap
// reads as zeros and counts as real content.
func (f *StagedFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usableLocked(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("cache: staged write at negative offset %d", off)
	}
	n, err := f.f.WriteAt(p, off)
	if n > 0 {
		end := off + int64(n)
		if off > f.size {
			f.filled.add(f.size, off)
		}
		f.filled.add(off, end)
		f.changed.add(off, end)
		changedFrom := min(off, f.size) // a gap before off now reads as zeros
		f.size = max(f.size, end)
		f.changedLocked()
		if f.onChange != nil {
			f.onChange(changedFrom, end)
		}
	}
	if err != nil {
		return n, fmt.Errorf("cache: staged write %q: %w", f.vmPath, err)
	}
	return n, f.noteCompleteLocked()
}

// Truncate sets the size. Bytes past the old end read as zeros and count
// as real content.
func (f *StagedFile) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usableLocked(); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("cache: staged truncate to negative size %d", size)
	}
	if err := f.f.Truncate(size); err != nil {
		return fmt.Errorf("cache: staged truncate %q: %w", f.vmPath, err)
	}
	if size < f.size {
		f.filled.cut(size)
		f.changed.cut(size)
		f.low = min(f.low, size)
	} else {
		f.filled.add(f.size, size)
	}
	old := f.size
	f.size = size
	f.changedLocked()
	if f.onChange != nil && old != size {
		f.onChange(min(old, size), max(old, size))
	}
	return f.noteCompleteLocked()
}

// Size returns the file's length.
func (f *StagedFile) Size() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.size
}

// SetVMPath records a new VM path (after a rename); the sidecar follows.
func (f *StagedFile) SetVMPath(p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.vmPath
	f.vmPath = p
	if f.removed {
		return nil
	}
	if err := f.writeSidecar(); err != nil {
		f.vmPath = old
		return err
	}
	return nil
}

// Fill writes remote content p at off into the parts of [off, off+len(p))
// that are still missing, and marks them real. Parts written meanwhile
// keep their bytes. Filling is not a change: the generation stays.
func (f *StagedFile) Fill(p []byte, off int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usableLocked(); err != nil {
		return err
	}
	end := min(off+int64(len(p)), f.size)
	for _, g := range f.filled.gaps(max(off, 0), end) {
		if _, err := f.f.WriteAt(p[g[0]-off:g[1]-off], g[0]); err != nil {
			return fmt.Errorf("cache: staged fill %q: %w", f.vmPath, err)
		}
		f.filled.add(g[0], g[1])
	}
	return f.noteCompleteLocked()
}

// MarkFilled marks [off, off+n) (within the file) as real content without
// writing it, for instance the part of a file past the remote copy's end.
func (f *StagedFile) MarkFilled(off, n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filled.add(max(off, 0), min(off+n, f.size))
	_ = f.noteCompleteLocked() // a failed sidecar write only delays the record
}

// Filled reports whether all of [off, off+n) (within the file) is real.
func (f *StagedFile) Filled(off, n int64) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.filled.covers(max(off, 0), min(off+n, f.size))
}

// Missing returns the missing parts of [off, off+n) (within the file) as
// {offset, length} pairs, in order.
func (f *StagedFile) Missing(off, n int64) [][2]int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	gaps := f.filled.gaps(max(off, 0), min(off+n, f.size))
	for i := range gaps {
		gaps[i][1] -= gaps[i][0]
	}
	return gaps
}

// Dirty reports whether the file has changes not yet uploaded.
func (f *StagedFile) Dirty() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.dirty
}

// MarkDirty records a change that needs an upload though no byte changed
// (a new empty file, for instance).
func (f *StagedFile) MarkDirty() {
	f.mu.Lock()
	f.changedLocked()
	f.mu.Unlock()
}

// Generation returns the number of changes so far; read it before an
// upload and pass it to MarkClean after.
func (f *StagedFile) Generation() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.gen
}

// MarkClean marks the file clean if it has not changed since generation
// gen, and reports whether it did.
func (f *StagedFile) MarkClean(gen uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != gen {
		return false
	}
	f.dirty = false
	f.changed = rangeSet{} // the remote copy is this content now
	f.low = f.size
	return true
}

// Delta says how the file differs from its remote copy: cut that copy to
// low bytes, write changed (spans {offset, length}, in order) over it
// with the file's bytes, and cut or extend it to size.
func (f *StagedFile) Delta() (low, size int64, changed [][2]int64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, sp := range f.changed.spans {
		changed = append(changed, [2]int64{sp[0], sp[1] - sp[0]})
	}
	return f.low, f.size, changed
}

// Complete reports whether no byte is missing.
func (f *StagedFile) Complete() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.filled.covers(0, f.size)
}

// Remove closes and deletes the file and its sidecar: after a successful
// upload and the last close.
func (f *StagedFile) Remove() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removed {
		return nil
	}
	f.removed = true
	var err error
	if f.f != nil {
		err = f.f.Close()
		f.f = nil
	}
	err = errors.Join(err, removeBoth(f.s.path(f.id, dataSuffix), f.s.path(f.id, sidecarSuffix)))
	f.s.forget(f.id) // only now: Leftovers must not list a file being removed
	return err
}

// closeFile closes the data file, keeping it on disk (Staging.Close).
func (f *StagedFile) closeFile() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	return err
}

// LOCKS_REQUIRED(f.mu)
func (f *StagedFile) usableLocked() error {
	if f.f == nil {
		return fmt.Errorf("cache: staged file %q: %w", f.vmPath, os.ErrClosed)
	}
	return nil
}

// LOCKS_REQUIRED(f.mu)
func (f *StagedFile) changedLocked() {
	f.gen++
	f.dirty = true
}

// noteCompleteLocked records in the sidecar, once, that no byte is
// missing any more.
// LOCKS_REQUIRED(f.mu)
func (f *StagedFile) noteCompleteLocked() error {
	if f.complete || !f.filled.covers(0, f.size) {
		return nil
	}
	f.complete = true
	if err := f.writeSidecar(); err != nil {
		f.complete = false
		return err
	}
	return nil
}

// writeSidecar writes the sidecar record atomically. The caller holds
// f.mu or is the only one to know f.
func (f *StagedFile) writeSidecar() error {
	raw, err := json.Marshal(sidecar{VMPath: []byte(f.vmPath), Updated: time.Now().UTC(), Complete: f.complete})
	if err == nil {
		err = writeFileAtomic(f.s.path(f.id, sidecarSuffix), raw)
	}
	if err != nil {
		return fmt.Errorf("cache: staging sidecar for %q: %w", f.vmPath, err)
	}
	return nil
}
