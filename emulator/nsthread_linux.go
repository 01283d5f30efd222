package emulator

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// nsThread is an OS thread of this process that lives in a private mount
// namespace where every mapping is bind-mounted at its VM path. Commands
// started from it inherit that namespace, so a run costs one fork and
// exec, with no setup process. Making it needs CAP_SYS_ADMIN (root).
//
// The thread is locked to its goroutine and never unlocked: when the
// goroutine returns, the Go runtime ends the thread instead of reusing a
// thread whose namespace differs from the rest of the process. New runtime
// threads are not cloned from a locked thread, so nothing else inherits
// the namespace.
type nsThread struct {
	spawn chan spawnReq
	stop  chan struct{} // closed to end the thread
	done  chan struct{} // closed when the thread ended
}

type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

var errNSThreadStopped = errors.New("namespace thread stopped")

// startNSThread makes the thread and its namespace: hosts are the
// mappings' directories, steps the plan that shows them.
func startNSThread(hosts []string, steps []mountStep) (*nsThread, error) {
	t := &nsThread{spawn: make(chan spawnReq), stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan error, 1)
	go t.loop(hosts, steps, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return t, nil
}

func (t *nsThread) loop(hosts []string, steps []mountStep, ready chan<- error) {
	defer close(t.done)
	runtime.LockOSThread() // never unlocked: see nsThread
	if err := enterPrivateMounts(hosts, steps); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for {
		select {
		case req := <-t.spawn:
			req.reply <- req.cmd.Start()
		case <-t.stop:
			return
		}
	}
}

// start starts cmd from inside the namespace.
func (t *nsThread) start(cmd *exec.Cmd) error {
	reply := make(chan error, 1)
	select {
	case t.spawn <- spawnReq{cmd, reply}:
		return <-reply
	case <-t.done:
		return errNSThreadStopped
	}
}

// close ends the thread; commands it started keep running.
func (t *nsThread) close() {
	close(t.stop)
	<-t.done
}

// enterPrivateMounts moves the calling thread into a new mount namespace
// whose mounts do not propagate back, and carries out steps in it. Every
// host directory is opened first, so that a mount cannot hide it.
func enterPrivateMounts(hosts []string, steps []mountStep) error {
	if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
	}
	if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	detachFUSEMounts()
	fds := make([]int, len(hosts))
	for i, h := range hosts {
		fd, err := unix.Open(h, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening %s: %w", h, err)
		}
		defer unix.Close(fd)
		fds[i] = fd
	}
	for _, st := range steps {
		switch st.kind {
		case mountTmpfs:
			if err := unix.Mount("arker-emulator", st.path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
				return fmt.Errorf("mounting a tmpfs on %s: %w", st.path, err)
			}
		case mountMkdir:
			if err := unix.Mkdir(st.path, 0o755); err != nil {
				return fmt.Errorf("making %s: %w", st.path, err)
			}
		case mountBind:
			src := fmt.Sprintf("/proc/self/fd/%d", fds[st.src])
			if err := unix.Mount(src, st.path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind-mounting %s on %s: %w", hosts[st.src], st.path, err)
			}
		}
	}
	return unix.Chdir("/")
}

// detachFUSEMounts drops, inside the new namespace, the copies of FUSE
// mounts it inherited. A copy would keep a FUSE connection alive after
// its server unmounted it in the original namespace, so that the server
// (an arkerfs mount of this very emulator, say) would never see its end.
func detachFUSEMounts() {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if !ok || len(fields) < 5 || !strings.HasPrefix(post, "fuse") {
			continue
		}
		points = append(points, unescapeOctal(fields[4]))
	}
	// Deepest first, so that nested mounts go before their parents.
	for i := len(points) - 1; i >= 0; i-- {
		_ = unix.Unmount(points[i], unix.MNT_DETACH)
	}
}

// unescapeOctal undoes mountinfo's \ooo escapes (space, tab, newline, \\).
func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
