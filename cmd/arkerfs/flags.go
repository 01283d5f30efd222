package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/arker-ai/arkerfs/transport"
)

// parseInterleaved parses flags that may stand before, between or after
// the positional arguments, as users of mount(8) and sshfs expect.
func parseInterleaved(fl *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fl.Parse(args); err != nil {
			return nil, err
		}
		rest := fl.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// apiFlags are the connection flags shared by mount and status. Flags win
// over the environment, which wins over the Arker CLI's config file.
type apiFlags struct {
	baseURL, region, apiKeyFile string
	retries                     int
	timeout                     time.Duration
	debug                       bool
	conn                        connFlags
	log                         logFlags
}

func (a *apiFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&a.baseURL, "base-url", "", "Arker API base URL (default $ARKER_BASE_URL, else from the region)")
	fl.StringVar(&a.region, "region", "", "Arker region, e.g. us-west-2 (default $ARKER_REGION, else the Arker CLI's config)")
	fl.StringVar(&a.apiKeyFile, "api-key-file", "", "read the API key from this file (default $ARKER_API_KEY or $AUTH_KEY, else the Arker CLI's config)")
	fl.IntVar(&a.retries, "retries", 4, "attempts per request for retryable failures (1 = no retries)")
	fl.DurationVar(&a.timeout, "timeout", 30*time.Second, "time limit of one request or metadata operation")
	fl.BoolVar(&a.debug, "debug", false, "log requests and filesystem operations to stderr (the key is redacted)")
	a.conn.register(fl)
	a.log.register(fl)
}

// config builds the client configuration for vm from flags, environment
// and the Arker CLI's config file (configfile.go).
func (a *apiFlags) config(vm string, stderr io.Writer) (transport.Config, error) {
	cfg, _, err := a.resolve(vm)
	if err != nil {
		return cfg, err
	}
	log, err := a.log.logger(stderr, a.debug, cfg.APIKey)
	if err != nil {
		return cfg, err
	}
	cfg.Debug = transportLogf(log, nil)
	return cfg, nil
}

// fail prints one line and returns the exit code for a failed command.
func fail(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "arkerfs: "+format+"\n", args...)
	return 1
}

// parseCommand parses args into fl for the command name ("serve"): -h
// prints usage and the flags on stdout, a bad flag one line on stderr.
// When it returns done, the command exits with code.
func parseCommand(fl *flag.FlagSet, name, usage string, args []string, stdout, stderr io.Writer) (code int, done bool) {
	fl.SetOutput(io.Discard)
	err := fl.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		fl.SetOutput(stdout)
		fl.PrintDefaults()
		return 0, true
	}
	fmt.Fprintf(stderr, "arkerfs %s: %v (see 'arkerfs %s -h')\n", name, err, name)
	return 2, true
}
