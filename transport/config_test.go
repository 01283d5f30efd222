package transport_test

import (
	"strings"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
)

// setEnv sets the variables ConfigFromEnv reads (all of them, so that the
// environment the tests run in does not leak in).
func setEnv(t *testing.T, kv map[string]string) {
	for _, k := range []string{transport.EnvAPIKey, transport.EnvAuthKey, transport.EnvBaseURL, transport.EnvProvider, transport.EnvRegion} {
		t.Setenv(k, kv[k])
	}
}

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		key      string
		endpoint string // "" = Endpoint fails
		errWord  string
	}{
		{"base url wins", map[string]string{"ARKER_API_KEY": " ark_primary ", "AUTH_KEY": "ark_fallback",
			"ARKER_BASE_URL": " http://127.0.0.1:7070/api/ ", "ARKER_PROVIDER": "gcp", "ARKER_REGION": "x"},
			"ark_primary", "http://127.0.0.1:7070/api", ""},
		{"auth key fallback", map[string]string{"AUTH_KEY": "ark_fallback", "ARKER_PROVIDER": "aws", "ARKER_REGION": "us-west-2"},
			"ark_fallback", "https://aws-us-west-2.arker.ai/api", ""},
		{"labels trimmed and lowercased", map[string]string{"ARKER_API_KEY": "k", "ARKER_PROVIDER": " AWS ", "ARKER_REGION": "EU-West-1 "},
			"k", "https://aws-eu-west-1.arker.ai/api", ""},
		{"provider alone", map[string]string{"ARKER_API_KEY": "k", "ARKER_PROVIDER": "aws"}, "k", "", "together"},
		{"region alone", map[string]string{"ARKER_API_KEY": "k", "ARKER_REGION": "us-west-2"}, "k", "", "together"},
		{"nothing", map[string]string{"ARKER_API_KEY": "k"}, "k", "", "no endpoint"},
		{"bad label", map[string]string{"ARKER_API_KEY": "k", "ARKER_PROVIDER": "aws", "ARKER_REGION": "us/west"}, "k", "", "region"},
		{"label with dash at end", map[string]string{"ARKER_API_KEY": "k", "ARKER_PROVIDER": "aws-", "ARKER_REGION": "x"}, "k", "", "provider"},
		{"combined too long", map[string]string{"ARKER_API_KEY": "k", "ARKER_PROVIDER": strings.Repeat("p", 31), "ARKER_REGION": strings.Repeat("r", 32)},
			"k", "", "63"},
		{"combined at the limit", map[string]string{"ARKER_API_KEY": "k", "ARKER_PROVIDER": strings.Repeat("p", 31), "ARKER_REGION": strings.Repeat("r", 31)},
			"k", "https://" + strings.Repeat("p", 31) + "-" + strings.Repeat("r", 31) + ".arker.ai/api", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			cfg := transport.ConfigFromEnv()
			if cfg.APIKey != tc.key {
				t.Errorf("key %q, want %q", cfg.APIKey, tc.key)
			}
			got, err := cfg.Endpoint()
			switch {
			case tc.endpoint == "" && (err == nil || !strings.Contains(err.Error(), tc.errWord)):
				t.Errorf("endpoint %q, error %v; want an error about %q", got, err, tc.errWord)
			case tc.endpoint != "" && (err != nil || got != tc.endpoint):
				t.Errorf("endpoint %q %v, want %q", got, err, tc.endpoint)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	setEnv(t, map[string]string{"ARKER_API_KEY": "k", "ARKER_BASE_URL": "http://127.0.0.1:1"})
	cfg := transport.ConfigFromEnv()
	want := transport.RetryPolicy{Attempts: 4, Base: 200 * time.Millisecond, Max: 2 * time.Second, Jitter: 50 * time.Millisecond}
	if cfg.Retry != want || transport.DefaultRetry != want {
		t.Errorf("retry defaults %+v", cfg.Retry)
	}
	if cfg.RequestTimeout != 30*time.Second || cfg.TransferStall != 20*time.Second || cfg.TimeToBackground != 20*time.Second ||
		cfg.PollBase != 500*time.Millisecond || cfg.PollMax != 3*time.Second {
		t.Errorf("time defaults %+v", cfg)
	}
	if cfg.SessionBase != 7300 || cfg.Sessions != 4 || cfg.SpillDir == "" {
		t.Errorf("session and spill defaults %+v", cfg)
	}
}

func TestEndpointBaseURLs(t *testing.T) {
	cases := []struct {
		base, want string // want "" = error
	}{
		{"http://127.0.0.1:1/pre/", "http://127.0.0.1:1/pre"},
		{"https://test.invalid/api", "https://test.invalid/api"},
		{"ftp://x", ""},
		{"http://user:pw@x", ""},
		{"http://x/?q=1", ""},
		{"x", ""},
	}
	for _, tc := range cases {
		got, err := transport.Config{BaseURL: tc.base}.Endpoint()
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: endpoint %q, want an error", tc.base, got)
			} else if strings.Contains(err.Error(), "pw") {
				t.Errorf("error shows user info: %v", err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: endpoint %q %v, want %q", tc.base, got, err, tc.want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	cases := []struct {
		cfg  transport.Config
		want string
	}{
		{transport.Config{BaseURL: "http://127.0.0.1:1", VMID: "v"}, "no API key"},
		{transport.Config{APIKey: "k", BaseURL: "http://127.0.0.1:1"}, "no VM id"},
		{transport.Config{APIKey: "k", VMID: "v"}, "no endpoint"},
		{transport.Config{APIKey: "k", VMID: "v", Provider: "aws"}, "together"},
	}
	for _, tc := range cases {
		if _, err := transport.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	c, err := transport.New(transport.Config{APIKey: "k", BaseURL: "http://127.0.0.1:1", VMID: "v"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Config(); got.Retry != transport.DefaultRetry || got.Sessions != transport.DefaultSessions {
		t.Fatalf("defaults not filled in: %+v", got)
	}
}

func TestConfigStringRedacts(t *testing.T) {
	const secret = "s3cr3t0123456789abcdef"
	for _, key := range []string{"ark_" + secret, secret, "x_" + secret} {
		s := transport.Config{APIKey: key, BaseURL: "http://127.0.0.1:1", VMID: "v"}.String()
		if strings.Contains(s, secret) || !strings.Contains(s, "redacted") {
			t.Errorf("String() = %q shows the key", s)
		}
	}
	s := transport.Config{APIKey: "ark_" + secret, VMID: "v", BaseURL: "http://127.0.0.1:1"}.String()
	if !strings.Contains(s, "ark_…(redacted)") || !strings.Contains(s, "http://127.0.0.1:1") {
		t.Errorf("String() = %q", s)
	}
}
