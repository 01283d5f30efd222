package integration

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needTool skips outside CI (fails in CI) when a tool is missing;
// `make test` installs them.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (make deps installs it): %v", name, err)
		}
		t.Skipf("skipping: %s is not installed (run make deps)", name)
	}
}

func TestEditorAtomicSaveRepeated(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 20; i++ {
		content := []byte(fmt.Sprintf("version %d\n", i))
		tmp := e.path(fmt.Sprintf(".main.go.%d.tmp", i))
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(content)
		if err := f.Sync(); err != nil {
			t.Fatalf("fsync: %v", err)
		}
		f.Close()
		if err := os.Rename(tmp, e.path("main.go")); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(e.path("main.go")); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("save %d: mount reads %q %v", i, got, err)
		}
		if got := e.vmRead("main.go"); !bytes.Equal(got, content) {
			t.Fatalf("save %d: VM has %q", i, got)
		}
	}
	ents, _ := os.ReadDir(e.vm("."))
	if len(ents) != 1 {
		t.Fatalf("VM home holds %d entries, want only main.go", len(ents))
	}
}

func TestVimWritesFile(t *testing.T) {
	needTool(t, "vim")
	e := newEnv(t)
	e.write("notes.txt", []byte("first line\n"))
	cmd := exec.Command("vim", "-es", "-u", "NONE", "-i", "NONE", "-c", "normal Gosecond line", "-c", "wq", e.path("notes.txt"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vim: %v\n%s", err, out)
	}
	if got := string(e.vmRead("notes.txt")); got != "first line\nsecond line\n" {
		t.Fatalf("VM has %q", got)
	}
}

// makeTree writes n small files in dirs directories under root, with
// varied modes and old mtimes.
func makeTree(t *testing.T, root string, dirs, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		d := filepath.Join(root, fmt.Sprintf("dir%02d", i%dirs))
		os.MkdirAll(d, 0o755)
		p := filepath.Join(d, fmt.Sprintf("file %03d.txt", i))
		buf := make([]byte, 100+i%4000)
		rand.Read(buf)
		mode := os.FileMode(0o644)
		if i%7 == 0 {
			mode = 0o755
		}
		if err := os.WriteFile(p, buf, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		mt := time.Date(2021, 5, 6, 7, 8, 9, i*1000, time.UTC)
		os.Chtimes(p, mt, mt)
	}
	// Directories get old times too. A directory made in the same second
	// as its copy looks up to date to rsync, which then leaves the copy's
	// time alone; the copy's time moves on as rsync fills it, and a check
	// against the source would depend on where the second ended.
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
}

func TestRsyncInAndNoOpSecondRun(t *testing.T) {
	needTool(t, "rsync")
	e := newEnv(t)
	src := t.TempDir()
	makeTree(t, src, 5, 60)
	e.sh(fmt.Sprintf("rsync -a %s/ %s/tree/", src, e.mnt))
	// Bytes, modes and mtimes on the VM side equal the source (the
	// last attribute changes reach the VM within moments).
	eventuallyWhy(t, 5*time.Second, "VM copy equal to the source", func() (bool, string) {
		out, err := exec.Command("rsync", "-a", "--dry-run", "--itemize-changes", "--checksum", src+"/", e.vm("tree")+"/").CombinedOutput()
		return err == nil && strings.TrimSpace(string(out)) == "", fmt.Sprintf("%v\n%s", err, out)
	})
	// A second rsync through the mount transfers nothing.
	before := e.requests("sync.write")
	out2 := e.sh(fmt.Sprintf("rsync -a --itemize-changes %s/ %s/tree/", src, e.mnt))
	if strings.TrimSpace(out2) != "" {
		t.Fatalf("second rsync changed:\n%s", out2)
	}
	if after := e.requests("sync.write"); after != before {
		t.Fatalf("second rsync uploaded %d times", after-before)
	}
}

func TestGitInsideMount(t *testing.T) {
	needTool(t, "git")
	e := newEnv(t)
	os.Mkdir(e.path("repo"), 0o755)
	git := "git -c user.name=t -c user.email=t@example.invalid -c init.defaultBranch=main "
	e.sh("cd repo && " + git + "init -q && printf 'one\\n' > a.txt && mkdir -p src && printf 'x\\n' > src/b.go && " + git + "add -A && " + git + "commit -qm first")
	e.sh("cd repo && printf 'two\\n' >> a.txt && " + git + "commit -qam second && " + git + "checkout -q -b topic && printf 'z\\n' > z.txt && " + git + "add z.txt && " + git + "commit -qm third && " + git + "checkout -q main")
	if st := e.sh("cd repo && " + git + "status --porcelain"); st != "" {
		t.Fatalf("git status not clean:\n%s", st)
	}
	if log := e.sh("cd repo && " + git + "log --format=%s"); log != "second\nfirst\n" {
		t.Fatalf("git log: %q", log)
	}
	// The repository is valid on the VM side too.
	if out := e.vmRun("cd /home/user/repo && git fsck --no-progress 2>&1 && git log --format=%s topic"); !strings.Contains(out, "third") {
		t.Fatalf("VM-side git: %q", out)
	}
}

func TestTarExtractAndChecksum(t *testing.T) {
	needTool(t, "tar")
	e := newEnv(t)
	src := t.TempDir()
	makeTree(t, src, 4, 80)
	archive := filepath.Join(t.TempDir(), "t.tar")
	if out, err := exec.Command("sh", "-c", fmt.Sprintf("cd %s && find . -type f -print0 | xargs -0 sha256sum > /tmp/sums.$$ && mv /tmp/sums.$$ SHA256SUMS && tar cf %s .", src, archive)).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	os.Mkdir(e.path("x"), 0o755)
	e.sh("cd x && tar xf " + archive + " && sha256sum -c --quiet SHA256SUMS")
	e.vmRun("cd /home/user/x && sha256sum -c --quiet SHA256SUMS")
}
