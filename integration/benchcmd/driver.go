package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// workload is one benchmark: it fills the rows named by ids.
type workload struct {
	ids []string
	run func(ctx context.Context, r *rig, lat time.Duration) ([]*row, error)
}

// perLatency run at every latency, in this order; once run at 0 only.
var (
	perLatency = []workload{
		{[]string{"cold-read", "warm-read"}, coldWarmRead},
		{[]string{"seq-write"}, seqWrite},
		{[]string{"rsync"}, rsyncTree},
		{[]string{"ls-dir-cold", "ls-dir-warm"}, lsDir},
		{[]string{"scan"}, scan},
		{[]string{"deep4-runs", "deep4-agent", "deep8-runs", "deep8-agent"}, deepScan},
		{[]string{"vm-change"}, vmChange},
		{[]string{"rand4k-runs", "rand4k-agent", "write4k-agent"}, randRead},
		{[]string{"git-status-cold", "git-status-warm"}, gitStatus},
		{[]string{"saves"}, saves},
		{[]string{"untar"}, untar},
	}
	once = []workload{
		{[]string{"peak-rss"}, peakRSSRead},
	}
)

// allIDs lists every row id, in report order.
func allIDs() []string {
	var ids []string
	for _, w := range append(append([]workload{}, perLatency...), once...) {
		ids = append(ids, w.ids...)
	}
	return ids
}

// onceIDs lists the rows measured once, not per latency.
func onceIDs() []string {
	var ids []string
	for _, w := range once {
		ids = append(ids, w.ids...)
	}
	return ids
}

// selected reports whether -only lets w run.
func (cfg config) selected(w workload) bool {
	if cfg.only == nil {
		return true
	}
	for _, id := range w.ids {
		if cfg.only.MatchString(id) {
			return true
		}
	}
	return false
}

// runAll runs every selected workload and returns the report, partial if
// the run was cut short.
func runAll(ctx context.Context, cfg config) (*report, error) {
	if err := platformErr(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.bin); err != nil {
		return nil, fmt.Errorf("the arkerfs binary %s is missing (make build makes it): %w", cfg.bin, err)
	}
	r, err := newRig(cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	rep := newReport(cfg, r.sz)
	fmt.Fprintf(cfg.log, "benchmarks in %s, emulator at %s: API lineage %s, run latency %v, Range on presigned GETs %v\n",
		r.root, r.url, cfg.api, cfg.runLatency, !cfg.noRange)
	// The peak-RSS read runs after the first latency, so that when the
	// run nears its deadline what is cut is the last latency's slowest
	// rows, not the memory figure.
	for i, lat := range cfg.latencies {
		r.emu.SetLatency(lat)
		for _, w := range perLatency {
			if cfg.selected(w) {
				rep.add(runWorkload(ctx, r, w, lat)...)
			}
		}
		if i > 0 {
			continue
		}
		r.emu.SetLatency(0)
		for _, w := range once {
			if cfg.selected(w) {
				rep.add(runWorkload(ctx, r, w, 0)...)
			}
		}
	}
	rep.sortRows(cfg.latencies)
	return rep, ctx.Err()
}

// runWorkload runs w at latency lat and returns its rows, marked skipped
// or failed as it went. A cancelled run marks the rest skipped.
func runWorkload(ctx context.Context, r *rig, w workload, lat time.Duration) []*row {
	var rows []*row
	var err error
	start := time.Now()
	if ctx.Err() != nil {
		err = skip(fmt.Errorf("the run was stopped (%v)", context.Cause(ctx)))
	} else {
		rows, err = w.run(ctx, r, lat)
	}
	if err != nil && ctx.Err() != nil {
		err = skip(fmt.Errorf("the run was stopped (%v) during this workload", context.Cause(ctx)))
	}
	byID := map[string]*row{}
	for _, rw := range rows {
		byID[rw.ID] = rw
	}
	var out []*row
	for _, id := range w.ids {
		rw := byID[id]
		if rw == nil {
			rw = &row{ID: id, Title: id}
		}
		rw.LatencyMs = float64(lat) / float64(time.Millisecond)
		if why, ok := isSkip(err); ok {
			rw.Skipped, rw.Checks = why, nil
		} else if err != nil {
			rw.Error, rw.Checks = err.Error(), nil
		}
		out = append(out, rw)
		fmt.Fprintln(r.cfg.log, progressLine(rw))
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(r.cfg.log, "  (%s took %.1fs)\n", strings.Join(w.ids, ", "), time.Since(start).Seconds())
	}
	return out
}

// progressLine is one line per row as the run goes.
func progressLine(rw *row) string {
	head := fmt.Sprintf("[%4gms] %-16s", rw.LatencyMs, rw.ID)
	switch {
	case rw.Skipped != "":
		return head + " SKIPPED: " + rw.Skipped
	case rw.Error != "":
		return head + " FAILED: " + rw.Error
	}
	s := fmt.Sprintf("%s %8.3fs  local %7.3fs", head, rw.WallSec, rw.LocalSec)
	if rw.LimitSec > 0 {
		s += fmt.Sprintf("  limit %7.3fs", rw.LimitSec)
	}
	if c, ok := rw.Extra["null_fuse_s"].(float64); ok {
		s += fmt.Sprintf("  null FUSE %7.3fs", c)
	}
	if e, ok := rw.Extra["null_fuse_error"].(string); ok {
		s += "  [null FUSE: " + e + "]"
	}
	s += fmt.Sprintf("  %d requests %v", rw.ReqTotal, rw.Requests)
	for _, c := range rw.Checks {
		s += fmt.Sprintf("  [%s %s]", c.What, metWord(c.Met))
	}
	return s
}

func metWord(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}

// fileFingerprint is a file's sha256 and mtime, to tell whether it was
// rewritten.
func fileFingerprint(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("sha256:%x mtime:%s", h.Sum(nil), fi.ModTime().UTC().Format(time.RFC3339Nano)), nil
}

// countFiles counts the regular files under dir.
func countFiles(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n, err
}

// lastLine is the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}
