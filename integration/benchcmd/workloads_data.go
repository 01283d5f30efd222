package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// The data workloads: large sequential reads and writes, and the mount's
// memory while reading a file several times its cache budget.

// readFile reads path sequentially in 1 MiB reads (as dd bs=1M would),
// O_RDONLY, and returns the time and the bytes read.
func readFile(ctx context.Context, path string) (time.Duration, int64, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	buf := make([]byte, blockSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, n, err
		}
		m, err := f.Read(buf)
		n += int64(m)
		if errors.Is(err, io.EOF) {
			return time.Since(start), n, nil
		}
		if err != nil {
			return 0, n, fmt.Errorf("reading %s: %w", path, err)
		}
	}
}

// readWhole reads path and checks that all size bytes came.
func readWhole(ctx context.Context, path string, size int64) (time.Duration, error) {
	d, n, err := readFile(ctx, path)
	if err == nil && n != size {
		err = fmt.Errorf("read %d bytes of %s, want %d", n, path, size)
	}
	return d, err
}

// coldWarmRead reads the big file on a fresh mount, then again on the
// same mount; local disk reads the VM's copy itself (warm page cache).
// The cold read's ceiling is the same read of a null FUSE filesystem.
func coldWarmRead(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	size := r.sz.BigFile
	cold := &row{ID: "cold-read", Title: "cold sequential read", Work: mib(size) + ", 1 MiB reads", Bytes: size}
	warm := &row{ID: "warm-read", Title: "warm re-read (same mount)", Work: mib(size) + ", 1 MiB reads", Bytes: size}
	rows := []*row{cold, warm}
	if err := r.bigFile(ctx); err != nil {
		return rows, err
	}
	limit, how, lerr := r.curlDownload(ctx, bigName)
	cold.LimitHow = how
	if lerr != nil {
		cold.LimitHow = "not measured: " + lerr.Error()
	}
	var local time.Duration
	for i := 0; i < 2; i++ { // the second read is the warm one
		d, err := readWhole(ctx, r.vm(bigName), size)
		if err != nil {
			return rows, err
		}
		local = d
	}
	r.ceilingRead(ctx).record(cold, limit)
	m, err := r.mount(ctx, mountOpts{})
	if err != nil {
		return rows, err
	}
	defer m.unmount()
	for i, rw := range rows {
		if i > 0 {
			r.reset()
		}
		cpu := startCPU(m)
		d, err := readWhole(ctx, m.path(bigName), size)
		if err != nil {
			return rows, err
		}
		cpu.record(rw)
		rw.setCounts(r.snapshot())
		if i == 0 {
			rw.setTimes(d, local, limit)
		} else {
			rw.setTimes(d, local, 0)
		}
		rw.extra("mb_per_s", float64(size)/d.Seconds()/1e6)
	}
	if err := m.unmount(); err != nil {
		return rows, err
	}
	if limit > 0 {
		cold.Checks = append(cold.Checks, newCheck("speed/curl", "speed vs curl download", ">=", 0.8, cold.Ratio, "×"))
	}
	cold.Checks = append(cold.Checks, newCheck("fetched/size", "bytes fetched / file size", "<=", 1.05, float64(cold.BytesOut)/float64(size), "×"))
	warm.Checks = append(warm.Checks, newCheck("speed/local", "speed vs local disk read", ">=", 0.25, warm.Ratio, "×"))
	return rows, nil
}

// seqWrite writes the big file through a fresh mount and closes it (the
// close uploads); local disk writes and closes the same bytes (no fsync);
// the limit is curl's upload of the same bytes, and the ceiling the same
// write into a null FUSE filesystem.
func seqWrite(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	size := r.sz.BigFile
	w := &row{ID: "seq-write", Title: "sequential write + close", Work: mib(size) + ", 1 MiB writes", Bytes: size}
	rows := []*row{w}
	lim, lerr := r.curlUpload(ctx, "curl-upload.bin")
	if lerr != nil {
		w.LimitHow = "not measured: " + lerr.Error()
	} else {
		w.LimitHow = lim.how
		runs := make([]float64, len(lim.runs))
		for i, d := range lim.runs {
			runs[i] = d.Seconds()
		}
		w.extra("curl_runs_s", runs)
		w.extra("curl_requests", lim.requests)
	}
	local, _, err := writeClose(ctx, r.loc("write.bin"), size)
	_ = os.Remove(r.loc("write.bin"))
	if err != nil {
		return rows, err
	}
	r.ceilingWrite(ctx).record(w, lim.best)
	m, err := r.mount(ctx, mountOpts{})
	if err != nil {
		return rows, err
	}
	defer m.unmount()
	name := fmt.Sprintf("write-%s.bin", latName(lat))
	cpu := startCPU(m)
	d, closing, err := writeClose(ctx, m.path(name), size)
	if err != nil {
		return rows, err
	}
	cpu.record(w)
	w.extra("close_s", closing.Seconds())
	w.setCounts(r.snapshot())
	if err := m.unmount(); err != nil {
		return rows, err
	}
	if fi, err := os.Stat(r.vm(name)); err != nil || fi.Size() != size {
		return rows, fmt.Errorf("after the write the VM has %s: %v (want %d bytes)", name, err, size)
	}
	_ = os.Remove(r.vm(name))
	w.setTimes(d, local, lim.best)
	w.extra("mb_per_s", float64(size)/d.Seconds()/1e6)
	if lerr == nil {
		w.Checks = append(w.Checks, newCheck("speed/curl", "speed vs curl upload", ">=", 0.7, w.Ratio, "×"))
	}
	return rows, nil
}

// writeClose writes size bytes of the pattern to a new file at path and
// closes it. It returns the time of both, and of the close alone.
func writeClose(ctx context.Context, path string, size int64) (total, closing time.Duration, err error) {
	start := time.Now()
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	if err := newPattern(2).write(ctx, f, 0, size); err != nil {
		f.Close()
		return 0, 0, fmt.Errorf("writing %s: %w", path, err)
	}
	closeStart := time.Now()
	if err := f.Close(); err != nil {
		return 0, 0, fmt.Errorf("closing %s: %w", path, err)
	}
	return time.Since(start), time.Since(closeStart), nil
}

// peakRSSRead reads a sparse file of RSSFile bytes twice through a mount
// with --cache-size CacheMiB and reads the mount process's VmHWM.
func peakRSSRead(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	size := r.sz.RSSFile
	w := &row{ID: "peak-rss", Title: "peak RSS, file read twice",
		Work: fmt.Sprintf("%s file, --cache-size %d", mib(size), r.sz.CacheMiB), Bytes: 2 * size}
	rows := []*row{w}
	if err := r.rssFile(); err != nil {
		return rows, err
	}
	m, err := r.mount(ctx, mountOpts{cacheMiB: r.sz.CacheMiB})
	if err != nil {
		return rows, err
	}
	defer m.unmount()
	var wall time.Duration
	cpu := startCPU(m)
	for i := 0; i < 2; i++ {
		d, err := readWhole(ctx, m.path(rssName), size)
		if err != nil {
			return rows, err
		}
		w.extra(fmt.Sprintf("read%d_s", i+1), d.Seconds())
		wall += d
	}
	cpu.record(w)
	hwm, err := peakRSS(m.pid())
	if err != nil {
		return rows, err
	}
	w.setCounts(r.snapshot())
	if err := m.unmount(); err != nil {
		return rows, err
	}
	w.setTimes(wall, 0, 0)
	w.extra("peak_rss_mib", float64(hwm)/(1<<20))
	w.Checks = append(w.Checks, newCheck("MiB", "peak RSS (VmHWM) of the mount", "<=", float64(r.sz.CacheMiB+64), float64(hwm)/(1<<20), "MiB"))
	return rows, nil
}

// latName names a latency in file names and ids: "0ms", "10ms".
func latName(d time.Duration) string {
	return fmt.Sprintf("%gms", float64(d)/float64(time.Millisecond))
}
