package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The null FUSE ceiling of the throughput rows: the row's own read or
// write, of the row's size, through the null filesystem (nullfs.go)
// mounted in this process with arkerfs's FUSE options, best of
// ceilingRuns fresh mounts (as curl's limit is a best of two). No FUSE
// filesystem can do the work faster on this machine, so limit time ÷
// ceiling time is the best ratio to the curl limit any of them could
// reach here.

// Bounds and repetitions of the ceiling measurement.
const (
	ceilingRuns      = 2                // best of
	nullUnmountWait  = 30 * time.Second // for the kernel to let go of the mount
	nullFUSEName     = "nullfuse"       // FsName and Name of the mount
	nullFUSEAttrTTL  = time.Second      // entry and attribute timeouts (go-fuse's default)
	nullFUSEMaxBytes = 1 << 20          // MaxWrite and MaxReadAhead, as cmd/arkerfs/mount.go
)

// nullCeiling is one row's ceiling: the null filesystem's times for the
// row's work.
type nullCeiling struct {
	best  time.Duration   // the fastest run: the ceiling
	runs  []time.Duration // every run, in order
	moved int64           // bytes the filesystem served or discarded in all runs
	how   string          // what was timed, for the report
	err   error           // the measurement failed, or unmounting did
}

// record adds the ceiling's figures to rw, with its ratio to the row's
// limit (limit time ÷ ceiling time) when there is a limit.
func (c nullCeiling) record(rw *row, limit time.Duration) {
	if c.err != nil {
		rw.extra("null_fuse_error", c.err.Error())
	}
	if c.best <= 0 {
		return
	}
	runs := make([]float64, len(c.runs))
	for i, d := range c.runs {
		runs[i] = d.Seconds()
	}
	rw.extra("null_fuse_s", c.best.Seconds())
	rw.extra("null_fuse_runs_s", runs)
	rw.extra("null_fuse_bytes", c.moved)
	rw.extra("null_fuse_how", c.how)
	if limit > 0 {
		rw.extra("null_fuse_ratio", limit.Seconds()/c.best.Seconds())
	}
}

// ceilingRead times the cold-read row's read (readWhole: 1 MiB reads of
// the whole file) of the null filesystem's file of the row's size.
func (r *rig) ceilingRead(ctx context.Context) nullCeiling {
	size := r.sz.BigFile
	c := r.nullCeiling(ctx, func(m *nullMount, _ int) (time.Duration, error) {
		return readWhole(ctx, m.path(nullZeroName), size)
	}, func(n *nullFS) int64 { return n.served.Load() })
	c.how = fmt.Sprintf("%s read in 1 MiB reads (as the cold-read row) from a fixed zero-filled buffer", mib(size))
	return c
}

// ceilingWrite times the seq-write row's write and close (writeClose:
// 1 MiB writes of the pattern to a new file) into a null filesystem sink.
func (r *rig) ceilingWrite(ctx context.Context) nullCeiling {
	size := r.sz.BigFile
	c := r.nullCeiling(ctx, func(m *nullMount, i int) (time.Duration, error) {
		d, _, err := writeClose(ctx, m.path(fmt.Sprintf("sink%d.bin", i)), size)
		return d, err
	}, func(n *nullFS) int64 { return n.discarded.Load() })
	c.how = fmt.Sprintf("%s written in 1 MiB writes to a new file and closed (as the write row), writes discarded", mib(size))
	return c
}

// nullCeiling runs work ceilingRuns times, each on a fresh null
// filesystem (so each read starts cold, and the page cache a run fills
// is let go of before the next), and checks that moved says all the
// bytes went through the filesystem.
func (r *rig) nullCeiling(ctx context.Context, work func(m *nullMount, run int) (time.Duration, error), moved func(*nullFS) int64) nullCeiling {
	var c nullCeiling
	for i := 0; i < ceilingRuns; i++ {
		d, n, err := r.nullRun(ctx, func(m *nullMount) (time.Duration, error) { return work(m, i) }, moved)
		if err != nil {
			c.err = fmt.Errorf("null FUSE run %d: %w", i+1, err)
			if d <= 0 {
				return nullCeiling{err: c.err}
			}
		}
		c.runs = append(c.runs, d)
		c.moved += n
		if c.best == 0 || d < c.best {
			c.best = d
		}
		if c.err != nil {
			return c // the mount would not go away: no more mounts
		}
	}
	if want := int64(ceilingRuns) * r.sz.BigFile; c.moved != want {
		c.err = fmt.Errorf("the null FUSE filesystem moved %d bytes in %d runs, want %d (a read answered from the page cache?)", c.moved, ceilingRuns, want)
	}
	return c
}

// nullRun mounts a null filesystem, times work on it and unmounts it. It
// returns the time (0 if work failed), the bytes moved and the error of
// work or of the unmount.
func (r *rig) nullRun(ctx context.Context, work func(m *nullMount) (time.Duration, error), moved func(*nullFS) int64) (time.Duration, int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	m, err := r.mountNull()
	if err != nil {
		return 0, 0, err
	}
	d, err := work(m)
	if err != nil {
		d = 0
	}
	n := moved(m.fs)
	return d, n, errors.Join(err, m.unmount())
}

// nullMount is a null filesystem mounted in this process.
type nullMount struct {
	dir    string
	fs     *nullFS
	server *fuse.Server // nil once unmounted
}

// mountNull mounts a null filesystem whose file has the rows' size on a
// fresh directory of the rig, with the FUSE options of cmd/arkerfs.
func (r *rig) mountNull() (*nullMount, error) {
	dir, err := os.MkdirTemp(r.root, "nullfuse-")
	if err != nil {
		return nil, fmt.Errorf("null FUSE mount point: %w", err)
	}
	ttl := nullFUSEAttrTTL
	opts := &gofs.Options{
		EntryTimeout: &ttl, AttrTimeout: &ttl,
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		MountOptions: fuse.MountOptions{
			FsName:       nullFUSEName,
			Name:         nullFUSEName,
			DirectMount:  os.Geteuid() == 0,
			MaxWrite:     nullFUSEMaxBytes,
			MaxReadAhead: nullFUSEMaxBytes,
		},
	}
	m := &nullMount{dir: dir, fs: newNullFS(r.sz.BigFile)}
	if m.server, err = gofs.Mount(dir, m.fs, opts); err != nil {
		if isMounted(dir) {
			detach(dir)
		}
		return nil, fmt.Errorf("mounting the null FUSE filesystem on %s: %w", dir, err)
	}
	return m, nil
}

// path is a path inside the mount.
func (m *nullMount) path(rel string) string { return m.dir + "/" + rel }

// unmount unmounts within nullUnmountWait; failing that it detaches the
// mount lazily and says so. Calling it again is harmless.
func (m *nullMount) unmount() error {
	if m.server == nil {
		return nil
	}
	srv := m.server
	m.server = nil
	done := make(chan error, 1)
	go func() { done <- srv.Unmount() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(nullUnmountWait):
		err = fmt.Errorf("no unmount within %v", nullUnmountWait)
	}
	if err == nil && !isMounted(m.dir) {
		return nil
	}
	detach(m.dir)
	err = fmt.Errorf("unmounting the null FUSE filesystem at %s: %v; detached it lazily", m.dir, err)
	if isMounted(m.dir) {
		err = fmt.Errorf("%w, and it is still mounted", err)
	}
	return err
}
