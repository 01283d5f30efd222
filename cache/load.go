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
	g, gctx := errgroup.WithContext(ctx)
	for _, run := range runs {
		g.Go(func() error {
			if err := r.sem.Acquire(gctx, 1); err != nil {
				r.c.abandon(run...)
				return err
			}
			defer r.sem.Release(1)
			return r.fetchRun(gctx, run, p, off, false)
		})
	}
	return g.Wait()
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
		if err := r.c.reserve(ctx, n, ra); err != nil {
			r.c.abandon(rest...)
			r.c.abandon(cls[i:]...)
			return nil, err
		}
		buf := r.c.blocks.get(int(n), r.c.blockSize)
		if !r.c.disk.get(cl.key, buf) {
			r.c.blocks.put(buf)
			r.c.release(n, ra)
			rest = append(rest, cl)
			continue
		}
		copyOut(p, off, cl.key.Index*r.bs, buf)
		r.c.finish(cl, &block{data: buf, pooled: true}, ra)
		if !ra {
			r.c.add(&r.c.stats.DiskHits, 1)
		}
	}
	return rest, nil
}

// fetchRun fetches one run of adjacent claimed blocks with one Fetch call
// and inserts them. Blocks are inserted only when the whole fetch
// succeeded: bytes that came with an error may belong to a newer version.
func (r *FileReader) fetchRun(ctx context.Context, run []claim, p []byte, off int64, ra bool) error {
	first := run[0].key.Index
	start := first * r.bs
	n := min(int64(len(run))*r.bs, r.size-start)
	// A one-block fetch lands in the block's own buffer; a longer one in a
	// run buffer whose bytes are then copied into blocks.
	need, single := n, len(run) == 1
	if !single {
		need = 2 * n
	}
	if err := r.c.reserve(ctx, need, ra); err != nil {
		r.c.abandon(run...)
		return err
	}
	var buf []byte
	if single {
		buf = r.c.blocks.get(int(n), r.c.blockSize)
	} else {
		buf = r.c.runs.get(int(n), int(roundUp(n, r.bs)))
	}
	got, err := r.fetch(ctx, buf, start)
	got = max(min(got, len(buf)), 0)
	r.fetched.Add(int64(got))
	err = fetchErr(err, got, len(buf))
	if !ra {
		r.c.add(&r.c.stats.Misses, int64(len(run)))
	}
	if err != nil {
		r.c.abandon(run...)
		r.c.release(need, ra)
		r.putBuf(buf, single)
		return fmt.Errorf("cache: fetch %d bytes at offset %d: %w", n, start, err)
	}
	var inserted int64
	for _, cl := range run {
		data := buf[(cl.key.Index-first)*r.bs:][:r.blockLen(cl.key.Index)]
		copyOut(p, off, cl.key.Index*r.bs, data)
		b := &block{data: data, pooled: true}
		if !single {
			b.data = r.c.blocks.get(len(data), r.c.blockSize)
			copy(b.data, data)
		}
		r.c.finish(cl, b, ra)
		inserted += int64(len(data))
	}
	r.c.release(need-inserted, ra)
	if !single {
		r.putBuf(buf, false)
	}
	return nil
}

func (r *FileReader) putBuf(buf []byte, single bool) {
	if single {
		r.c.blocks.put(buf)
	} else {
		r.c.runs.put(buf)
	}
}

// fetchDirect fetches blocks for p without claiming or inserting them: the
// last resort of a read whose blocks other callers kept failing to fill.
func (r *FileReader) fetchDirect(ctx context.Context, cls []claim, p []byte, off int64) error {
	for _, cl := range cls {
		start := cl.key.Index * r.bs
		n := r.blockLen(cl.key.Index)
		if err := r.c.reserve(ctx, n, false); err != nil {
			return err
		}
		buf := r.c.blocks.get(int(n), r.c.blockSize)
		got, err := r.fetch(ctx, buf, start)
		r.fetched.Add(int64(max(got, 0)))
		err = fetchErr(err, got, len(buf))
		if err == nil {
			copyOut(p, off, start, buf)
		}
		r.c.blocks.put(buf)
		r.c.release(n, false)
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
