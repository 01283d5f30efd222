package cache

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"
)

// load fills claimed blocks (sorted by index): from the disk tier when it
// has them, otherwise by fetching runs of adjacent blocks. Blocks inside p
// (file bytes from off; p nil for read-ahead) are copied there. Every claim
// is ended. A read (ra false) fetches its runs in parallel, each taking a
// fetch slot; read-ahead already holds one and fetches its runs in turn.
func (r *FileReader) load(ctx context.Context, cls []claim, p []byte, off int64, ra bool) error {
	if r.c.disk != nil {
		var err error
		if cls, err = r.loadFromDisk(ctx, cls, p, off, ra); err != nil {
			return err
		}
	}
	runs := r.splitRuns(cls, ra)
	if ra {
		for i, run := range runs {
			if err := r.fetchRun(ctx, run, nil, 0, true); err != nil {
				for _, rest := range runs[i+1:] {
					r.c.abandon(rest...)
				}
				return err
			}
		}
		return nil
	}
	if len(runs) == 1 {
		return r.fetchRunSlot(ctx, runs[0], p, off)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.maxParallel)
	for _, run := range runs {
		g.Go(func() error { return r.fetchRunSlot(gctx, run, p, off) })
	}
	return g.Wait()
}

// fetchRunSlot is fetchRun for a read: it first takes a fetch slot.
func (r *FileReader) fetchRunSlot(ctx context.Context, run []claim, p []byte, off int64) error {
	if err := r.sem.Acquire(ctx, 1); err != nil {
		r.c.abandon(run...)
		return err
	}
	defer r.sem.Release(1)
	return r.fetchRun(ctx, run, p, off, false)
}

// splitRuns groups claims into runs of adjacent blocks, each at most one
// fetch long.
func (r *FileReader) splitRuns(cls []claim, ra bool) [][]claim {
	limit := r.runMax
	if ra {
		limit = r.chunk
	}
	var runs [][]claim
	for i := 0; i < len(cls); {
		j := i + 1
		for j < len(cls) && cls[j].key.Index == cls[j-1].key.Index+1 && int64(j-i+1)*r.bs <= limit {
			j++
		}
		runs = append(runs, cls[i:j])
		i = j
	}
	return runs
}

// loadFromDisk fills the claimed blocks the disk tier holds and returns
// the others.
func (r *FileReader) loadFromDisk(ctx context.Context, cls []claim, p []byte, off int64, ra bool) ([]claim, error) {
	var rest []claim
	for i, cl := range cls {
		if !r.c.disk.has(cl.key) {
			rest = append(rest, cl)
			continue
		}
		n := r.blockLen(cl.key.Index)
		buf, err := r.c.reserve(ctx, n, ra)
		if err != nil {
			r.c.abandon(rest...)
			r.c.abandon(cls[i:]...)
			return nil, err
		}
		if !r.c.disk.get(cl.key, buf) {
			r.c.release(buf, ra)
			rest = append(rest, cl)
			continue
		}
		s := &slab{buf: buf, size: n}
		copyOut(p, off, cl.key.Index*r.bs, s.buf)
		r.c.finish(r.file, r.version, cl.key.Index, s, []claim{cl}, ra)
		if !ra {
			r.c.add(&r.c.stats.DiskHits, 1)
		}
	}
	return rest, nil
}

// fetchRun fetches one run of adjacent claimed blocks with one Fetch call
// into one slab and inserts them. Blocks are inserted only when the whole
// fetch succeeded: bytes that came with an error may belong to a newer
// version.
func (r *FileReader) fetchRun(ctx context.Context, run []claim, p []byte, off int64, ra bool) error {
	first := run[0].key.Index
	start := first * r.bs
	n := min(int64(len(run))*r.bs, r.size-start)
	buf, err := r.c.reserve(ctx, n, ra)
	if err != nil {
		r.c.abandon(run...)
		return err
	}
	s := &slab{buf: buf, size: n}
	got, err := r.fetch(ctx, s.buf, start)
	got = max(min(got, len(s.buf)), 0)
	r.fetched.Add(int64(got))
	err = fetchErr(err, got, len(s.buf))
	if !ra {
		r.c.add(&r.c.stats.Misses, int64(len(run)))
	}
	if err != nil {
		r.c.abandon(run...)
		r.c.release(s.buf, ra)
		return fmt.Errorf("cache: fetch %d bytes at offset %d: %w", n, start, err)
	}
	copyOut(p, off, start, s.buf)
	r.c.finish(r.file, r.version, first, s, run, ra)
	return nil
}

// fetchDirect fetches blocks for p without claiming or inserting them: the
// last resort of a read whose blocks other callers kept failing to fill.
func (r *FileReader) fetchDirect(ctx context.Context, cls []claim, p []byte, off int64) error {
	for _, cl := range cls {
		start := cl.key.Index * r.bs
		n := r.blockLen(cl.key.Index)
		buf, err := r.c.reserve(ctx, n, false)
		if err != nil {
			return err
		}
		got, err := r.fetch(ctx, buf, start)
		r.fetched.Add(int64(max(got, 0)))
		err = fetchErr(err, got, len(buf))
		if err == nil {
			copyOut(p, off, start, buf)
		}
		r.c.release(buf, false)
		if err != nil {
			return fmt.Errorf("cache: fetch %d bytes at offset %d: %w", n, start, err)
		}
	}
	return nil
}

// fetchErr judges a fetch that returned got of want bytes and err: io.EOF
// with every byte is success, and fewer bytes (the remote is shorter than
// the reader's size: it changed) is io.ErrUnexpectedEOF.
func fetchErr(err error, got, want int) error {
	switch {
	case got >= want && (err == nil || errors.Is(err, io.EOF)):
		return nil
	case err == nil || errors.Is(err, io.EOF):
		return io.ErrUnexpectedEOF
	}
	return err
}
