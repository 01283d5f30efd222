package emulator

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// Ledger limits.
const (
	uploadTTL      = time.Hour // an upload idle this long expires
	maxUploads     = 10_000    // uploads remembered (unfinished and written)
	maxTombstones  = 10_000    // expired upload ids remembered
	maxChunkBytes  = 5 << 20   // decoded bytes of one chunk entry
	ledgerSweepGap = time.Minute
)

// ledger holds chunk uploads by upload_id. An upload outlives the request
// that began it: its chunks may come in several requests, in any order.
// Lock order: upload.mu, then ledger.mu (a chunk write makes staging and
// drops uploads); ledger.mu holders only TryLock an upload.
type ledger struct {
	now func() time.Time

	mu        sync.Mutex // protects the fields below
	dir       string     // staging directory, made on first use
	ups       map[string]*upload
	expired   map[string]time.Time // tombstones: upload ids that expired
	lastSweep time.Time
}

// upload is one file arriving in chunks.
type upload struct {
	id   string
	path string // clean VM path
	size int64

	mu      sync.Mutex // protects the fields below; held across a chunk's write and the commit
	file    *os.File   // staging file; nil once written or dropped
	ranges  []wire.ByteRange
	sha     string    // expected sha256 (hex), "" when none given
	written bool      // committed to the VM
	gone    bool      // dropped from the ledger: a new upload takes the id
	last    time.Time // last chunk
}

func newLedger(now func() time.Time) *ledger {
	return &ledger{now: now, ups: map[string]*upload{}, expired: map[string]time.Time{}}
}

// get returns the upload id for a file at path of size bytes, making it
// when new. Another path or size under the same id is a conflict; an id
// that expired is expired.
func (lg *ledger) get(id, path string, size int64) (*upload, *apiError) {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	now := lg.now()
	lg.sweepLocked(now, false)
	if up, ok := lg.ups[id]; ok {
		if up.path != path || up.size != size {
			e := newError(wire.CodeConflict, "upload %q is for %q of %d bytes", id, up.path, up.size)
			e.details = &wire.ErrorDetails{Resource: wire.ResourceUpload}
			return nil, e
		}
		return up, nil
	}
	if _, ok := lg.expired[id]; ok {
		e := newError(wire.CodeExpired, "upload %q expired", id)
		e.details = &wire.ErrorDetails{Resource: wire.ResourceUpload}
		return nil, e
	}
	if len(lg.ups) >= maxUploads {
		lg.sweepLocked(now, true)
	}
	up := &upload{id: id, path: path, size: size, last: now, ranges: []wire.ByteRange{}}
	lg.ups[id] = up
	return up, nil
}

// stagingFile makes a staging file.
func (lg *ledger) stagingFile() (*os.File, error) {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if lg.dir == "" {
		dir, err := os.MkdirTemp("", "arker-emulator-staging-")
		if err != nil {
			return nil, fmt.Errorf("staging: %w", err)
		}
		lg.dir = dir
	}
	f, err := os.CreateTemp(lg.dir, "upload-")
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	return f, nil
}

// drop forgets up (its id may begin a new upload) and removes its staging.
// LOCKS_REQUIRED(up.mu)
func (lg *ledger) drop(up *upload) {
	up.closeFile()
	up.gone = true
	lg.mu.Lock()
	if lg.ups[up.id] == up {
		delete(lg.ups, up.id)
	}
	lg.mu.Unlock()
}

// closeFile removes the staging file.
// LOCKS_REQUIRED(up.mu)
func (up *upload) closeFile() {
	if up.file != nil {
		up.file.Close()
		os.Remove(up.file.Name())
		up.file = nil
	}
}

// sweepLocked expires uploads idle for uploadTTL (at most once a minute
// unless force), and when force also the oldest written ones, to stay
// under maxUploads.
// LOCKS_REQUIRED(lg.mu)
func (lg *ledger) sweepLocked(now time.Time, force bool) {
	if !force && now.Sub(lg.lastSweep) < ledgerSweepGap {
		return
	}
	lg.lastSweep = now
	var written []*upload
	for id, up := range lg.ups {
		if !up.mu.TryLock() {
			continue // busy: not idle
		}
		switch {
		case now.Sub(up.last) >= uploadTTL:
			up.closeFile()
			up.gone = true
			delete(lg.ups, id)
			lg.tombstoneLocked(id, now)
		case up.written:
			written = append(written, up)
		}
		up.mu.Unlock()
	}
	if force && len(lg.ups) >= maxUploads {
		slices.SortFunc(written, func(a, b *upload) int { return a.last.Compare(b.last) })
		for _, up := range written[:min(len(written), len(lg.ups)-maxUploads+1)] {
			delete(lg.ups, up.id)
			lg.tombstoneLocked(up.id, now)
		}
	}
}

// tombstoneLocked remembers that id expired.
// LOCKS_REQUIRED(lg.mu)
func (lg *ledger) tombstoneLocked(id string, now time.Time) {
	if len(lg.expired) >= maxTombstones {
		var oldest string
		var at time.Time
		for k, t := range lg.expired {
			if oldest == "" || t.Before(at) {
				oldest, at = k, t
			}
		}
		delete(lg.expired, oldest)
	}
	lg.expired[id] = now
}

// tidy removes the staging directory when no upload is unfinished.
func (lg *ledger) tidy() {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	for _, up := range lg.ups {
		if !up.mu.TryLock() {
			return // busy: a chunk is being written (it may take lg.mu)
		}
		open := up.file != nil
		up.mu.Unlock()
		if open {
			return
		}
	}
	if lg.dir != "" {
		os.RemoveAll(lg.dir)
		lg.dir = ""
	}
}

// addRange merges [start, end) into the sorted, disjoint ranges.
func addRange(rs []wire.ByteRange, start, end int64) []wire.ByteRange {
	if end <= start {
		return rs
	}
	out := make([]wire.ByteRange, 0, len(rs)+1)
	cur := wire.ByteRange{Start: start, End: end}
	placed := false
	for _, r := range rs {
		switch {
		case r.End < cur.Start:
			out = append(out, r)
		case cur.End < r.Start:
			if !placed {
				out = append(out, cur)
				placed = true
			}
			out = append(out, r)
		default: // overlapping or adjacent
			cur.Start, cur.End = min(cur.Start, r.Start), max(cur.End, r.End)
		}
	}
	if !placed {
		out = append(out, cur)
	}
	return out
}

// received is the number of bytes the ranges hold.
func received(rs []wire.ByteRange) int64 {
	var n int64
	for _, r := range rs {
		n += r.End - r.Start
	}
	return n
}
