package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A background mount is the same binary run again: `arkerfs mount
// --ready-fd=3 ARGS...`, in a session of its own, its output going to the
// log file. It mounts and serves exactly as in the foreground, and tells
// the command that started it how that went through a pipe (the fd that
// --ready-fd names): one line, "ready" once the mount is up, or "error REASON". The command then
// checks that the mount answers, prints one line and exits: 0 when
// mounted; 1 with the reason when not, after making sure that neither a
// process nor a mount is left behind.
//
// Each serving process, foreground or background, holds a lock file in
// the runtime directory named after its mountpoint, with its pid and log
// path. `arkerfs unmount` unmounts, then waits on that lock: the server
// lets go of it when it has sent what was pending and is about to exit.

// readyFlag is the hidden first argument of a background server.
const readyFlag = "--ready-fd="

// Bounds on a background mount's start and an unmount's drain.
const (
	startSlack   = 60 * time.Second // beyond the request timeout, for the mount to come up
	drainTimeout = 5 * time.Minute  // for a server to finish after unmount
)

// takeReadyFD takes the hidden ready-fd argument from the front of args,
// returning the pipe it names (nil when absent) and the other arguments.
func takeReadyFD(args []string) (*os.File, []string, error) {
	if len(args) == 0 || !strings.HasPrefix(args[0], readyFlag) {
		return nil, args, nil
	}
	fd, err := strconv.Atoi(strings.TrimPrefix(args[0], readyFlag))
	if err != nil || fd < 3 {
		return nil, nil, fmt.Errorf("bad %s%s", readyFlag, strings.TrimPrefix(args[0], readyFlag))
	}
	return os.NewFile(uintptr(fd), "ready"), args[1:], nil
}

// mountBackground starts the server of a background mount of vm on mnt,
// with the mount flags args, and waits until it is up or has failed.
// The quick local checks run here first, so that their failures need no
// second process.
func mountBackground(args []string, vm, mnt string, m *mountFlags, stdout, stderr io.Writer) int {
	if err := checkMountpoint(mnt, stderr); err != nil {
		return fail(stderr, "%v", err)
	}
	if _, _, err := m.api.resolve(vm); err != nil {
		return fail(stderr, "%v", err)
	}
	abs, err := filepath.Abs(mnt)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	logPath := m.api.log.file
	if logPath == "" {
		logPath = logFileFor(m.cacheDir, vm, abs)
	}
	logPath, _ = filepath.Abs(logPath)
	logFile, err := openLogFile(logPath)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer logFile.Close()
	exe, err := os.Executable()
	if err != nil {
		return fail(stderr, "cannot find the arkerfs binary to start: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer r.Close()
	// The server gets the pipe, and, for a mount mount.fuse3 made
	// (/dev/fd/N), that FUSE connection at the same number N.
	var files []*os.File
	if n, ok := fuseFD(mnt); ok {
		files = make([]*os.File, n-3+1)
		files[n-3] = os.NewFile(uintptr(n), mnt)
	}
	files = append(files, w)
	childArgs := append([]string{"mount", readyFlag + strconv.Itoa(2+len(files)), "--log-file", logPath}, args...)
	cmd := exec.Command(exe, childArgs...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fail(stderr, "starting the mount server: %v", err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Wait for its word, its end, or the user giving up (Ctrl-C): in
	// every case but "ready", nothing may stay behind.
	type word struct {
		line string
		err  error
	}
	heard := make(chan word, 1)
	go func() {
		_ = r.SetReadDeadline(time.Now().Add(m.api.timeout + startSlack))
		line, err := bufio.NewReader(r).ReadString('\n')
		heard <- word{strings.TrimSpace(line), err}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	var said word
	select {
	case said = <-heard:
	case s := <-sig:
		stopChild(cmd, exited, abs)
		return fail(stderr, "mount of %s stopped (%v); nothing is left mounted", mnt, s)
	}
	if said.line == "ready" {
		if err := answers(abs); err != nil {
			stopChild(cmd, exited, abs)
			return fail(stderr, "%s was mounted but does not answer (%v); see %s", mnt, err, logPath)
		}
		_ = cmd.Process.Release()
		fmt.Fprintf(stdout, "arkerfs: VM %s %s mounted on %s in the background (log: %s; 'arkerfs unmount %s' to stop)\n",
			vm, m.root, mnt, logPath, mnt)
		return 0
	}
	reason, isErr := strings.CutPrefix(said.line, "error ")
	switch {
	case isErr:
	case errors.Is(said.err, os.ErrDeadlineExceeded):
		reason = fmt.Sprintf("the mount did not come up within %v; see %s", m.api.timeout+startSlack, logPath)
	default:
		reason = fmt.Sprintf("the mount server stopped before mounting; see %s", logPath)
	}
	stopChild(cmd, exited, abs)
	return fail(stderr, "%s", reason)
}

// stopChild ends a server that did not come up and removes whatever
// mount it made.
func stopChild(cmd *exec.Cmd, exited <-chan error, abs string) {
	select {
	case <-exited:
	default:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	if _, ok := fuseFD(abs); ok {
		return // mount.fuse3's mount: it is not ours to remove
	}
	if mounted, _ := isMountpoint(abs); mounted {
		_ = forceUnmount(abs)
	}
}

// absolute makes the paths a background server uses after it has left
// its working directory absolute: the mountpoint, returned, and the
// cache directory.
func (m *mountFlags) absolute(mnt string) (string, error) {
	dir, err := filepath.Abs(m.cacheDir)
	if err != nil {
		return "", err
	}
	m.cacheDir = dir
	return filepath.Abs(mnt)
}

// answers checks that the mount at abs is there and serves a stat. A
// mount mount.fuse3 made has no path here to check.
func answers(abs string) error {
	if _, ok := fuseFD(abs); ok {
		return nil
	}
	if _, err := os.Stat(abs); err != nil {
		return err
	}
	if mounted, err := isMountpoint(abs); err != nil || !mounted {
		return fmt.Errorf("not in the mount table (%v)", err)
	}
	return nil
}

// fuseFD reports whether mnt is /dev/fd/N, the FUSE connection that
// mount.fuse3 opened and mounted itself (its drop_privileges option), and
// N. Such a mount has no mountpoint to check, prepare or lock.
func fuseFD(mnt string) (int, bool) {
	s, ok := strings.CutPrefix(mnt, "/dev/fd/")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 3
}

// checkMountpoint checks that FUSE is there and mnt can take a mount
// (mountpoint.go), unless mount.fuse3 has mounted already.
func checkMountpoint(mnt string, notices io.Writer) error {
	if _, ok := fuseFD(mnt); ok {
		return nil
	}
	if err := checkFUSE(); err != nil {
		return err
	}
	return prepareMountpoint(mnt, notices)
}

// readyPipe is the background server's end of the pipe to the command
// that started it.
type readyPipe struct{ f *os.File }

// ready says the mount is up and closes the pipe.
func (p *readyPipe) ready() {
	if p != nil && p.f != nil {
		fmt.Fprintln(p.f, "ready")
		p.f.Close()
		p.f = nil
	}
}

// failed sends the one-line reason the mount could not start.
func (p *readyPipe) failed(reason string) {
	if p != nil && p.f != nil {
		fmt.Fprintln(p.f, "error "+strings.ReplaceAll(reason, "\n", " "))
		p.f.Close()
		p.f = nil
	}
}

// logFileFor is the log file of a background mount of vm on the absolute
// mountpoint abs, in the cache directory.
func logFileFor(cacheDir, vm, abs string) string {
	return filepath.Join(cacheDir, "logs", safeName(vm)+"@"+mountKey(abs)+".log")
}

// mountKey turns an absolute mountpoint into one file name: '/' becomes
// '_', other bytes outside [A-Za-z0-9.-] are %-escaped; a long name is
// cut and keeps a hash of the whole.
func mountKey(abs string) string {
	var b strings.Builder
	for i := 0; i < len(abs); i++ {
		c := abs[i]
		switch {
		case c == '/':
			if i > 0 {
				b.WriteByte('_')
			}
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	if s == "" {
		s = "root"
	}
	if len(s) > 120 {
		sum := sha256.Sum256([]byte(abs))
		s = s[:100] + "-" + hex.EncodeToString(sum[:8])
	}
	return s
}

// runtimeDir is where servers keep their lock files: /run/arkerfs for
// root (/var/run/arkerfs where there is no /run), whatever its
// environment (mount(8) and sudo clear it); for other users
// $XDG_RUNTIME_DIR/arkerfs, which their sessions and services share,
// else /run/user/UID/arkerfs, else a directory of theirs in the
// temporary directory.
func runtimeDir() string {
	uid := os.Getuid()
	if uid == 0 {
		if isDir("/run") {
			return "/run/arkerfs"
		}
		return "/var/run/arkerfs"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "arkerfs")
	}
	if d := fmt.Sprintf("/run/user/%d", uid); isDir(d) {
		return filepath.Join(d, "arkerfs")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("arkerfs-%d", uid))
}

// ownedByMe reports whether fi belongs to this process's user.
func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// serverState is what a serving process writes in its lock file.
type serverState struct {
	PID int    `json:"pid"`
	VM  string `json:"vm"`
	Log string `json:"log,omitempty"`
	// Mountpoint is the mount's absolute path; Metadata says which path
	// its metadata takes now ("runs", or the agent's description).
	Mountpoint string `json:"mountpoint,omitempty"`
	Metadata   string `json:"metadata,omitempty"`
}

// serverLock is a serving process's lock file, held until it exits.
type serverLock struct {
	path string
	f    *os.File
	mu   sync.Mutex  // protects st and the file's content
	st   serverState // what the file says
}

// setMetadata rewrites the lock file with the path metadata takes now.
func (l *serverLock) setMetadata(path string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.Metadata == path {
		return
	}
	l.st.Metadata = path
	b, _ := json.Marshal(l.st)
	if err := l.f.Truncate(0); err == nil {
		_, _ = l.f.WriteAt(append(b, '\n'), 0)
	}
}

// readServerStates returns the states in the lock files of dir
// (runtimeDir) whose servers still hold their lock.
func readServerStates(dir string) []serverState {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.lock"))
	var out []serverState
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		var st serverState
		err = json.NewDecoder(io.LimitReader(f, 4096)).Decode(&st)
		held := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) != nil
		f.Close()
		if err == nil && held {
			out = append(out, st)
		}
	}
	return out
}

// lockServer takes the lock file of the mount at abs in dir (runtimeDir).
// A failure only means unmount will not wait for this server; the mount
// goes on.
func lockServer(dir, abs string, st serverState) (*serverLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || !ownedByMe(fi) {
		return nil, fmt.Errorf("runtime directory %s is not a directory of this user's", dir)
	}
	// A fresh file renamed into place: a server still draining after a
	// lazy unmount of the same mountpoint keeps its own.
	f, err := os.CreateTemp(dir, ".lock-*")
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	b, _ := json.Marshal(st)
	_, _ = f.Write(append(b, '\n'))
	path := filepath.Join(dir, mountKey(abs)+".lock")
	if err := os.Rename(f.Name(), path); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &serverLock{path: path, f: f, st: st}, nil
}

// release removes the lock file, unless another server has put its own
// in its place, and lets go of the lock: whoever waits on it learns that
// the server is done.
func (l *serverLock) release() {
	if l == nil {
		return
	}
	mine, err1 := l.f.Stat()
	there, err2 := os.Stat(l.path)
	if err1 == nil && err2 == nil && os.SameFile(mine, there) {
		_ = os.Remove(l.path)
	}
	_ = l.f.Close()
}

// waitServerExit waits, after an unmount of abs, until the process that
// served it has sent what was pending and let go of its lock in dir
// (runtimeDir). A mount with no lock file (a server from before, or one
// that could not write it) is not waited for.
func waitServerExit(dir, abs string, stderr io.Writer) {
	path := filepath.Join(dir, mountKey(abs)+".lock")
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var st serverState
	_ = json.NewDecoder(io.LimitReader(f, 4096)).Decode(&st)
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_SH) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		where := ""
		if st.Log != "" {
			where = "; see " + st.Log
		}
		fmt.Fprintf(stderr, "arkerfs: unmounted, but the server (pid %d) is still sending pending changes after %v%s\n", st.PID, drainTimeout, where)
	}
}

// sdNotify sends state to systemd when it runs arkerfs as a Type=notify
// service (NOTIFY_SOCKET is set); otherwise it does nothing.
func sdNotify(state string) error {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return nil
	}
	// An abstract socket is "@name"; package net knows that form.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}
