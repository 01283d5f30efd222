package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// otherUID is the local user the ownership tests act as (nobody).
const otherUID = 65534

// asOther runs a shell script as otherUID in the mount and returns its
// output and exit status.
func (e *env) asOther(script string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", `cd "$1" && shift && eval "$1"`, "sh", e.mnt, script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// TestOwnershipOtherUsers checks the ownership model with allow_other
// (docs/SEMANTICS.md, "Ownership and other local users"): every file
// appears owned by the mounting user, the kernel enforces the modes
// shown for everyone else (default_permissions), and a file another
// local user creates belongs to the mounting user like every other.
func TestOwnershipOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the ownership test must run as root in CI (it switches users)")
		}
		t.Skip("needs root to act as another user")
	}
	e := newEnv(t, withAllowOther())
	for rel, mode := range map[string]os.FileMode{"secret": 0o600, "public": 0o644} {
		if err := os.WriteFile(e.vm(rel), []byte(rel+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(e.vm(rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(e.vm("shared"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.vm("shared"), 0o777); err != nil {
		t.Fatal(err)
	}

	must := func(script, want string) {
		t.Helper()
		out, err := e.asOther(script)
		if err != nil || out != want {
			t.Errorf("as uid %d, %q: %q %v; want %q", otherUID, script, out, err, want)
		}
	}
	refusedWith := func(script, why string) {
		t.Helper()
		out, err := e.asOther(script)
		if err == nil || !strings.Contains(out, why) {
			t.Errorf("as uid %d, %q: %q %v; want %s", otherUID, script, out, err, why)
		}
	}
	refused := func(script string) { t.Helper(); refusedWith(script, "Permission denied") }
	refused("cat secret")
	must("cat public", "public")
	refused("echo x >> public")
	refused("touch new-in-home")                               // the home is 0755: others may not add names
	refusedWith("chmod 666 public", "Operation not permitted") // only the owner may change a mode

	// A file made by another user: created, written through the
	// descriptor that created it, owned by the mounting user from then on.
	must("umask 022; echo mine > shared/mine && cat shared/mine", "mine")
	uid := strconv.Itoa(os.Getuid())
	must("stat -c %u shared/mine", uid)
	refused("echo more >> shared/mine")
	if got := string(e.vmRead("shared/mine")); got != "mine\n" {
		t.Errorf("the VM holds %q", got)
	}
	// The mounting user (root here, as in CI) is not limited by modes.
	if b, err := os.ReadFile(e.path("secret")); err != nil || string(b) != "secret\n" {
		t.Errorf("the mounting user reads %q %v", b, err)
	}
}
