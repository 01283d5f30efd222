package main

import (
	"fmt"
	"sort"
	"time"
)

// sizes are the workloads' sizes: the full ones of the benchmark, or the
// small ones of -quick.
type sizes struct {
	BigFile     int64 `json:"big_file_bytes"`   // cold/warm read and sequential write
	RSSFile     int64 `json:"rss_file_bytes"`   // the peak-RSS read
	CacheMiB    int   `json:"rss_cache_mib"`    // --cache-size of the peak-RSS mount
	SmallFiles  int   `json:"rsync_files"`      // rsync: files,
	SmallDirs   int   `json:"rsync_dirs"`       // directories they are spread over,
	SmallSize   int   `json:"rsync_file_bytes"` // and size of each
	ScanFiles   int   `json:"scan_files"`       // find + ls -lR: files,
	ScanDirs    int   `json:"scan_dirs"`        // and directories they are spread over
	ListEntries int   `json:"ls_dir_entries"`   // ls -l of one directory
	GitFiles    int   `json:"git_files"`        // git status
	Saves       int   `json:"atomic_saves"`     // editor saves
	TarFiles    int   `json:"tar_files"`        // tar x: files,
	TarDirs     int   `json:"tar_dirs"`         // and directories they are spread over
}

func sizesFor(quick bool) sizes {
	if quick {
		return sizes{BigFile: 64 << 20, RSSFile: 256 << 20, CacheMiB: 64, SmallFiles: 100, SmallDirs: 5, SmallSize: 4096,
			ScanFiles: 500, ScanDirs: 10, ListEntries: 100, GitFiles: 200, Saves: 20, TarFiles: 200, TarDirs: 5}
	}
	return sizes{BigFile: 1 << 30, RSSFile: 4 << 30, CacheMiB: 256, SmallFiles: 1000, SmallDirs: 20, SmallSize: 4096,
		ScanFiles: 5000, ScanDirs: 50, ListEntries: 1000, GitFiles: 2000, Saves: 200, TarFiles: 2000, TarDirs: 20}
}

// check is one target of a row: got compared with want.
type check struct {
	Key  string  `json:"key"`  // short name, for the chart: "speed/curl"
	What string  `json:"what"` // e.g. "speed vs curl download"
	Op   string  `json:"op"`   // ">=" or "<="; "==" for a yes/no fact (1 = yes)
	Want float64 `json:"want"`
	Got  float64 `json:"got"`
	Unit string  `json:"unit,omitempty"` // "×", "requests", "MiB", "" for yes/no
	Met  bool    `json:"met"`
}

// newCheck compares got with want.
func newCheck(key, what, op string, want, got float64, unit string) check {
	c := check{Key: key, What: what, Op: op, Want: want, Got: got, Unit: unit}
	switch op {
	case ">=":
		c.Met = got >= want
	case "<=":
		c.Met = got <= want
	default:
		c.Met = got == want
	}
	return c
}

// yesNo is a check of a fact that must hold.
func yesNo(key, what string, holds bool) check {
	got := 0.0
	if holds {
		got = 1
	}
	return newCheck(key, what, "==", 1, got, "")
}

// row is one measured workload at one latency.
type row struct {
	ID        string           `json:"id"`
	Title     string           `json:"title"`
	LatencyMs float64          `json:"latency_one_way_ms"`
	Work      string           `json:"work"`
	WallSec   float64          `json:"wall_s"`
	LocalSec  float64          `json:"local_s,omitempty"`
	LimitSec  float64          `json:"limit_s,omitempty"`
	LimitHow  string           `json:"limit_how,omitempty"`
	Ratio     float64          `json:"ratio,omitempty"` // limit/wall, or local/wall where no limit exists
	RatioOf   string           `json:"ratio_of,omitempty"`
	Bytes     int64            `json:"bytes,omitempty"` // file bytes moved, for throughput
	Requests  map[string]int64 `json:"requests"`
	ReqTotal  int64            `json:"requests_total"`
	BytesOut  int64            `json:"bytes_fetched"` // response bytes the emulator sent
	BytesIn   int64            `json:"bytes_sent"`    // request bytes the emulator received
	Extra     map[string]any   `json:"extra,omitempty"`
	Checks    []check          `json:"checks,omitempty"`
	Skipped   string           `json:"skipped,omitempty"`
	Error     string           `json:"error,omitempty"`
}

// met reports whether every check holds; false when there are none.
func (r *row) met() bool {
	for _, c := range r.Checks {
		if !c.Met {
			return false
		}
	}
	return len(r.Checks) > 0
}

// setCounts records the emulator's counters.
func (r *row) setCounts(c counts) {
	r.Requests = c.requests
	r.ReqTotal = c.total()
	r.BytesOut = c.bytesOut
	r.BytesIn = c.bytesIn
}

// setTimes records wall, local and limit times and the ratio the row is
// judged by: against the limit where there is one, else against local
// disk.
func (r *row) setTimes(wall, local, limit time.Duration) {
	r.WallSec, r.LocalSec, r.LimitSec = wall.Seconds(), local.Seconds(), limit.Seconds()
	switch {
	case limit > 0 && wall > 0:
		r.Ratio, r.RatioOf = limit.Seconds()/wall.Seconds(), "limit"
	case local > 0 && wall > 0:
		r.Ratio, r.RatioOf = local.Seconds()/wall.Seconds(), "local"
	}
}

// extra records a named figure.
func (r *row) extra(k string, v any) {
	if r.Extra == nil {
		r.Extra = map[string]any{}
	}
	r.Extra[k] = v
}

// endpoints lists a request map's endpoints in a fixed order.
func endpoints(m map[string]int64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// mib formats bytes in MiB or GiB.
func mib(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// cpuMeter measures the CPU time the mount process and this process (the
// emulator, and the driver's own reads and writes) spend on a workload:
// with both near the wall time on two cores, the work is CPU-bound.
type cpuMeter struct {
	pid         int
	mount, self time.Duration
}

func startCPU(m *mount) cpuMeter {
	c := cpuMeter{pid: m.pid(), self: selfCPU()}
	c.mount, _ = processCPU(c.pid)
	return c
}

// record adds the CPU seconds spent since start to the row.
func (c cpuMeter) record(rw *row) {
	if mnt, err := processCPU(c.pid); err == nil {
		rw.extra("mount_cpu_s", (mnt - c.mount).Seconds())
	}
	rw.extra("driver_emulator_cpu_s", (selfCPU() - c.self).Seconds())
}
