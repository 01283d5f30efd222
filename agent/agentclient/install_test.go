package agentclient

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// DefaultBinary picks this executable for its own linux arch, else the
// release's name for the other arch beside it, else make build's, and
// names what it looked for when there is neither.
func TestDefaultBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		if p, err := DefaultBinary("v9", runtime.GOARCH); err != nil || p != exe {
			t.Errorf("own arch: %q, %v; want %s", p, err, exe)
		}
	}
	other := "arm64"
	if runtime.GOOS == "linux" && runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	release := filepath.Join(filepath.Dir(exe), "arkerfs-v9-linux-"+other)
	built := filepath.Join(filepath.Dir(exe), "arkerfs-linux-"+other)
	if _, err := DefaultBinary("v9", other); err == nil || !strings.Contains(err.Error(), release) || !strings.Contains(err.Error(), built) {
		t.Errorf("no build: %v, want both names", err)
	}
	for _, p := range []string{built, release} {
		if err := os.WriteFile(p, []byte("agent"), 0o755); err != nil {
			t.Skipf("cannot write beside the test binary: %v", err)
		}
		t.Cleanup(func() { os.Remove(p) })
		if got, err := DefaultBinary("v9", other); err != nil || got != p {
			t.Errorf("with %s: %q, %v", filepath.Base(p), got, err)
		}
	}
}

func TestPortHost(t *testing.T) {
	cases := map[string]string{
		"vm.aws-us-east-1.arker.app": "vm-7000.aws-us-east-1.arker.app",
		"local.local-emu.arker.app":  "local-7000.local-emu.arker.app",
		"bare":                       "bare-7000",
	}
	for in, want := range cases {
		if got := portHost(in, 7000); got != want {
			t.Errorf("portHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGoArch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "riscv64": "", "": ""} {
		if got := goArch(in); got != want {
			t.Errorf("goArch(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStateLine(t *testing.T) {
	out := []byte("starting\n{\"version\":\"v1\",\"protocol\":1,\"port\":4242,\"pid\":9}\n")
	st := stateLine(out)
	if st == nil || st.Port != 4242 || st.Version != "v1" {
		t.Fatalf("stateLine = %+v", st)
	}
	if stateLine([]byte("{\"port\":0}\nnoise")) != nil {
		t.Error("a state without a port was taken")
	}
}

// A quoted word is one word to sh whatever bytes it holds.
func TestShellQuote(t *testing.T) {
	for _, s := range []string{"plain", "it's", "$(rm -rf x)", "a b\nc", "'", "\\'\"", "\xff\xfe"} {
		out, err := exec.Command("sh", "-c", "printf '%s' "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh got %q (%v) for %q", out, err, s)
		}
	}
}

func TestSafeVersion(t *testing.T) {
	for _, v := range []string{"v1.2.3", "dev", "v0.0.0-20261207-abc+dirty"} {
		if !safeVersion.MatchString(v) {
			t.Errorf("%q refused", v)
		}
	}
	for _, v := range []string{"", "a/b", "x y", "$(id)", "v1;rm"} {
		if safeVersion.MatchString(v) {
			t.Errorf("%q accepted", v)
		}
	}
}
