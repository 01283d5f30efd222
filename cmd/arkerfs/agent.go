package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/arker-ai/arkerfs/agent"
)

const agentUsage = `usage: arkerfs agent [--state DIR] [--listen ADDR] [--idle DURATION]

Runs on an Arker VM (Linux) as the VM user: serves the metadata helper's
read-only operations to arkerfs mounts over HTTP (docs/AGENT.md). Prints
its state (version, protocol, port, pid) as one JSON line, or, when an
agent already runs for DIR, that agent's line, and exits. Exits 0 once no
request has come for DURATION, or on SIGINT or SIGTERM; SIGHUP is ignored.
A mount's client starts it; there is nothing to configure.

Flags:
`

// agentFlags are the flags of arkerfs agent.
type agentFlags struct {
	state  string
	listen string
	idle   time.Duration
}

func (f *agentFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&f.state, "state", "", "state directory: lock, agent.json, mounts/ (default $HOME/.cache/arkerfs/agent)")
	fl.StringVar(&f.listen, "listen", agent.DefaultListen, "TCP address to listen on (port 0: any free port)")
	fl.DurationVar(&f.idle, "idle", agent.DefaultIdle, "exit after this long without a request")
}

func runAgent(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The agent outlives the run that started it; its idle limit ends it.
	signal.Ignore(syscall.SIGHUP)
	return agentMain(ctx, args, stdout, stderr)
}

// agentMain runs the agent until it is idle or ctx ends.
func agentMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("agent", flag.ContinueOnError)
	var f agentFlags
	f.register(fl)
	if code, done := parseCommand(fl, "agent", agentUsage, args, stdout, stderr); done {
		return code
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "arkerfs agent: unexpected argument %q (see 'arkerfs agent -h')\n", fl.Arg(0))
		return 2
	}
	if f.idle <= 0 {
		fmt.Fprintf(stderr, "arkerfs agent: --idle must be positive (see 'arkerfs agent -h')\n")
		return 2
	}
	if f.state == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			fmt.Fprintf(stderr, "arkerfs agent: no state directory: %v\n", err)
			return 1
		}
		f.state = filepath.Join(cache, "arkerfs", "agent")
	}
	var mu sync.Mutex // one log line at a time
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "arkerfs agent: "+format+"\n", args...)
	}
	err := agent.Run(ctx, agent.Options{StateDir: f.state, Listen: f.listen, Idle: f.idle,
		Version: buildVersion(), Logf: logf, Stdout: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "arkerfs agent: %v\n", err)
		return 1
	}
	return 0
}
