// Command benchcmd is the benchmark driver behind `make bench`. It starts
// an emulated VM in this process (package emulator, on 127.0.0.1 only,
// serving the published API in the lineage -api names and sleeping
// -run-latency before each run's command), mounts it with the real
// `arkerfs mount` binary in a child process, runs the workloads of
// docs/BENCHMARKS.md against the mount at 0 ms and 10 ms one-way latency,
// runs the same work on local disk and, where a limit exists, the same
// bytes moved by plain curl as the API allows them, times the throughput
// rows' work through a null FUSE filesystem served by this process (the
// ceiling of any FUSE filesystem here), and writes the figures as JSON,
// as a markdown report and as a PNG chart.
//
//	go run ./integration/benchcmd -out docs/BENCHMARKS.md -json docs/benchmarks.json -png docs/benchmarks.png
//	go run ./integration/benchcmd -quick -out /tmp/b.md   # small sizes, seconds
//	go run ./integration/benchcmd -api a -run-latency 20ms  # lineage A, slower process starts
//
// A workload whose tool (rsync, git, curl, tar) is missing is skipped with
// a line saying so. Mounts and temporary files are removed on the way out,
// on failure and on Ctrl-C too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/arker-ai/arkerfs/emulator"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// config is everything the command line decides.
type config struct {
	bin        string          // the arkerfs binary to mount with
	out        string          // markdown report ("" = none)
	jsonOut    string          // raw figures ("" = none)
	pngOut     string          // chart ("" = none)
	quick      bool            // small sizes
	latencies  []time.Duration // one-way emulator latencies
	only       *regexp.Regexp  // workload ids to run (nil = all)
	tmpParent  string          // where the scratch directory goes ("" = $TMPDIR)
	timeout    time.Duration   // bound on the whole run
	api        wire.Lineage    // API lineage the emulator serves
	runLatency time.Duration   // the emulator's delay before each run's command starts
	noRange    bool            // presigned GETs ignore Range
	command    string          // the command line, for the report
	log        io.Writer       // progress lines
}

func main() {
	// The emulator this driver hosts starts its runs from a spawner: this
	// binary, started again (see emulator.ServeSpawnerIfAsked).
	emulator.ServeSpawnerIfAsked()
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain(os.Args[1:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, runs the benchmarks and writes the outputs. It returns
// the exit code: 0 when every workload ran (targets met or not), 1 when
// one failed, 2 for bad flags.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	cfg.log = stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	rep, err := runAll(ctx, cfg)
	if rep != nil {
		if werr := writeOutputs(cfg, rep); werr != nil {
			fmt.Fprintf(stderr, "benchcmd: %v\n", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "benchcmd: %v\n", err)
		return 1
	}
	if n := rep.failures(); n > 0 {
		fmt.Fprintf(stderr, "benchcmd: %d workload(s) failed; see the error column\n", n)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fl := flag.NewFlagSet("benchcmd", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var cfg config
	var lat, only, api string
	fl.StringVar(&cfg.bin, "bin", "bin/arkerfs", "arkerfs binary to mount with (make build makes it)")
	fl.StringVar(&cfg.out, "out", "", "write the markdown report here")
	fl.StringVar(&cfg.jsonOut, "json", "", "write the raw figures here as JSON")
	fl.StringVar(&cfg.pngOut, "png", "", "write the chart here")
	fl.BoolVar(&cfg.quick, "quick", false, "small sizes (64 MiB files, 100s of small files): exercises the driver in seconds")
	fl.StringVar(&lat, "latency", "0,10ms", "comma-separated one-way emulator latencies")
	fl.StringVar(&only, "only", "", "run only the workloads whose id matches this regexp (ids: "+strings.Join(allIDs(), ", ")+")")
	fl.StringVar(&cfg.tmpParent, "tmp", "", "parent of the scratch directory (default $TMPDIR); it needs a few GiB")
	fl.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	fl.StringVar(&api, "api", string(wire.LineageB), "API lineage the emulator serves: b (raw uploads through /sync-stream) or a (JSON chunk writes only)")
	fl.DurationVar(&cfg.runLatency, "run-latency", 5*time.Millisecond,
		"the emulator's delay before each run's command starts: what a process start costs on a real VM")
	fl.BoolVar(&cfg.noRange, "no-range", false, "presigned GETs ignore Range and answer the whole file, as a service that does not honour it")
	if err := fl.Parse(args); err != nil {
		return cfg, err
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "benchcmd: unexpected argument %q\n", fl.Arg(0))
		return cfg, errors.New("usage")
	}
	switch cfg.api = wire.Lineage(strings.ToLower(api)); cfg.api {
	case wire.LineageA, wire.LineageB:
	default:
		fmt.Fprintf(stderr, "benchcmd: -api must be a or b, not %q\n", api)
		return cfg, errors.New("usage")
	}
	if cfg.runLatency < 0 {
		fmt.Fprintf(stderr, "benchcmd: negative -run-latency %v\n", cfg.runLatency)
		return cfg, errors.New("usage")
	}
	for _, s := range strings.Split(lat, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if s == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 {
			fmt.Fprintf(stderr, "benchcmd: bad latency %q\n", s)
			return cfg, errors.New("usage")
		}
		cfg.latencies = append(cfg.latencies, d)
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			fmt.Fprintf(stderr, "benchcmd: -only: %v\n", err)
			return cfg, err
		}
		cfg.only = re
	}
	cfg.command = commandLine(args)
	return cfg, nil
}

// commandLine is how the report names the command that produced it.
func commandLine(args []string) string {
	parts := []string{"go run ./integration/benchcmd"}
	for _, a := range args {
		if strings.ContainsAny(a, " \t'\"$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// writeOutputs writes whichever outputs were asked for.
func writeOutputs(cfg config, rep *report) error {
	type output struct {
		path  string
		write func(io.Writer) error
	}
	for _, o := range []output{{cfg.jsonOut, rep.writeJSON}, {cfg.out, rep.writeMarkdown}, {cfg.pngOut, rep.writePNG}} {
		if o.path == "" {
			continue
		}
		if err := writeFile(o.path, o.write); err != nil {
			return err
		}
		fmt.Fprintf(cfg.log, "wrote %s\n", o.path)
	}
	return nil
}

// writeFile writes path through a temporary file, so that a failed run
// leaves the previous figures in place.
func writeFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bench-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
