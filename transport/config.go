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
// of the fields left zero and checks the rest. Options are passed as
// values: nothing here is read from globals after New.
type Config struct {
	APIKey   string // bearer key; never printed (String and logs redact it)
	BaseURL  string // API base URL, may carry a path ("…/api"); wins over Provider and Region
	Provider string // placement provider, e.g. "aws"; with Region gives https://<provider>-<region>.arker.ai/api
	Region   string // placement region, e.g. "us-west-2"
	VMID     string // the VM to talk to: its id or its name
	Retry    RetryPolicy

	// RequestTimeout bounds an API exchange, and the wait for an answer
	// once a request body has been sent (default 30s). A run request
	// waits TimeToBackground longer.
	RequestTimeout time.Duration
	// TransferStall cuts a body transfer, up or down, that moves no byte
	// for this long (default 20s).
	TransferStall time.Duration
	// TimeToBackground is how long a run request waits for its command
	// before the server answers 202 and the client polls (whole seconds,
	// rounded up; default 20s). Keeping it short keeps each exchange far
	// from load-balancer idle limits.
	TimeToBackground time.Duration
	// PollBase and PollMax shape the polling of a backgrounded run: the
	// first wait is PollBase, each next one 1.5 times longer, at most
	// PollMax (defaults 500ms and 3s, as the SDKs).
	PollBase, PollMax time.Duration
	// SessionBase is the first session index of arkerfs's own pool of
	// sessions, and Sessions its size (defaults DefaultSessionBase and
	// DefaultSessions). Index 0, the VM's default session, is never used.
	SessionBase, Sessions int
	// SpillDir holds the temporary files of objects fetched whole
	// (default os.TempDir()).
	SpillDir string
	// Debug receives one line per exchange and per retry, from many
	// goroutines at once; nil = off. Neither the key nor a presigned
	// URL's token ever reaches it.
	Debug func(format string, args ...any)
}

// RetryPolicy is the SDKs' backoff: the wait after failed attempt n
// (from 0) is min(Base·2^n, Max) plus a uniform jitter in [0, Jitter]; a
// server's retry hint replaces it. At most Attempts attempts are made in
// all; Attempts <= 1 disables retries. The zero policy means DefaultRetry.
type RetryPolicy struct {
	Attempts int
	Base     time.Duration
	Max      time.Duration
	Jitter   time.Duration
}

// DefaultRetry is the SDKs' policy: 4 attempts, 200 ms base, 2 s cap,
// 50 ms jitter.
var DefaultRetry = RetryPolicy{Attempts: 4, Base: 200 * time.Millisecond, Max: 2 * time.Second, Jitter: 50 * time.Millisecond}

// Defaults of the zero Config fields.
const (
	DefaultRequestTimeout   = 30 * time.Second
	DefaultTransferStall    = 20 * time.Second
	DefaultTimeToBackground = 20 * time.Second
	DefaultPollBase         = 500 * time.Millisecond
	DefaultPollMax          = 3 * time.Second
	DefaultSessionBase      = 7300
	DefaultSessions         = 4
)

// Environment variables ConfigFromEnv reads.
const (
	EnvAPIKey   = "ARKER_API_KEY"
	EnvAuthKey  = "AUTH_KEY" // fallback for ARKER_API_KEY
	EnvBaseURL  = "ARKER_BASE_URL"
	EnvProvider = "ARKER_PROVIDER"
	EnvRegion   = "ARKER_REGION"
)

// ConfigFromEnv reads the key from ARKER_API_KEY (else AUTH_KEY), and the
// endpoint from ARKER_BASE_URL or, when that is unset, ARKER_PROVIDER and
// ARKER_REGION; values are trimmed, and empty means unset. The VM id is
// left to the caller; defaults are filled in. Whether the endpoint is
// usable is checked by Endpoint and New.
func ConfigFromEnv() Config {
	env := func(k string) string { return strings.TrimSpace(os.Getenv(k)) }
	cfg := Config{APIKey: env(EnvAPIKey), BaseURL: env(EnvBaseURL)}
	if cfg.APIKey == "" {
		cfg.APIKey = env(EnvAuthKey)
	}
	if cfg.BaseURL == "" {
		cfg.Provider, cfg.Region = env(EnvProvider), env(EnvRegion)
	}
	return cfg.withDefaults()
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
	c.Retry.Jitter = max(c.Retry.Jitter, 0)
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&c.RequestTimeout, DefaultRequestTimeout)
	set(&c.TransferStall, DefaultTransferStall)
	set(&c.TimeToBackground, DefaultTimeToBackground)
	set(&c.PollBase, DefaultPollBase)
	set(&c.PollMax, DefaultPollMax)
	if c.SessionBase <= 0 {
		c.SessionBase = DefaultSessionBase
	}
	if c.Sessions <= 0 {
		c.Sessions = DefaultSessions
	}
	if c.SpillDir == "" {
		c.SpillDir = os.TempDir()
	}
	return c
}

// String shows the configuration with the key redacted.
func (c Config) String() string {
	base, err := c.Endpoint()
	if err != nil {
		base = "(" + err.Error() + ")"
	}
	return fmt.Sprintf("vm=%q endpoint=%s key=%s retry=%d×[%v..%v+%v] timeout=%v stall=%v sessions=%d+%d",
		c.VMID, base, redactKey(c.APIKey), c.Retry.Attempts, c.Retry.Base, c.Retry.Max, c.Retry.Jitter,
		c.RequestTimeout, c.TransferStall, c.SessionBase, c.Sessions)
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

// dnsLabel is the SDKs' check of a provider or region label.
var dnsLabel = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// Endpoint is the API base URL, without a trailing slash: BaseURL when
// set, else https://<provider>-<region>.arker.ai/api. Provider and Region
// are required together; each is trimmed, lowercased and must be a DNS
// label, and "<provider>-<region>" at most 63 characters.
func (c Config) Endpoint() (string, error) {
	if b := strings.TrimSpace(c.BaseURL); b != "" {
		return cleanBase(b)
	}
	p := strings.ToLower(strings.TrimSpace(c.Provider))
	r := strings.ToLower(strings.TrimSpace(c.Region))
	switch {
	case p == "" && r == "":
		return "", errors.New("no endpoint: set ARKER_BASE_URL, or ARKER_PROVIDER and ARKER_REGION")
	case p == "" || r == "":
		return "", errors.New("ARKER_PROVIDER and ARKER_REGION are required together unless ARKER_BASE_URL is set")
	case !dnsLabel.MatchString(p):
		return "", fmt.Errorf("bad provider %q: want a DNS label", c.Provider)
	case !dnsLabel.MatchString(r):
		return "", fmt.Errorf("bad region %q: want a DNS label", c.Region)
	case len(p)+1+len(r) > 63:
		return "", fmt.Errorf("provider and region %q-%q make a host label longer than 63 characters", p, r)
	}
	return "https://" + p + "-" + r + ".arker.ai/api", nil
}

// cleanBase checks a base URL and drops its trailing slashes. Paths are
// appended to it, so a base with a path ("…/api") keeps it.
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
