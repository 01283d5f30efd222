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
// ConfigFromEnv and override fields from flags; New fills in defaults.
type Config struct {
	APIKey         string        // bearer key; never printed (String redacts it)
	BaseURL        string        // API base URL; wins over Region routing
	BurstBaseURL   string        // burst endpoint; overrides the region's
	Region         string        // e.g. "us-west-2" or the legacy "aws-us-west-2"
	VMID           string        // the VM to talk to
	Retry          RetryPolicy   // retries of retryable failures
	RequestTimeout time.Duration // bound on one exchange without a deadline of its own (default 30s)
	TransferStall  time.Duration // a body transfer making no progress this long is cut (default 20s)
	MaxParallel    int           // parts in flight for one large upload (default 8)
	// Debug receives one line per request; nil = off. Keys and presigned
	// tokens never reach it.
	Debug func(format string, args ...any)
}

// RetryPolicy is exponential backoff with full jitter from Base doubling
// to Max, for at most Attempts attempts in all; Attempts <= 1 disables
// retries. The defaults are the SDK's: 4 attempts, 200 ms, 2 s.
type RetryPolicy struct {
	Attempts int
	Base     time.Duration
	Max      time.Duration
}

// DefaultRetry is the SDK's retry policy.
var DefaultRetry = RetryPolicy{Attempts: 4, Base: 200 * time.Millisecond, Max: 2 * time.Second}

// ConfigFromEnv reads ARKER_API_KEY (else AUTH_KEY), ARKER_BASE_URL,
// ARKER_BURST_BASE_URL and ARKER_REGION, with default retries and limits.
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
		Retry:        DefaultRetry,
	}.withDefaults()
}

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
		c.RequestTimeout = 30 * time.Second
	}
	if c.TransferStall <= 0 {
		c.TransferStall = 20 * time.Second
	}
	if c.MaxParallel <= 0 {
		c.MaxParallel = 8
	}
	return c
}

// String shows the configuration with the key redacted.
func (c Config) String() string {
	base, err := c.endpoint()
	if err != nil {
		base = "(" + err.Error() + ")"
	}
	return fmt.Sprintf("vm=%s endpoint=%s key=%s retries=%d timeout=%v", c.VMID, base, redact(c.APIKey), c.Retry.Attempts, c.RequestTimeout)
}

// redact shows at most the key's public prefix.
func redact(key string) string {
	if key == "" {
		return "(none)"
	}
	if i := strings.LastIndexByte(key, '_'); i > 0 && i < 12 {
		return key[:i+1] + "…(redacted)"
	}
	return "…(redacted)"
}

// burstID matches VM ids the SDK routes to the burst endpoint: a ULID
// with a region suffix, e.g. 01KQH2ADR3DCAJF06N4R453WPJ_uswe.
var burstID = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}_[a-z]{4}$`)

// endpoint resolves the base URL for c.VMID (SDK routing, PROTOCOL.md).
func (c Config) endpoint() (string, error) {
	burst := c.VMID == "arkuntu" || burstID.MatchString(c.VMID)
	if burst && c.BurstBaseURL != "" {
		return cleanBase(c.BurstBaseURL)
	}
	if c.BaseURL != "" {
		return cleanBase(c.BaseURL)
	}
	if c.Region == "" {
		return "", errors.New("no endpoint: set ARKER_BASE_URL or ARKER_REGION (or pass --base-url or --region)")
	}
	r := strings.TrimPrefix(c.Region, "aws-")
	if burst {
		return "https://aws-burst-" + r + ".arker.ai/api", nil
	}
	return "https://aws-" + r + ".arker.ai", nil
}

func cleanBase(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("bad base URL %q: want http(s)://host[/prefix]", s)
	}
	return strings.TrimRight(s, "/"), nil
}
