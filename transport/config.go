package transport

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Config says where the VM is and how to talk to it. Build it with
// ConfigFromEnv and override fields from flags; New fills in the defaults
// of the fields left zero.
type Config struct {
	APIKey       string // bearer key; never printed (String and logs redact it)
	BaseURL      string // API base URL, may carry a path prefix; wins over Region routing
	BurstBaseURL string // burst endpoint for "arkuntu" and burst VM ids; wins over Region routing
	Region       string // e.g. "us-west-2", or the legacy "aws-us-west-2"
	VMID         string // the VM to talk to
	Retry        RetryPolicy

	// RequestTimeout bounds an API exchange, and the wait for an answer
	// once a request body has been sent (default 30s). A run is bounded
	// by its own timeout plus 10s instead.
	RequestTimeout time.Duration
	// TransferStall cuts a body transfer, up or down, that moves no byte
	// for this long (default 20s).
	TransferStall time.Duration
	// MaxParallel is the number of parts of one large upload in flight,
	// and so in memory, at once (default 8).
	MaxParallel int
	// Debug receives one line per exchange and per retry, from many
	// goroutines at once; nil = off. Neither the key nor a presigned
	// URL's token ever reaches it.
	Debug func(format string, args ...any)
}

// RetryPolicy is exponential backoff with full jitter: the wait before
// retry n (from 0) is uniform in (0, min(Max, Base·2^n)]. At most Attempts
// attempts are made in all; Attempts <= 1 disables retries. The zero
// policy means DefaultRetry.
type RetryPolicy struct {
	Attempts int
	Base     time.Duration
	Max      time.Duration
}

// DefaultRetry is the SDK's policy: 4 attempts, 200 ms base, 2 s cap.
var DefaultRetry = RetryPolicy{Attempts: 4, Base: 200 * time.Millisecond, Max: 2 * time.Second}

// Defaults of the zero Config fields.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultTransferStall  = 20 * time.Second
	DefaultMaxParallel    = 8
)

// ConfigFromEnv reads ARKER_API_KEY (else AUTH_KEY), ARKER_BASE_URL,
// ARKER_BURST_BASE_URL and ARKER_REGION, with the default retries,
// timeouts and parallelism. The VM id is left to the caller.
func ConfigFromEnv() Config {
	key := os.Getenv("ARKER_API_KEY")
	if key == "" {
		key = os.Getenv("AUTH_KEY")
	}
	return Config{
		APIKey:       key,
		BaseURL:      os.Getenv("ARKER_BASE_URL"),
		BurstBaseURL: os.Getenv("ARKER_BURST_BASE_URL"),
		Region:       os.Getenv("ARKER_REGION"),
	}.withDefaults()
}

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	if c.Retry == (RetryPolicy{}) {
		c.Retry = DefaultRetry
	}
	if c.Retry.Base <= 0 {
		c.Retry.Base = DefaultRetry.Base
	}
	if c.Retry.Max < c.Retry.Base {
		c.Retry.Max = c.Retry.Base
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.TransferStall <= 0 {
		c.TransferStall = DefaultTransferStall
	}
	if c.MaxParallel <= 0 {
		c.MaxParallel = DefaultMaxParallel
	}
	return c
}

// String shows the configuration with the key redacted.
func (c Config) String() string {
	base, err := c.Endpoint()
	if err != nil {
		base = "(" + err.Error() + ")"
	}
	return fmt.Sprintf("vm=%q endpoint=%s key=%s retry=%d×[%v..%v] timeout=%v stall=%v parallel=%d",
		c.VMID, base, redactKey(c.APIKey), c.Retry.Attempts, c.Retry.Base, c.Retry.Max,
		c.RequestTimeout, c.TransferStall, c.MaxParallel)
}

// redactKey shows at most a key's public prefix ("ark_"), never its secret.
func redactKey(key string) string {
	if key == "" {
		return "(none)"
	}
	if i := strings.IndexByte(key, '_'); i > 0 && i <= 4 && len(key) > 2*(i+1) {
		return key[:i+1] + "…(redacted)"
	}
	return "(redacted)"
}

// burstID matches the VM ids the SDK routes to the burst endpoint: a ULID
// with a region suffix, e.g. 01KQH2ADR3DCAJF06N4R453WPJ_uswe.
var burstID = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}_[a-z]{4}$`)

// IsBurstVM reports whether the SDK routes id to the burst endpoint: the
// golden "arkuntu" and burst VM ids.
func IsBurstVM(id string) bool { return id == "arkuntu" || burstID.MatchString(id) }

// Endpoint is the API base URL for c.VMID, without a trailing slash:
// BurstBaseURL for a burst VM when set, else BaseURL when set, else the
// region's endpoint (https://aws-R.arker.ai, or
// https://aws-burst-R.arker.ai/api for a burst VM).
func (c Config) Endpoint() (string, error) {
	burst := IsBurstVM(c.VMID)
	switch {
	case burst && c.BurstBaseURL != "":
		return cleanBase(c.BurstBaseURL)
	case c.BaseURL != "":
		return cleanBase(c.BaseURL)
	case c.Region == "":
		return "", errors.New("no endpoint: set ARKER_BASE_URL or ARKER_REGION")
	}
	r := strings.TrimPrefix(c.Region, "aws-")
	if r == "" || strings.ContainsAny(r, "/:?#@ ") {
		return "", fmt.Errorf("bad region %q", c.Region)
	}
	if burst {
		return "https://aws-burst-" + r + ".arker.ai/api", nil
	}
	return "https://aws-" + r + ".arker.ai", nil
}

// cleanBase checks a base URL and drops its trailing slashes.
func cleanBase(s string) (string, error) {
	u, err := url.Parse(s)
	if err == nil && u.User != nil {
		return "", errors.New("bad base URL: it must not carry user info")
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("bad base URL %q: want http(s)://host[:port][/prefix]", s)
	}
	return strings.TrimRight(s, "/"), nil
}
