package integration

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// agentTree makes a tree on the VM side: dirs three levels deep with
// files, a symlink and a name with a newline.
func agentTree(t *testing.T, e *env) {
	t.Helper()
	for i := range 4 {
		for j := range 5 {
			d := e.vm(fmt.Sprintf("src/d%d/e%d/f", i, j))
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for k := range 10 {
				if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("file%d", k)), []byte(strings.Repeat("x", k)), 0o640); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := os.Symlink("d0/e0", e.vm("src/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.vm("src/new\nline"), []byte("n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// walkSummary lists every path below root with its type, mode and size
// (and a symlink's target), sorted.
func walkSummary(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%q %v %d", rel, fi.Mode(), fi.Size())
		if fi.IsDir() {
			line = fmt.Sprintf("%q %v", rel, fi.Mode()) // a directory's size is the file system's
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + target
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	sort.Strings(out)
	return out
}

// TestAgentAnswersMetadata walks a tree through a mount whose client uses
// the agent: every lookup, listing, readlink and statfs is answered with
// no run on the VM, and the mount shows what the VM has.
func TestAgentAnswersMetadata(t *testing.T) {
	e := newEnv(t, withAgent())
	agentTree(t, e)
	runs, ingress := e.requests("runs.create"), e.requests("ingress")

	got := walkSummary(t, e.path("src"))
	var st syscall.Statfs_t
	if err := syscall.Statfs(e.path("src"), &st); err != nil || st.Blocks == 0 {
		t.Fatalf("statfs through the agent: %v (%d blocks)", err, st.Blocks)
	}
	if n := e.requests("runs.create") - runs; n != 0 {
		t.Errorf("walking the tree started %d runs; the agent should answer every lookup", n)
	}
	if n := e.requests("ingress") - ingress; n == 0 {
		t.Error("no request went to the agent")
	}
	want := walkSummary(t, e.vm("src"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the mount shows\n%s\nthe VM has\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e.client.MetaServerInUse() == "" {
		t.Error("the client gave the agent up")
	}
}

// TestAgentChanges changes files through a mount that uses the agent:
// mkdir, create, rename, chmod and the upload's install are the agent's,
// with no run on the VM, and the VM has what the mount shows.
func TestAgentChanges(t *testing.T) {
	e := newEnv(t, withAgent())
	runs := e.requests("runs.create")
	if err := os.MkdirAll(e.path("w/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.path("w/sub/a"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(e.path("w/sub/a"), e.path("w/b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.path("w/b"), 0o600); err != nil {
		t.Fatal(err)
	}
	fsyncDir(t, e.path("w"))
	fi, err := os.Stat(e.vm("w/b"))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 5 {
		t.Fatalf("on the VM: %v, %v", fi, err)
	}
	if _, err := os.Stat(e.vm("w/sub/a")); !os.IsNotExist(err) {
		t.Fatalf("the renamed file is still on the VM: %v", err)
	}
	got, want := walkSummary(t, e.path("w")), walkSummary(t, e.vm("w"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the mount shows\n%s\nthe VM has\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := e.requests("runs.create") - runs; n != 0 {
		t.Errorf("the changes started %d runs; the agent should make them all", n)
	}
}

// TestAgentFallback: when the VM's ingress is denied, the install fails
// with a clear error and the mount answers through runs; when the agent
// becomes unreachable later, the next operation still answers, through
// runs, and the client stops using the agent.
func TestAgentFallback(t *testing.T) {
	e := newEnv(t, withAgent())
	if err := os.WriteFile(e.vm("f"), []byte("data"), 0o644); err != nil { // unknown to the mount's caches
		t.Fatal(err)
	}
	e.emu.SetDenyIngress(true)
	runs := e.requests("runs.create")
	fi, err := os.Stat(e.path("f"))
	if err != nil || fi.Size() != 4 {
		t.Fatalf("stat after the agent became unreachable: %v, %v", fi, err)
	}
	if e.client.MetaServerInUse() != "" {
		t.Error("the client still uses an agent it cannot reach")
	}
	if e.requests("runs.create") == runs {
		t.Error("the stat was not answered by a run")
	}
	e.emu.SetDenyIngress(false)
	eventually(t, 30*time.Second, "the client takes the agent back", func() bool { return e.client.MetaServerInUse() != "" })
}

// TestAgentInstallRefused: with the VM's ingress denied from the start,
// installing the agent fails with an error that says so, and the mount
// keeps answering through runs.
func TestAgentInstallRefused(t *testing.T) {
	e := newEnv(t, withoutAgent())
	e.emu.SetDenyIngress(true)
	_, err := e.tryInstallAgent()
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("install with ingress denied: %v, want a 403", err)
	}
	e.write("f", []byte("x"))
	if _, err := os.Stat(e.path("f")); err != nil {
		t.Fatalf("stat on the run path: %v", err)
	}
}

// TestAgentSeesVMChanges: with the agent's change feed, files created,
// rewritten and removed inside the VM show through the mount long before
// the TTLs (one minute here) would let them.
func TestAgentSeesVMChanges(t *testing.T) {
	e := newEnv(t, withAgent(), withTTL(time.Minute))
	// Made on the VM: a change the mount made itself within a second
	// would take the VM's report of a change of the same path for its echo.
	if err := os.Mkdir(e.vm("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.vm("d/old"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadDir(e.path("d")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(e.path("d/old")); err != nil || string(b) != "v1" {
		t.Fatalf("first read: %q, %v", b, err)
	}
	if err := os.WriteFile(e.vm("d/new"), []byte("made on the VM"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a file made on the VM shows in the listing", func() bool {
		names, err := os.ReadDir(e.path("d"))
		return err == nil && slices.ContainsFunc(names, func(d fs.DirEntry) bool { return d.Name() == "new" })
	})
	if err := os.WriteFile(e.vm("d/old"), []byte("version 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a file rewritten on the VM reads anew", func() bool {
		b, err := os.ReadFile(e.path("d/old"))
		return err == nil && string(b) == "version 2"
	})
	if err := os.Remove(e.vm("d/new")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a file removed on the VM is gone", func() bool {
		_, err := os.Stat(e.path("d/new"))
		return os.IsNotExist(err)
	})
}

// TestStatusShowsMetadataPath mounts with the arkerfs command and
// --agent, which starts its agent on the VM by itself, and checks that arkerfs status
// lists the mount with the path its metadata takes: first the agent,
// then, with the ingress denied and the agent given up, runs.
func TestStatusShowsMetadataPath(t *testing.T) {
	c := newCLIEnv(t)
	if r := c.run(c.apiEnv(), "mount", "--agent", "local", c.mnt); r.code != 0 {
		t.Fatalf("mount: exit %d\nstdout: %s\nstderr: %s\nlog: %s", r.code, r.stdout, r.stderr, c.logs())
	}
	line := c.statusLine
	eventuallyWhy(t, 60*time.Second, "status shows the agent", func() (bool, string) {
		l := line()
		return strings.Contains(l, "metadata through the agent at "), l + "\nlog: " + c.logs()
	})
	c.emu.SetDenyIngress(true)
	if err := os.WriteFile(filepath.Join(c.vmHome, "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.mnt, "new")); err != nil { // unknown to the mount: asks, fails over to runs
		t.Fatalf("stat with the agent unreachable: %v\nlog: %s", err, c.logs())
	}
	eventuallyWhy(t, 30*time.Second, "status shows runs", func() (bool, string) {
		l := line()
		return strings.HasSuffix(l, "metadata through runs"), l
	})
	if r := c.run(nil, "unmount", c.mnt); r.code != 0 {
		t.Fatalf("unmount: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestUnmountEndsAgentMount: a mount started with the arkerfs command
// writes its file (id and secret) in the agent's directory on the VM, and
// its unmount tells the agent, which removes it.
func TestUnmountEndsAgentMount(t *testing.T) {
	c := newCLIEnv(t)
	if r := c.run(c.apiEnv(), "mount", "local", c.mnt); r.code != 0 {
		t.Fatalf("mount: exit %d\nstdout: %s\nstderr: %s\nlog: %s", r.code, r.stdout, r.stderr, c.logs())
	}
	mounts := filepath.Join(c.vmHome, ".cache/arkerfs/agent/mounts")
	files := func() []string {
		names, _ := filepath.Glob(filepath.Join(mounts, "*"))
		return names
	}
	eventuallyWhy(t, 60*time.Second, "status shows the agent", func() (bool, string) {
		l := c.statusLine()
		return strings.Contains(l, "metadata through the agent at "), l + "\nlog: " + c.logs()
	})
	if n := len(files()); n != 1 {
		t.Fatalf("%d mount files on the VM with one mount: %v", n, files())
	}
	if r := c.run(nil, "unmount", c.mnt); r.code != 0 {
		t.Fatalf("unmount: %d %s %s", r.code, r.stdout, r.stderr)
	}
	eventuallyWhy(t, 30*time.Second, "the mount's file is removed", func() (bool, string) {
		return len(files()) == 0, fmt.Sprintf("%v\nlog: %s", files(), c.logs())
	})
}

// statusLine is this mount's line in arkerfs status ("" when it has none):
// as root, status lists the mounts of every test that runs meanwhile.
func (c *cliEnv) statusLine() string {
	r := c.run(c.apiEnv(), "status", "local")
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, c.mnt+" (pid ") {
			return l
		}
	}
	return ""
}
