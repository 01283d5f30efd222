package transport_test

import (
	"strings"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport"
)

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("ARKER_API_KEY", "")
	t.Setenv("AUTH_KEY", "ark_fallback_key")
	t.Setenv("ARKER_BASE_URL", "http://127.0.0.1:7070/api/")
	t.Setenv("ARKER_BURST_BASE_URL", "")
	t.Setenv("ARKER_REGION", "us-east-1")
	cfg := transport.ConfigFromEnv()
	if cfg.APIKey != "ark_fallback_key" || cfg.BaseURL != "http://127.0.0.1:7070/api/" || cfg.Region != "us-east-1" {
		t.Fatalf("from env: %+v", cfg)
	}
	if cfg.Retry != transport.DefaultRetry || cfg.Retry.Attempts != 4 || cfg.Retry.Base != 200*time.Millisecond || cfg.Retry.Max != 2*time.Second {
		t.Fatalf("retry defaults %+v", cfg.Retry)
	}
	if cfg.RequestTimeout != 30*time.Second || cfg.TransferStall != 20*time.Second || cfg.MaxParallel != 8 {
		t.Fatalf("limits %v %v %d", cfg.RequestTimeout, cfg.TransferStall, cfg.MaxParallel)
	}
	t.Setenv("ARKER_API_KEY", "ark_primary_key")
	if k := transport.ConfigFromEnv().APIKey; k != "ark_primary_key" {
		t.Fatalf("ARKER_API_KEY does not win over AUTH_KEY: %q", k)
	}
}

func TestRouting(t *testing.T) {
	const burst = "01KQH2ADR3DCAJF06N4R453WPJ_uswe"
	cases := []struct {
		cfg  transport.Config
		want string // "" = error
	}{
		{transport.Config{Region: "us-west-2", VMID: "vm1"}, "https://aws-us-west-2.arker.ai"},
		{transport.Config{Region: "aws-us-west-2", VMID: "vm1"}, "https://aws-us-west-2.arker.ai"},
		{transport.Config{Region: "us-west-2", VMID: "arkuntu"}, "https://aws-burst-us-west-2.arker.ai/api"},
		{transport.Config{Region: "aws-eu-west-1", VMID: burst}, "https://aws-burst-eu-west-1.arker.ai/api"},
		{transport.Config{Region: "us-west-2", VMID: "01KQH2ADR3DCAJF06N4R453WPJ"}, "https://aws-us-west-2.arker.ai"},
		{transport.Config{Region: "us-west-2", BaseURL: "http://127.0.0.1:1/pre/", VMID: "vm1"}, "http://127.0.0.1:1/pre"},
		{transport.Config{BaseURL: "http://127.0.0.1:1", VMID: burst}, "http://127.0.0.1:1"},
		{transport.Config{BaseURL: "http://127.0.0.1:1", BurstBaseURL: "https://b.example/api", VMID: burst}, "https://b.example/api"},
		{transport.Config{BaseURL: "http://127.0.0.1:1", BurstBaseURL: "https://b.example/api", VMID: "vm1"}, "http://127.0.0.1:1"},
		{transport.Config{VMID: "vm1"}, ""},
		{transport.Config{BaseURL: "ftp://x", VMID: "vm1"}, ""},
		{transport.Config{BaseURL: "http://user:pw@x", VMID: "vm1"}, ""},
		{transport.Config{Region: "us/evil", VMID: "vm1"}, ""},
	}
	for _, tc := range cases {
		got, err := tc.cfg.Endpoint()
		if tc.want == "" {
			if err == nil {
				t.Errorf("%+v: endpoint %q, want an error", tc.cfg, got)
			} else if strings.Contains(err.Error(), "pw") {
				t.Errorf("error shows user info: %v", err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: endpoint %q %v, want %q", tc.cfg, got, err, tc.want)
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
	if got := c.Config(); got.Retry != transport.DefaultRetry || got.MaxParallel != transport.DefaultMaxParallel {
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
