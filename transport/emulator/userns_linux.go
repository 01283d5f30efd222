package emulator

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// userNS is a user and mount namespace, prepared once, in which Home is
// mounted on /home/user; runs enter it with nsenter. It needs no
// privilege where unprivileged user namespaces are allowed.
//
// A short-lived holder process makes the namespaces and the mounts; the
// emulator then keeps them alive by holding their /proc/PID/ns files open
// and lets the holder exit. Each run is `nsenter` given those files as
// fds 3 and 4, then the shell: two execs per run, no mount.
type userNS struct {
	user, mnt *os.File
	nsenter   string // path of nsenter
}

// holderScript runs as root of the new namespaces with Home as $1; it
// never splices Home into script text. Home is opened (as fd 3) inside the
// new mount namespace, before a tmpfs may hide it, and bound from there: a
// bind source must belong to the namespace that mounts it.
const holderScript = `fail() { printf '%s\n' "$*" >&2; exit 1; }
out=$(mount --make-rprivate / 2>&1) || fail "making mounts private: $out"
exec 3<"$1" || fail "opening home"
if [ ! -d /home/user ]; then
  out=$(mount -t tmpfs -o mode=0755,size=1m arkerfs-home /home 2>&1) || fail "mounting a tmpfs on /home: $out"
  mkdir /home/user || fail "making /home/user"
fi
out=$(mount --no-canonicalize --rbind /proc/self/fd/3 /home/user 2>&1) || fail "bind-mounting home on /home/user: $out"
exec 3<&-
echo ready
read -r _
`

// userNSAttr clones a process into a new user namespace, where it is root
// (mapped to the emulator's own user), and a new mount namespace.
func userNSAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
	}
}

// prepareUserNS makes the namespaces.
func prepareUserNS(home string) (*userNS, error) {
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return nil, fmt.Errorf("nsenter (util-linux) is needed: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", holderScript, "arkerfs-ns", home)
	cmd.SysProcAttr = userNSAttr()
	cmd.Env = runEnv
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("making a user namespace: %w", err)
	}
	defer cmd.Wait()
	defer stdin.Close() // lets the holder exit
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("unexpected %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-time.After(10 * time.Second):
		err = errors.New("timed out")
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		if errors.Is(err, io.EOF) {
			err = errors.New(strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("preparing the namespace: %w", err)
	}
	ns := &userNS{nsenter: nsenter}
	pid := cmd.Process.Pid
	if ns.user, err = os.Open(fmt.Sprintf("/proc/%d/ns/user", pid)); err != nil {
		return nil, err
	}
	if ns.mnt, err = os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err != nil {
		ns.user.Close()
		return nil, err
	}
	return ns, nil
}

// userNSPrologue runs before the command, in the same shell: it closes the
// namespace files nsenter inherited and enters /home/user (nsenter's --wd
// resolves its directory before entering the namespace, where /home/user
// may not exist).
const userNSPrologue = "exec 3<&- 4<&-; cd /home/user || exit 125\n"

// command makes cmd run command inside the namespaces.
func (ns *userNS) command(cmd *exec.Cmd, command string) {
	cmd.Path = ns.nsenter
	cmd.Args = []string{"nsenter", "--user=/proc/self/fd/3", "--mount=/proc/self/fd/4",
		"--preserve-credentials", "--", "/bin/sh", "-c", userNSPrologue + command}
	cmd.ExtraFiles = []*os.File{ns.user, ns.mnt}
}

func (ns *userNS) close() {
	ns.user.Close()
	ns.mnt.Close()
}
