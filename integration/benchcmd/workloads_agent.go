package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The agent's workloads: scans of deep trees with and without it, and how
// soon a change made inside the VM shows through the mount.

// deepDirs is how many leaf directories the deep trees spread their files
// over (the 100 directories).
const deepDirs = 100

// deepTree makes files files in deepDirs leaf directories depth levels
// below root (each level a fan-out that reaches deepDirs leaves).
func deepTree(root string, depth, files int) error {
	leaf := func(i int) string {
		parts := make([]string, depth)
		for l := range depth {
			parts[l] = fmt.Sprintf("l%d-%d", l, i%(l+2))
		}
		parts[depth-1] = fmt.Sprintf("leaf%03d", i)
		return filepath.Join(append([]string{root}, parts...)...)
	}
	return spreadFiles(deepDirs, files, 256, leaf)
}

// deepScan runs find and ls -lR over ScanFiles files in deepDirs leaf
// directories at depths 4 and 8, each on a fresh mount, on the run path
// (at most 10 requests, as the flat scan) and with the agent (at most 3
// requests, and at most twice local disk plus 3 round trips). The same
// walk over go-fuse's loopback of local disk is the peer: the FUSE floor.
func deepScan(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	var rows []*row
	script := `find "$1" >/dev/null && ls -lR "$1" >/dev/null`
	for _, depth := range []int{4, 8} {
		dir := fmt.Sprintf("deep%d", depth)
		if err := r.fx.once(dir, func() error { return deepTree(r.vm(dir), depth, r.sz.ScanFiles) }); err != nil {
			return rows, err
		}
		local, _, err := sh(ctx, r.root, script, []string{r.vm(dir)})
		if err != nil {
			return rows, err
		}
		loop, lerr := r.loopbackRun(ctx, dir, script)
		for _, agent := range []bool{false, true} {
			w := &row{ID: fmt.Sprintf("deep%d-runs", depth), Title: fmt.Sprintf("find + ls -lR, cold, depth %d, runs", depth),
				Work: fmt.Sprintf("%d files in %d dirs %d levels down", r.sz.ScanFiles, deepDirs, depth)}
			if agent {
				w.ID, w.Title = fmt.Sprintf("deep%d-agent", depth), fmt.Sprintf("find + ls -lR, cold, depth %d, agent", depth)
			}
			rows = append(rows, w)
			m, err := r.mount(ctx, mountOpts{agent: agent})
			if err != nil {
				return rows, err
			}
			d, _, err := sh(ctx, r.root, script, []string{m.path(dir)})
			if err != nil {
				m.unmount()
				return rows, err
			}
			w.setCounts(r.snapshot())
			w.setTimes(d, local, 0)
			if lerr != nil {
				w.extra("loopback_error", lerr.Error())
			} else {
				w.extra("loopback_s", loop.Seconds())
			}
			if agent {
				bound := 2*local + 3*2*lat
				w.Checks = append(w.Checks,
					newCheck("requests", "requests", "<=", 3, float64(w.ReqTotal), "requests"),
					newCheck("time", "time vs 2 × local + 3 round trips (s)", "<=", bound.Seconds(), d.Seconds(), "s"))
			} else {
				w.Checks = append(w.Checks, newCheck("requests", "requests", "<=", 10, float64(w.ReqTotal), "requests"))
			}
			if err := m.unmount(); err != nil {
				return rows, err
			}
		}
	}
	return rows, nil
}

// vmChange measures how soon a file made inside the VM shows through a
// mount with the agent, default TTLs, after the mount has listed its
// directory: the change feed's latency. Target: within 1 s.
func vmChange(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	w := &row{ID: "vm-change", Title: "a file made inside the VM shows through the mount",
		Work: "stat through the mount every 5 ms after the VM makes the file, default TTLs, agent"}
	rows := []*row{w}
	dir := "changes"
	if err := os.MkdirAll(r.vm(dir), 0o755); err != nil {
		return rows, err
	}
	m, err := r.mount(ctx, mountOpts{agent: true})
	if err != nil {
		return rows, err
	}
	defer m.unmount()
	const rounds = 5
	var worst, total time.Duration
	for i := range rounds {
		name := fmt.Sprintf("new%d-%d", lat.Milliseconds(), i)
		if _, err := os.ReadDir(m.path(dir)); err != nil { // cached: "not there" is known
			return rows, err
		}
		if _, err := os.Stat(m.path(dir + "/" + name)); !os.IsNotExist(err) {
			return rows, fmt.Errorf("%s before it was made: %v", name, err)
		}
		start := time.Now()
		if err := os.WriteFile(r.vm(dir+"/"+name), []byte("made on the VM"), 0o644); err != nil {
			return rows, err
		}
		for {
			if _, err := os.Stat(m.path(dir + "/" + name)); err == nil {
				break
			} else if !os.IsNotExist(err) {
				return rows, err
			}
			if time.Since(start) > 30*time.Second {
				return rows, fmt.Errorf("%s made on the VM did not show within 30 s", name)
			}
			time.Sleep(5 * time.Millisecond) // the poll of a user looking again
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
	}
	w.setCounts(r.snapshot())
	w.setTimes(total/rounds, 0, 0)
	w.extra("worst_s", worst.Seconds())
	w.Work += fmt.Sprintf("; mean of %d rounds", rounds)
	w.Checks = append(w.Checks, newCheck("visible", "worst time to show (s)", "<=", 1, worst.Seconds(), "s"))
	return rows, m.unmount()
}

// sparseName is the random-read benchmark's file on the VM: 1 GiB, sparse,
// the cold large file.
const (
	sparseName = "sparse1g"
	sparseSize = 1 << 30
)

// randRead reads 4 KiB at an offset in the middle of a cold 1 GiB file
// (its attributes looked up first, as an open does), each on a fresh
// mount: on the run path (a sync read and a ranged GET of its presigned
// URL) and with the agent (target: 1 request, at most 1 MiB fetched);
// then changes 4 KiB there with the agent (writeInPlace).
func randRead(ctx context.Context, r *rig, lat time.Duration) ([]*row, error) {
	const off, n = 613<<20 + 40960, 4096
	if err := r.fx.once(sparseName, func() error {
		f, err := os.Create(r.vm(sparseName))
		if err != nil {
			return err
		}
		if err := f.Truncate(sparseSize); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}); err != nil {
		return nil, err
	}
	var rows []*row
	for _, agent := range []bool{false, true} {
		w := &row{ID: "rand4k-runs", Title: "4 KiB read in the middle of a cold 1 GiB file, runs",
			Work: fmt.Sprintf("pread of %d bytes at %d after a stat, fresh mount", n, off), Bytes: n}
		if agent {
			w.ID, w.Title = "rand4k-agent", "4 KiB read in the middle of a cold 1 GiB file, agent"
		}
		rows = append(rows, w)
		m, err := r.mount(ctx, mountOpts{agent: agent})
		if err != nil {
			return rows, err
		}
		if _, err := os.Stat(m.path(sparseName)); err != nil {
			m.unmount()
			return rows, err
		}
		r.reset()
		start := time.Now()
		err = readAt(m.path(sparseName), off, n)
		d := time.Since(start)
		if err != nil {
			m.unmount()
			return rows, err
		}
		w.setCounts(r.snapshot())
		w.setTimes(d, 0, 0)
		if agent {
			w.Checks = append(w.Checks,
				newCheck("requests", "requests", "<=", 1, float64(w.ReqTotal), "requests"),
				newCheck("fetched", "bytes fetched (MiB)", "<=", 1, float64(w.BytesOut)/(1<<20), "MiB"))
		}
		if err := m.unmount(); err != nil {
			return rows, err
		}
	}
	w, err := writeInPlace(ctx, r, off)
	return append(rows, w), err
}

// writeInPlace changes 4 KiB at off of the cold 1 GiB file through a fresh
// mount with the agent and closes it (its attributes looked up first):
// target at most 2 MiB sent.
func writeInPlace(ctx context.Context, r *rig, off int64) (*row, error) {
	const n = 4096
	w := &row{ID: "write4k-agent", Title: "4 KiB changed in the middle of a 1 GiB file, closed, agent",
		Work: fmt.Sprintf("pwrite of %d bytes at %d and close after a stat, fresh mount", n, off), Bytes: n}
	m, err := r.mount(ctx, mountOpts{agent: true})
	if err != nil {
		return w, err
	}
	defer m.unmount()
	if _, err := os.Stat(m.path(sparseName)); err != nil {
		return w, err
	}
	r.reset()
	start := time.Now()
	f, err := os.OpenFile(m.path(sparseName), os.O_RDWR, 0)
	if err != nil {
		return w, err
	}
	if _, err := f.WriteAt(make([]byte, n), off); err != nil {
		f.Close()
		return w, err
	}
	if err := f.Close(); err != nil {
		return w, err
	}
	d := time.Since(start)
	w.setCounts(r.snapshot())
	w.setTimes(d, 0, 0)
	w.Checks = append(w.Checks, newCheck("sent", "bytes sent (MiB)", "<=", 2, float64(w.BytesIn)/(1<<20), "MiB"))
	return w, m.unmount()
}

// readAt opens p, reads n bytes at off and closes it.
func readAt(p string, off int64, n int) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	buf := make([]byte, n)
	_, err = f.ReadAt(buf, off)
	if cerr := f.Close(); err == nil {
		err = cerr
	} else {
		err = fmt.Errorf("reading %s at %d: %w", p, off, err)
	}
	return err
}
