package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// awkwardNames are file names that break tools which splice names into
// shell or URL syntax.
var awkwardNames = []string{
	"with space", "quote'single", `quote"double`, "new\nline", "$(touch pwned)", "`touch pwned`",
	`back\slash`, "-leading-dash", "--", "star*", "semi;colon", "%2e%2e", "?query#frag", "tab\tname",
	"invalid-\xff\xfe-utf8", "ünïcödé", strings.Repeat("n", 255),
}

func TestAwkwardNamesThroughMount(t *testing.T) {
	e := newEnv(t)
	for _, name := range awkwardNames {
		data := []byte("content of " + name)
		if err := os.WriteFile(e.path(name), data, 0o644); err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
		if got, err := os.ReadFile(e.vm(name)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("VM copy of %q: %q %v", name, got, err)
		}
		if got, err := os.ReadFile(e.path(name)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %q: %q %v", name, got, err)
		}
	}
	if _, err := os.Stat(e.vm("pwned")); err == nil {
		t.Fatal("a file name was executed as shell syntax")
	}
	ents, err := os.ReadDir(e.mnt)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, de := range ents {
		got = append(got, de.Name())
	}
	want := append([]string(nil), awkwardNames...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("listing %q\nwant %q", got, want)
	}
	// Rename and remove each, through the helper.
	for _, name := range awkwardNames {
		if err := os.Rename(e.path(name), e.path(name+".moved")); err != nil && len(name) < 250 {
			t.Fatalf("rename %q: %v", name, err)
		}
	}
	os.Mkdir(e.path("d"), 0o755)
	if err := os.Symlink("target with 'quotes' and $(x)", e.path("d/link")); err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(e.vm("d/link")); target != "target with 'quotes' and $(x)" {
		t.Fatalf("symlink target on the VM: %q", target)
	}
	_ = filepath.Join
}
