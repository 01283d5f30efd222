package cache

// Read-ahead of one FileReader.
//
// The kernel reads ahead only 128 KiB at a time on FUSE; at a 20 ms round
// trip that is about 6 MiB/s. So each reader watches its own reads and,
// while they are sequential, keeps a window of parallel fetches ahead of
// them. observe runs on every ReadAt. F is the read-ahead fetch size
// (chunk), W the window. A read is "near" when it starts within
// [lastEnd-backTol, lastEnd+block]; a near read that ends before lastEnd
// (the kernel issues reads slightly out of order) changes nothing; any
// other read is "far", a seek.
//
//	                        2nd near read in a row
//	  +-------------------+ ----------------------> +----------------------+
//	  |      RANDOM       |                         |      SEQUENTIAL      |
//	  | W = 0             |                         | W = 2F on entry      | ---+ near read with
//	  | a read fetches    |                         | pump keeps           |    | lastEnd >= growAt:
//	  | only its missing  |                         | [ahead, lastEnd+W)   | <--+ W = min(2W, MaxWindow)
//	  | blocks: one fetch | <---------------------- | claimed, F bytes a   |      growAt = lastEnd+W
//	  | per run of        |   far read (a seek):    | fetch, <= MaxParallel|
//	  | adjacent blocks   |   W = 0, ahead = 0      | fetches at once      |
//	  +-------------------+                         +----------------------+
//
// A read-ahead fetch that ends pumps again, so the window refills while
// the reader is busy elsewhere.
// Fetches already in flight when the reader seeks are left to finish: their
// blocks land in the cache. A read-ahead fetch that fails inserts nothing
// and reports nothing; a read that then needs its blocks fetches them
// itself (once) and reports that error if it fails too.

// raMode is the state of the diagram above.
type raMode int

const (
	raRandom raMode = iota
	raSequential
)

// raState is the read-ahead state of a FileReader, guarded by its mu.
type raState struct {
	closed  bool
	mode    raMode
	streak  int   // near reads in a row
	lastEnd int64 // end of the furthest read of the current streak
	window  int64 // bytes kept fetched or in flight past lastEnd
	growAt  int64 // the window doubles once lastEnd reaches this
	ahead   int64 // read-ahead has been claimed up to here (block-aligned or the file size)
}

// observe classifies a read of [off, off+n), moves the state machine and
// reports whether the read is part of a sequential streak.
func (r *FileReader) observe(off, n int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := off + n
	if off < r.lastEnd-r.backTol || off > r.lastEnd+r.bs {
		r.mode, r.streak, r.window, r.ahead = raRandom, 1, 0, 0
		r.lastEnd = end
		return false
	}
	if end <= r.lastEnd {
		// Behind the streak (reads the kernel issued out of order, or a
		// re-read): neither progress nor a seek.
		return r.mode == raSequential
	}
	r.streak++
	r.lastEnd = end
	if r.maxWindow <= 0 || r.streak < 2 {
		return r.streak >= 2
	}
	switch {
	case r.mode == raRandom:
		r.mode = raSequential
		r.window = min(2*r.chunk, r.maxWindow)
		r.growAt = r.lastEnd + r.window
	case r.lastEnd >= r.growAt:
		r.window = min(2*r.window, r.maxWindow)
		r.growAt = r.lastEnd + r.window
	}
	// Blocks of the read itself are fetched by the read, not ahead of it.
	r.ahead = max(r.ahead, roundUp(end, r.bs))
	r.pumpLocked()
	return true
}

// pump starts read-ahead fetches until the window is covered or every
// fetch slot is busy.
func (r *FileReader) pump() {
	r.mu.Lock()
	r.pumpLocked()
	r.mu.Unlock()
}

// LOCKS_REQUIRED(r.mu)
func (r *FileReader) pumpLocked() {
	if r.closed || r.mode != raSequential {
		return
	}
	target := min(r.lastEnd+r.window, r.size)
	for r.ahead < target {
		if r.running.Load() >= r.raMax || !r.sem.TryAcquire(1) {
			return // a read-ahead goroutine pumps again when it ends
		}
		start := r.ahead
		end := min(start+r.chunk, r.size)
		r.ahead = end
		mine, _ := r.c.acquire(r.file, r.version, start/r.bs, (end-1)/r.bs, nil, false, nil)
		if len(mine) == 0 {
			r.sem.Release(1)
			continue
		}
		r.wg.Add(1)
		r.running.Add(1)
		go r.readAhead(mine)
	}
}

// readAhead fetches claimed blocks for the cache. It holds one fetch slot.
func (r *FileReader) readAhead(mine []claim) {
	defer r.wg.Done()
	// An error is dropped here on purpose: the blocks are not inserted, and
	// a read that needs them fetches them itself.
	_ = r.load(r.ctx, mine, nil, 0, true)
	r.sem.Release(1)
	r.running.Add(-1)
	r.pump()
}
