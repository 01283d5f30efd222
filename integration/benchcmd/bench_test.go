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

	"github.com/arker-ai/arkerfs/wire"
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
	checkContract(t, &got)

	md, err := os.ReadFile(cfg.out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## 0 ms one-way latency", "## 10 ms one-way latency", "## Memory", "## Targets", "cold sequential read", "git status", "null FUSE ceiling: ",
		"Contract: the emulator serves API lineage **B**", "`sync.stream` = raw uploads", "POST of the file to `/sync-stream`"} {
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

// checkContract checks that the report names the contract it was
// measured on (the defaults: lineage B, a run latency) and that the write
// rows used it: the mount and curl sent the file through /sync-stream.
func checkContract(t *testing.T, got *report) {
	t.Helper()
	if got.Contract.Lineage != "b" || got.Contract.RunLatencyMs <= 0 || got.Contract.NoRange {
		t.Errorf("the report's contract is %+v, want lineage b with a run latency and Range", got.Contract)
	}
	for _, r := range got.Rows {
		if r.ID != "seq-write" || r.Skipped != "" || r.Error != "" {
			continue
		}
		if r.Requests["sync.stream"] != 1 {
			t.Errorf("seq-write @ %g ms: the mount's requests %v, want one sync.stream", r.LatencyMs, r.Requests)
		}
		if n, _ := r.Extra["curl_requests"].(float64); n != 1 || !strings.Contains(r.LimitHow, wire.SuffixSyncStream) {
			t.Errorf("seq-write @ %g ms: curl's limit took %v requests: %s", r.LatencyMs, r.Extra["curl_requests"], r.LimitHow)
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

// TestCurlLimitsInBothLineages measures the curl limits against the
// emulator in each lineage, with a file of a few requests and a short
// last chunk: the upload lands whole by the lineage's route (a raw
// stream in B, chunk writes in A) and the download gets the file.
func TestCurlLimitsInBothLineages(t *testing.T) {
	if err := haveTools("curl"); err != nil {
		t.Skip(err)
	}
	for _, api := range []wire.Lineage{wire.LineageA, wire.LineageB} {
		t.Run(string(api), func(t *testing.T) {
			var log bytes.Buffer
			cfg, err := parseFlags([]string{"-quick", "-api", string(api), "-tmp", t.TempDir()}, &log)
			if err != nil {
				t.Fatalf("flags: %v: %s", err, log.String())
			}
			cfg.log = &log
			r, err := newRig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			r.sz.BigFile = 5*wire.ChunkSize + 12345 // two requests in A, the last chunk short
			ctx := context.Background()
			lim, err := r.curlUpload(ctx, "up.bin")
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			t.Logf("%s: %s", api, lim.how)
			st := r.emu.Stats()
			want := map[wire.Lineage]int{wire.LineageA: 2, wire.LineageB: 1}[api]
			if lim.requests != want || len(lim.runs) != curlTries || lim.best <= 0 {
				t.Errorf("limit %+v, want %d requests, %d runs", lim, want, curlTries)
			}
			endpoint := map[wire.Lineage]string{wire.LineageA: "sync.write", wire.LineageB: "sync.stream"}[api]
			if got := st.Requests[endpoint]; got != int64(want*curlTries) || st.Requests["runs.create"] != 0 {
				t.Errorf("the emulator counted %v, want %s %d", st.Requests, endpoint, want*curlTries)
			}
			if st.BytesIn < curlTries*r.sz.BigFile {
				t.Errorf("the emulator received %d bytes, want at least %d", st.BytesIn, curlTries*r.sz.BigFile)
			}
			if _, err := os.Stat(r.vm("up.bin")); !os.IsNotExist(err) {
				t.Errorf("the uploaded file was left on the VM: %v", err)
			}
			if err := r.bigFile(ctx); err != nil {
				t.Fatal(err)
			}
			if d, _, err := r.curlDownload(ctx, bigName); err != nil || d <= 0 {
				t.Errorf("download: %v, %v", d, err)
			}
		})
	}
}

// TestFlagsNameTheContract checks -api, -run-latency and -no-range, and
// that the report's header says what they were.
func TestFlagsNameTheContract(t *testing.T) {
	var log bytes.Buffer
	cfg, err := parseFlags(nil, &log)
	if err != nil || cfg.api != wire.LineageB || cfg.runLatency <= 0 || cfg.noRange {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = parseFlags([]string{"-api", "a", "-run-latency", "0", "-no-range"}, &log)
	if err != nil || cfg.api != wire.LineageA || cfg.runLatency != 0 || !cfg.noRange {
		t.Errorf("-api a -run-latency 0 -no-range: %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{"-api", "c"}, {"-run-latency", "-1ms"}} {
		if _, err := parseFlags(bad, &log); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	rep := newReport(config{bin: "/nonexistent", api: wire.LineageA, runLatency: 5 * time.Millisecond, noRange: true}, sizesFor(true))
	var md bytes.Buffer
	if err := rep.writeMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lineage **A**", "`-api a`", "starts 5 ms late", "ignore `Range`"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the report's header lacks %q", want)
		}
	}
}
