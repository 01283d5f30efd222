package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arker-ai/arkerfs/transport"
)

// envOf is a getenv over a map.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolveSettingsPrecedence(t *testing.T) {
	file := writeConfig(t, `{"apiKey":"ark_file_key","provider":"aws","region":"eu-west-1","other":1}`)
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("ark_flag_key\n"), 0o600)
	cases := []struct {
		name  string
		in    resolveInput
		want  settings
		wantE string
	}{
		{"file only", resolveInput{getenv: envOf(nil), configPath: file, shownPath: "~/.arker/config.json"},
			settings{APIKey: setting{"ark_file_key", "~/.arker/config.json"}, Provider: setting{"aws", "~/.arker/config.json"},
				Region: setting{"eu-west-1", "~/.arker/config.json"}}, ""},
		{"env over file", resolveInput{getenv: envOf(map[string]string{"ARKER_API_KEY": " ark_env_key ", "ARKER_REGION": "us-east-1",
			"ARKER_PROVIDER": "gcp", "ARKER_BASE_URL": "http://127.0.0.1:1"}), configPath: file, shownPath: "F"},
			settings{APIKey: setting{"ark_env_key", "$ARKER_API_KEY"}, BaseURL: setting{"http://127.0.0.1:1", "$ARKER_BASE_URL"},
				Provider: setting{"gcp", "$ARKER_PROVIDER"}, Region: setting{"us-east-1", "$ARKER_REGION"}}, ""},
		{"AUTH_KEY after ARKER_API_KEY, before the file", resolveInput{getenv: envOf(map[string]string{"AUTH_KEY": "ark_auth_key"}),
			configPath: file, shownPath: "F"},
			settings{APIKey: setting{"ark_auth_key", "$AUTH_KEY"}, Provider: setting{"aws", "F"}, Region: setting{"eu-west-1", "F"}}, ""},
		{"flags over env", resolveInput{apiKeyFile: keyFile, baseURL: "http://h", provider: "aws", region: "ap-south-1",
			getenv:     envOf(map[string]string{"ARKER_API_KEY": "ark_env_key", "ARKER_REGION": "x", "ARKER_BASE_URL": "http://e"}),
			configPath: file, shownPath: "F"},
			settings{APIKey: setting{"ark_flag_key", "--api-key-file " + keyFile}, BaseURL: setting{"http://h", "--base-url"},
				Provider: setting{"aws", "--provider"}, Region: setting{"ap-south-1", "--region"}}, ""},
		{"empty env is unset", resolveInput{getenv: envOf(map[string]string{"ARKER_API_KEY": "  "}), configPath: file, shownPath: "F"},
			settings{APIKey: setting{"ark_file_key", "F"}, Provider: setting{"aws", "F"}, Region: setting{"eu-west-1", "F"}}, ""},
		{"no file", resolveInput{getenv: envOf(nil), configPath: filepath.Join(t.TempDir(), "none.json"), shownPath: "F"},
			settings{}, ""},
		{"named file missing", resolveInput{getenv: envOf(nil), configPath: "/nonexistent/c.json", shownPath: "/nonexistent/c.json",
			configExplicit: true}, settings{}, "/nonexistent/c.json: no such file"},
		{"bad JSON", resolveInput{getenv: envOf(nil), configPath: writeConfig(t, `{"apiKey": "ark_x",}`), shownPath: "F"},
			settings{}, "F: not valid JSON"},
		{"bad type", resolveInput{getenv: envOf(nil), configPath: writeConfig(t, `{"apiKey": 12}`), shownPath: "F"},
			settings{}, `F: "apiKey" should be a string`},
		{"not an object", resolveInput{getenv: envOf(nil), configPath: writeConfig(t, `["ark_x"]`), shownPath: "F"},
			settings{}, "F: not a JSON object"},
		{"empty key file", resolveInput{apiKeyFile: writeConfig(t, "\n"), getenv: envOf(nil)}, settings{}, "is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := resolveSettings(c.in)
			if c.wantE != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantE) {
					t.Fatalf("error %v, want one containing %q", err, c.wantE)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.configShown = ""
			if got != c.want {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestSettingsConfig(t *testing.T) {
	s := settings{APIKey: setting{"ark_k", "$ARKER_API_KEY"}, Region: setting{"us-west-2", "F"}, Provider: setting{"aws", "F"}}
	cfg, err := s.config(transport.Config{}, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIKey != "ark_k" || cfg.Region != "us-west-2" || cfg.VMID != "vm1" || cfg.BaseURL != "" {
		t.Fatalf("applied: %+v", cfg)
	}
	if _, err := (settings{Region: setting{"us-west-2", "F"}}).config(transport.Config{}, "vm1"); err == nil ||
		!strings.Contains(err.Error(), "no API key") || !strings.Contains(err.Error(), "arker config set") {
		t.Fatalf("no key: %v", err)
	}
	if _, err := (settings{APIKey: setting{"ark_k", "F"}}).config(transport.Config{}, "vm1"); err == nil ||
		!strings.Contains(err.Error(), "no endpoint") {
		t.Fatalf("no endpoint: %v", err)
	}
}

func TestSettingsPrintRedactsKey(t *testing.T) {
	const key = "ark_live_s3cr3tv4lu3"
	s := settings{APIKey: setting{key, "~/.arker/config.json"}, BaseURL: setting{"http://127.0.0.1:9", "$ARKER_BASE_URL"},
		Region: setting{"us-west-2", "~/.arker/config.json"}}
	var b bytes.Buffer
	s.print(&b)
	out := b.String()
	if strings.Contains(out, "s3cr3t") {
		t.Fatalf("the key shows:\n%s", out)
	}
	for _, want := range []string{"ark_…(redacted)", "from ~/.arker/config.json", "from $ARKER_BASE_URL",
		"(not used: the base URL wins)", "provider  -", "(unset)"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestKeyRefusedNamesTheSource(t *testing.T) {
	fromFile := settings{APIKey: setting{"ark_bad", "~/.arker/config.json"}, configShown: "~/.arker/config.json"}
	line := fromFile.keyRefused().Error()
	if !strings.Contains(line, "~/.arker/config.json") || !strings.Contains(line, "401") || strings.Contains(line, "ark_bad") ||
		strings.Contains(line, "\n") {
		t.Fatalf("line: %q", line)
	}
	err := withCause(describeErr(&transport.Error{Code: transport.CodeUnauthorized}, "vm"), &transport.Error{Code: transport.CodeUnauthorized})
	if got := fromFile.explainMountErr(err).Error(); got != line {
		t.Fatalf("explainMountErr: %q, want %q", got, line)
	}
	fromEnv := settings{APIKey: setting{"ark_bad", "$ARKER_API_KEY"}}
	if l := fromEnv.keyRefused().Error(); !strings.Contains(l, "$ARKER_API_KEY") || strings.Contains(l, "arker config set") {
		t.Fatalf("env line: %q", l)
	}
}

func TestCLIConfigPath(t *testing.T) {
	p, shown, explicit := cliConfigPath("", envOf(map[string]string{"HOME": "/h"}))
	if p != "/h/.arker/config.json" || shown != "~/.arker/config.json" || explicit {
		t.Fatalf("%q %q %v", p, shown, explicit)
	}
	p, shown, explicit = cliConfigPath("/etc/arker.json", envOf(map[string]string{"HOME": "/h"}))
	if p != "/etc/arker.json" || shown != "/etc/arker.json" || !explicit {
		t.Fatalf("%q %q %v", p, shown, explicit)
	}
}
