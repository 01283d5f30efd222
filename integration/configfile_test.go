package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeCLIConfig writes the Arker CLI's ~/.arker/config.json under home.
func writeCLIConfig(t *testing.T, home, body string) {
	t.Helper()
	dir := filepath.Join(home, ".arker")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestConfigFromCLIConfigFile takes the key and placement from the Arker
// CLI's ~/.arker/config.json in a temporary HOME: status shows each
// setting with its source and the key redacted, and a mount works with no
// key in the environment. The environment still wins over the file.
func TestConfigFromCLIConfigFile(t *testing.T) {
	c := newCLIEnv(t)
	os.WriteFile(filepath.Join(c.vmHome, "hello.txt"), []byte("hi\n"), 0o644)
	writeCLIConfig(t, c.home, `{"apiKey": "`+testToken+`", "provider": "aws", "region": "us-west-2", "theme": "dark"}`)
	// The emulator is not at the region's address: the base URL comes
	// from the environment, the rest from the file.
	base := []string{"ARKER_BASE_URL=" + c.url}

	r := c.run(base, "status", "local")
	if r.code != 0 {
		t.Fatalf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, testToken) {
		t.Fatalf("status shows the key:\n%s", r.stdout)
	}
	for _, want := range []string{
		"api key   ark_…(redacted)", "from ~/.arker/config.json",
		"base URL  " + c.url, "from $ARKER_BASE_URL",
		"provider  aws", "region    us-west-2", "(not used: the base URL wins)",
		"VM local",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "api key") && !strings.Contains(l, "from ~/.arker/config.json") {
			t.Errorf("the key's source is not the file: %q", l)
		}
	}

	r = c.run(base, "mount", "local", c.mnt)
	if r.code != 0 {
		t.Fatalf("mount with the key from the file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(c.mnt, "hello.txt")); err != nil || string(b) != "hi\n" {
		t.Errorf("reading through the mount: %q %v", b, err)
	}
	if r := c.run(nil, "unmount", c.mnt); r.code != 0 {
		t.Fatalf("unmount: exit %d %s", r.code, r.stderr)
	}
	c.noServerLeft("the server exits after unmount")

	// A key in the environment wins over the file's: a wrong one is
	// refused, and named as coming from the environment.
	r = c.run(append(base, "ARKER_API_KEY=ark_env_wrong_key"), "status", "local")
	if r.code != 1 || !strings.Contains(r.stderr, "$ARKER_API_KEY") {
		t.Fatalf("env key over the file's: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestBadKeyInCLIConfigFile: a key in ~/.arker/config.json that the API
// refuses stops the mount with one clear line naming the file, exit 1,
// and leaves nothing behind; a file that is not JSON is one line too.
func TestBadKeyInCLIConfigFile(t *testing.T) {
	c := newCLIEnv(t)
	const badKey = "ark_live_not_this_one_0123"
	writeCLIConfig(t, c.home, `{"apiKey": "`+badKey+`", "provider": "aws", "region": "us-west-2"}`)
	base := []string{"ARKER_BASE_URL=" + c.url}

	for _, args := range [][]string{{"mount", "local", c.mnt}, {"mount", "-f", "local", c.mnt}} {
		r := c.run(base, args...)
		if r.code != 1 || r.stdout != "" {
			t.Fatalf("%q with a bad key in the file: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
		oneLine(t, "the refusal", r.stderr)
		if !strings.Contains(r.stderr, "the API key from ~/.arker/config.json was refused (401 unauthorized)") ||
			strings.Contains(r.stderr, "not_this_one") {
			t.Fatalf("%q: refusal %q", args, r.stderr)
		}
		if c.mounted() {
			t.Fatalf("%q: a refused mount left a mount", args)
		}
		c.noServerLeft("no server after a refused mount")
	}
	if strings.Contains(c.logs(), "not_this_one") {
		t.Fatalf("the key is in the log:\n%s", c.logs())
	}

	writeCLIConfig(t, c.home, `{"apiKey": "`+badKey+`",`)
	r := c.run(base, "mount", "local", c.mnt)
	if r.code != 1 {
		t.Fatalf("mount with a broken config file: exit %d, stderr %q", r.code, r.stderr)
	}
	oneLine(t, "the broken file", r.stderr)
	if !strings.Contains(r.stderr, "~/.arker/config.json: not valid JSON") || strings.Contains(r.stderr, "not_this_one") {
		t.Fatalf("broken file: %q", r.stderr)
	}
}
