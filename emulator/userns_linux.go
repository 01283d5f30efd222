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

// userNS is a user and mount namespace, prepared once, in which every
// mapping is bind-mounted at its VM path; runs enter it with nsenter. It
// needs no privilege where unprivileged user namespaces are allowed.
//
// A short-lived holder process makes the namespaces and the mounts; the
// emulator then keeps them alive by holding their /proc/PID/ns files open
// and lets the holder exit. Each run is `nsenter` given those files as
// fds 3 and 4, then the shell: two execs per run, no mount.
type userNS struct {
	user, mnt *os.File
	nsenter   string // path of nsenter
}

// maxUserNSMappings is how many mappings the holder script can open: one
// shell fd each, 3 to 9.
const maxUserNSMappings = 7

// holderScript is the script of the holder, run as root of the new
// namespaces. Paths are never spliced into its text: its arguments are the
// host directories, then the paths of the steps, in order. Each host
// directory is opened (fd 3 and up) inside the new mount namespace before
// anything is mounted: a bind source must belong to the namespace that
// mounts it, and a mount must not hide a source.
func holderScript(nHosts int, steps []mountStep) string {
	var b strings.Builder
	b.WriteString("fail() { printf '%s\\n' \"$*\" >&2; exit 1; }\n")
	b.WriteString("out=$(mount --make-rprivate / 2>&1) || fail \"making mounts private: $out\"\n")
	for i := range nHosts {
		fmt.Fprintf(&b, "exec %d<\"${%d}\" || fail \"opening ${%d}\"\n", 3+i, 1+i, 1+i)
	}
	for i, st := range steps {
		arg := fmt.Sprintf("${%d}", 1+nHosts+i)
		switch st.kind {
		case mountTmpfs:
			fmt.Fprintf(&b, "out=$(mount -t tmpfs -o mode=0755,size=1m arker-emulator \"%s\" 2>&1) || fail \"mounting a tmpfs on %s: $out\"\n", arg, arg)
		case mountMkdir:
			fmt.Fprintf(&b, "mkdir \"%s\" || fail \"making %s\"\n", arg, arg)
		case mountBind:
			fmt.Fprintf(&b, "out=$(mount --no-canonicalize --rbind /proc/self/fd/%d \"%s\" 2>&1) || fail \"bind-mounting on %s: $out\"\n", 3+st.src, arg, arg)
		}
	}
	for i := range nHosts {
		fmt.Fprintf(&b, "exec %d<&-\n", 3+i)
	}
	b.WriteString("echo ready\nread -r _\n")
	return b.String()
}

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

// prepareUserNS makes the namespaces: hosts are the mappings'
// directories, steps the plan that shows them.
func prepareUserNS(hosts []string, steps []mountStep) (*userNS, error) {
	if len(hosts) > maxUserNSMappings {
		return nil, fmt.Errorf("at most %d mappings can be shown in a user namespace", maxUserNSMappings)
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return nil, fmt.Errorf("nsenter (util-linux) is needed: %w", err)
	}
	args := []string{"-c", holderScript(len(hosts), steps), "arker-emulator-ns"}
	args = append(args, hosts...)
	for _, st := range steps {
		args = append(args, st.path)
	}
	cmd := exec.Command("/bin/sh", args...)
	cmd.SysProcAttr = userNSAttr()
	cmd.Env = runEnv(HomeDir, nil)
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
// namespace files nsenter inherited and enters the working directory
// (nsenter's --wd resolves its directory before entering the namespace,
// where it may not exist).
func userNSPrologue(cwd string) string {
	return "exec 3<&- 4<&-; cd -- " + shellQuote(cwd) + " || exit 125\n"
}

// shellQuote quotes s for sh: single quotes, ' as '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// command makes cmd run command inside the namespaces, in cwd.
func (ns *userNS) command(cmd *exec.Cmd, command, cwd string) {
	cmd.Path = ns.nsenter
	cmd.Args = []string{"nsenter", "--user=/proc/self/fd/3", "--mount=/proc/self/fd/4",
		"--preserve-credentials", "--", "/bin/sh", "-c", userNSPrologue(cwd) + command}
	cmd.ExtraFiles = []*os.File{ns.user, ns.mnt}
}

func (ns *userNS) close() {
	ns.user.Close()
	ns.mnt.Close()
}
