package agent

import (
	"io"
	"os"
	"strings"
	"time"
)

// Options configure Run.
type Options struct {
	// StateDir holds the agent's lock, its state file and the mounts'
	// files (mounts/ID); created 0700 if missing. Required.
	StateDir string
	// Listen is the TCP address to listen on; default ":0", any free
	// port on every interface (the VM's ingress connects from outside).
	Listen string
	// Idle ends the agent when no request has arrived for that long;
	// default 5 minutes.
	Idle time.Duration
	// Version is the binary's version, in Hello and the state.
	Version string
	// Logf logs one line; default: no log.
	Logf func(format string, args ...any)
	// Stdout receives the state line (proto.State as JSON, one line);
	// default os.Stdout.
	Stdout io.Writer
}

// Defaults of Options.
const (
	DefaultListen = ":0"
	DefaultIdle   = 5 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Idle <= 0 {
		o.Idle = DefaultIdle
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	return o
}

// logWriter turns the HTTP server's log into Logf lines.
type logWriter func(format string, args ...any)

func (l logWriter) Write(b []byte) (int, error) {
	l("%s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
