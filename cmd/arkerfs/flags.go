package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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
// over the environment.
type apiFlags struct {
	baseURL, region, apiKeyFile string
	retries                     int
	timeout                     time.Duration
	debug                       bool
}

func (a *apiFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&a.baseURL, "base-url", "", "Arker API base URL (default $ARKER_BASE_URL, else from the region)")
	fl.StringVar(&a.region, "region", "", "Arker region, e.g. us-west-2 (default $ARKER_REGION)")
	fl.StringVar(&a.apiKeyFile, "api-key-file", "", "read the API key from this file (default $ARKER_API_KEY or $AUTH_KEY)")
	fl.IntVar(&a.retries, "retries", 4, "attempts per request for retryable failures (1 = no retries)")
	fl.DurationVar(&a.timeout, "timeout", 30*time.Second, "time limit of one request or metadata operation")
	fl.BoolVar(&a.debug, "debug", false, "log requests and filesystem operations to stderr (the key is redacted)")
}

// config builds the client configuration for vm from env and flags.
func (a *apiFlags) config(vm string, stderr io.Writer) (transport.Config, error) {
	cfg := transport.ConfigFromEnv()
	cfg.VMID = vm
	if a.baseURL != "" {
		cfg.BaseURL = a.baseURL
	}
	if a.region != "" {
		cfg.Region = a.region
	}
	if a.apiKeyFile != "" {
		b, err := os.ReadFile(a.apiKeyFile)
		if err != nil {
			return cfg, fmt.Errorf("reading the API key: %w", err)
		}
		cfg.APIKey = strings.TrimSpace(string(b))
	}
	cfg.Retry.Attempts = a.retries
	cfg.RequestTimeout = a.timeout
	if a.debug {
		cfg.Debug = func(format string, args ...any) { fmt.Fprintf(stderr, "arkerfs: "+format+"\n", args...) }
	}
	return cfg, nil
}

// fail prints one line and returns the exit code for a failed command.
func fail(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "arkerfs: "+format+"\n", args...)
	return 1
}
