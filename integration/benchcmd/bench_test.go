package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary do a child's work (see childEnv).
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// requireFUSE fails in CI and skips elsewhere when FUSE cannot be used
// (the rule of integration/harness_test.go).
func requireFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("FUSE is required in CI but /dev/fuse is missing: %v", err)
		}
		t.Skipf("skipping real-mount test: /dev/fuse is missing (%v); install fuse3 to run it", err)
	}
}

// buildArkerfs builds cmd/arkerfs into dir and returns the binary's path.
func buildArkerfs(t *testing.T, dir string) string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("no go command to build arkerfs with: %v", err)
		}
	}
	bin := filepath.Join(dir, "arkerfs")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/arkerfs")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building arkerfs: %v\n%s", err, out)
	}
	return bin
}

// TestQuickRunWritesEveryRow runs the driver end to end in quick mode,
// against real mounts, and checks that the JSON has every row at every
// latency with figures, that the markdown names them and that the chart
// is a PNG.
func TestQuickRunWritesEveryRow(t *testing.T) {
	requireFUSE(t)
	if runtime.GOOS != "linux" {
		t.Skip("the benchmark driver runs on Linux only")
	}
	if testing.Short() {
		t.Skip("the quick benchmark run mounts for real and takes a minute; skipped in -short mode")
	}
	dir := t.TempDir()
	var log bytes.Buffer
	cfg, err := parseFlags([]string{"-quick", "-bin", buildArkerfs(t, dir), "-tmp", dir,
		"-out", filepath.Join(dir, "b.md"), "-json", filepath.Join(dir, "b.json"), "-png", filepath.Join(dir, "b.png")}, &log)
	if err != nil {
		t.Fatalf("flags: %v", err)
	}
	cfg.log = &log
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	rep, err := runAll(ctx, cfg)
	if rep != nil {
		if werr := writeOutputs(cfg, rep); werr != nil {
			t.Fatalf("writing outputs: %v", werr)
		}
	}
	t.Logf("driver output:\n%s", log.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	var got report
	b, err := os.ReadFile(cfg.jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	checkRows(t, &got, cfg)
	checkCeilings(t, &got)

	md, err := os.ReadFile(cfg.out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## 0 ms one-way latency", "## 10 ms one-way latency", "## Memory", "## Targets", "cold sequential read", "git status", "null FUSE ceiling: "} {
		if !strings.Contains(string(md), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	f, err := os.Open(cfg.pngOut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("chart: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 {
		t.Errorf("chart is only %v", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "arkerfs-bench-*")); len(left) > 0 {
		t.Errorf("scratch directory left behind: %v", left)
	}
}

// checkRows checks that every row id is there once per latency (once
// for once-only rows), ran, and has its figures.
func checkRows(t *testing.T, got *report, cfg config) {
	t.Helper()
	seen := map[string]*row{}
	for _, r := range got.Rows {
		k := r.ID + "@" + num(r.LatencyMs)
		if seen[k] != nil {
			t.Errorf("row %s twice", k)
		}
		seen[k] = r
	}
	key := func(id string, lat time.Duration) string {
		return id + "@" + num(float64(lat)/float64(time.Millisecond))
	}
	var want []string
	for _, w := range perLatency {
		for _, id := range w.ids {
			for _, lat := range cfg.latencies {
				want = append(want, key(id, lat))
			}
		}
	}
	for _, id := range onceIDs() {
		want = append(want, key(id, 0))
	}
	for _, k := range want {
		r := seen[k]
		switch {
		case r == nil:
			t.Errorf("row %s missing from the JSON", k)
		case r.Error != "":
			t.Errorf("row %s failed: %s", k, r.Error)
		case r.Skipped != "" && os.Getenv("CI") != "":
			t.Errorf("row %s skipped in CI: %s", k, r.Skipped)
		case r.Skipped != "":
			t.Logf("row %s skipped: %s", k, r.Skipped)
		case r.WallSec <= 0:
			t.Errorf("row %s has no wall time", k)
		case hasTargets(r.ID) && len(r.Checks) == 0:
			t.Errorf("row %s has no target checks", k)
		}
	}
	if len(got.Rows) != len(want) {
		t.Errorf("JSON has %d rows, want %d", len(got.Rows), len(want))
	}
	if got.Machine.NProc == 0 || got.Machine.Go == "" || got.Command == "" {
		t.Errorf("machine facts or command missing: %+v %q", got.Machine, got.Command)
	}
}

// checkCeilings checks that the throughput rows carry their null FUSE
// ceiling: every byte of every run went through the null filesystem, of
// the rows' size, and the ratio to the limit is there.
func checkCeilings(t *testing.T, got *report) {
	t.Helper()
	for _, r := range got.Rows {
		if (r.ID != "cold-read" && r.ID != "seq-write") || r.Skipped != "" {
			continue
		}
		k := r.ID + "@" + num(r.LatencyMs)
		if e, ok := r.Extra["null_fuse_error"]; ok {
			t.Errorf("row %s: null FUSE ceiling: %v", k, e)
		}
		if s, _ := r.Extra["null_fuse_s"].(float64); s <= 0 {
			t.Errorf("row %s has no null FUSE ceiling: %v", k, r.Extra)
		}
		if n, _ := r.Extra["null_fuse_bytes"].(float64); int64(n) != ceilingRuns*got.Sizes.BigFile {
			t.Errorf("row %s: the null FUSE filesystem moved %v bytes, want %d", k, n, ceilingRuns*got.Sizes.BigFile)
		}
		if _, ok := r.Extra["null_fuse_ratio"].(float64); !ok && r.LimitSec > 0 {
			t.Errorf("row %s has a limit but no ceiling ratio", k)
		}
	}
}

func TestNumKeepsFractionsVisible(t *testing.T) {
	for v, want := range map[float64]string{3: "3", 3.003: "3.003", 0.25: "0.25", 0.2549: "0.25", 2.999: "2.999", 10: "10"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}
