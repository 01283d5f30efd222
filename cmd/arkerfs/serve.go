package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/wire"
)

const serveUsage = `usage: arkerfs serve --home DIR [flags]

Serves DIR as the home directory (/home/user) of a local, emulated Arker VM
over the published Arker HTTP API (lineage A or B), so that 'arkerfs mount'
works with no account. /tmp is a private directory unless --map gives one.
The API key is $ARKER_API_KEY, or a fresh one that is printed. Runs until
Ctrl-C or SIGTERM.

Flags:
`

// serveFlags are the flags of arkerfs serve.
type serveFlags struct {
	home        string
	listen      string
	vm          string
	latency     time.Duration
	runLatency  time.Duration
	api         string
	maps        mapFlag
	noRange     bool
	denyIngress bool
	seed        bool
	verbose     bool
}

func (f *serveFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&f.home, "home", "", "directory served as the VM's /home/user (required; created if missing)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:7070", "address to listen on (port 0 picks a free port)")
	fl.StringVar(&f.vm, "vm", emulator.DefaultVMID, "VM id the emulator answers to")
	fl.DurationVar(&f.latency, "latency", 0, "one-way delay added to every request and answer, e.g. 10ms (a 20ms round trip)")
	fl.DurationVar(&f.runLatency, "run-latency", 0, "delay before each run's command starts (a process start on a real VM), e.g. 30ms")
	fl.StringVar(&f.api, "api", string(wire.LineageA), "API lineage served: a (typed errors, no /sync-stream) or b (flat errors, /sync-stream)")
	fl.Var(&f.maps, "map", "VMPATH=DIR: also serve host directory DIR at VMPATH (repeatable; /tmp=DIR replaces the private /tmp)")
	fl.BoolVar(&f.noRange, "no-range", false, "presigned GETs ignore Range and answer the whole file")
	fl.BoolVar(&f.denyIngress, "deny-ingress", false, "answer every request to the VM's inbound hostnames 403, as an inbound deny policy would")
	fl.BoolVar(&f.seed, "seed", false, "write a few sample files into an empty home")
	fl.BoolVar(&f.verbose, "v", false, "log every request to stderr")
}

// mapFlag collects --map VMPATH=DIR.
type mapFlag map[string]string

func (m *mapFlag) String() string {
	var parts []string
	for k, v := range *m {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (m *mapFlag) Set(s string) error {
	vmPath, dir, ok := strings.Cut(s, "=")
	if !ok || !strings.HasPrefix(vmPath, "/") || dir == "" {
		return fmt.Errorf("want VMPATH=DIR with an absolute VMPATH, not %q", s)
	}
	if *m == nil {
		*m = mapFlag{}
	}
	if _, dup := (*m)[vmPath]; dup {
		return fmt.Errorf("%s is mapped twice", vmPath)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	(*m)[vmPath] = abs
	return nil
}

func runServe(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, os.Getenv("ARKER_API_KEY"), stdout, stderr)
}

// serve runs the emulator until ctx ends. envKey is $ARKER_API_KEY.
func serve(ctx context.Context, args []string, envKey string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	f.register(fl)
	if code, done := parseCommand(fl, "serve", serveUsage, args, stdout, stderr); done {
		return code
	}
	if msg := f.check(fl.Args()); msg != "" {
		fmt.Fprintf(stderr, "arkerfs serve: %s (see 'arkerfs serve -h')\n", msg)
		return 2
	}
	home, err := filepath.Abs(f.home)
	if err == nil {
		err = os.MkdirAll(home, 0o755)
	}
	if err != nil {
		fmt.Fprintf(stderr, "arkerfs serve: home: %v\n", err)
		return 1
	}
	if f.seed {
		if err := seedHome(home); err != nil {
			fmt.Fprintf(stderr, "arkerfs serve: seeding %s: %v\n", home, err)
			return 1
		}
	}
	key, generated := envKey, false
	if key == "" {
		key, generated = newLocalKey(), true
	}
	opts := emulator.Options{Home: home, VMID: f.vm, Token: key, Latency: f.latency, RunLatency: f.runLatency,
		Lineage: wire.Lineage(f.api), Mounts: f.maps, NoRange: f.noRange, DenyIngress: f.denyIngress}
	if f.verbose {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	srv, err := emulator.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "arkerfs serve: %v\n", err)
		return 1
	}
	url, err := srv.Start(f.listen)
	if err != nil {
		fmt.Fprintf(stderr, "arkerfs serve: %v\n", err)
		return 1
	}
	printReady(stdout, home, f.vm, f.api, url, key, generated)
	<-ctx.Done()
	srv.Close()
	fmt.Fprintln(stdout, "arkerfs serve: stopped")
	return 0
}

// check validates the flags and returns what is wrong, or "".
func (f *serveFlags) check(rest []string) string {
	switch {
	case len(rest) > 0:
		return fmt.Sprintf("unexpected argument %q", rest[0])
	case f.home == "":
		return "--home DIR is required"
	case f.vm == "" || strings.ContainsAny(f.vm, "/ \t\n"):
		return fmt.Sprintf("bad VM id %q", f.vm)
	case f.latency < 0:
		return "--latency must not be negative"
	case f.runLatency < 0:
		return "--run-latency must not be negative"
	case f.api != string(wire.LineageA) && f.api != string(wire.LineageB):
		return fmt.Sprintf("--api must be a or b, not %q", f.api)
	}
	return ""
}

// printReady tells the user how to use the emulator.
func printReady(w io.Writer, home, vm, api, url, key string, generated bool) {
	fmt.Fprintf(w, "arkerfs serve: %s is VM %q's /home/user at %s (API lineage %s)\n\n", home, vm, url, api)
	fmt.Fprintf(w, "  export ARKER_BASE_URL=%s\n", url)
	if generated {
		fmt.Fprintf(w, "  export ARKER_API_KEY=%s\n", key)
	} else {
		fmt.Fprintln(w, "  # ARKER_API_KEY: the one already in your environment")
	}
	fmt.Fprintf(w, "  arkerfs mount %s /path/to/mnt\n\n", vm)
	fmt.Fprintln(w, "Ctrl-C stops the emulator.")
}

// newLocalKey returns a fresh random API key for the emulator.
func newLocalKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "ark_local_" + hex.EncodeToString(b[:])
}

// seedFiles are the sample files --seed writes: a small project with a
// README, nested directories, an executable script and a file with an
// awkward name (spaces, quotes, $, a non-ASCII letter).
var seedFiles = []struct {
	name string
	mode os.FileMode
	data string
}{
	{"README.md", 0o644, "# Welcome to your emulated Arker VM\n\n" +
		"This directory is the VM's /home/user, served by `arkerfs serve`.\n" +
		"Edit files here through the mount, run `git init`, copy trees in with rsync.\n"},
	{"project/Makefile", 0o644, "run:\n\tgo run ./cmd/hello\n"},
	{"project/go.mod", 0o644, "module example.com/hello\n\ngo 1.22\n"},
	{"project/cmd/hello/main.go", 0o644, "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(greeting())\n}\n"},
	{"project/cmd/hello/greeting.go", 0o644, "package main\n\nfunc greeting() string { return \"hello from the VM\" }\n"},
	{"project/docs/notes.txt", 0o644, "Notes live here.\n"},
	{"project/scripts/build.sh", 0o755, "#!/bin/sh\nset -eu\ncd \"$(dirname \"$0\")/..\"\nmake run\n"},
	{"notes/it's a $(weird) name — ü.txt", 0o644, "Names are data: this one has spaces, a quote, $(…) and UTF-8.\n"},
}

// seedHome writes the sample files into home when home is empty, and
// leaves a non-empty home alone.
func seedHome(home string) error {
	ents, err := os.ReadDir(home)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return nil
	}
	for _, f := range seedFiles {
		p := filepath.Join(home, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode); err != nil { // past the umask
			return err
		}
	}
	return nil
}
