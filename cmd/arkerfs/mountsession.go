package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// mountSession is what a serving mount process reports through: its log,
// and the ends of its life (failed to start, mounted, stopping,
// unmounted), which go to the terminal in the foreground, to the command
// that started it in the background (the ready pipe), and to systemd
// when it asks (NOTIFY_SOCKET).
type mountSession struct {
	log        *slog.Logger
	logFile    *os.File   // a --log-file of a foreground mount
	logPath    string     // the log file, if any
	mountpoint string     // absolute, once mounted
	ready      *readyPipe // background only
	background bool
	logOnTerm  bool // the log goes to stderr, next to the one-line messages
	stdout     io.Writer
	stderr     io.Writer
	lock       *serverLock
}

// newMountSession sets up the log of a mount process: a --log-file, else
// stderr (in the background, stderr is the log file). key is cut out of
// every line. On error the session can still report the failure.
func newMountSession(m *mountFlags, readyFile *os.File, key string, stdout, stderr io.Writer) (*mountSession, error) {
	s := &mountSession{stdout: stdout, stderr: stderr}
	if readyFile != nil {
		s.ready, s.background = &readyPipe{f: readyFile}, true
	}
	w := stderr
	if m.api.log.file != "" {
		s.logPath, _ = filepath.Abs(m.api.log.file)
	}
	if m.api.log.file != "" && !s.background {
		f, err := openLogFile(m.api.log.file)
		if err != nil {
			return s, err
		}
		s.logFile, w = f, f
	}
	s.logOnTerm = w == stderr && !s.background
	log, err := m.api.log.logger(w, m.api.debug, key)
	if err != nil {
		return s, err
	}
	s.log = log
	return s, nil
}

// notices is a writer for the "arkerfs: ..." lines of code shared with
// other commands; each line becomes a warning in the log.
func (s *mountSession) notices() io.Writer {
	return lineLogger{log: s.log, level: slog.LevelWarn}
}

// fail reports that the mount could not start, in one line, and returns
// the exit code.
func (s *mountSession) fail(err error) int {
	line := err.Error()
	if s.log != nil && !s.logOnTerm {
		s.log.Error("mount failed", "reason", line)
	}
	if s.background {
		s.ready.failed(line)
		if s.log == nil {
			fmt.Fprintf(s.stderr, "arkerfs: %s\n", line)
		}
		return 1
	}
	return fail(s.stderr, "%s", line)
}

// mounted reports the mount up and answering.
func (s *mountSession) mounted(vm, root, mnt string) {
	abs, _ := filepath.Abs(mnt)
	s.mountpoint = abs
	if _, ok := fuseFD(abs); !ok {
		lock, err := lockServer(runtimeDir(), abs, serverState{PID: os.Getpid(), VM: vm, Log: s.logPath, Mountpoint: abs, Metadata: "runs"})
		if err != nil {
			s.log.Warn("'arkerfs unmount' will not wait for this server to finish", "reason", err.Error())
		}
		s.lock = lock
	}
	s.lifecycle("mounted", "vm", vm, "root", root, "mountpoint", abs, "pid", os.Getpid())
	if s.background {
		s.ready.ready()
		// A daemon holds no directory busy.
		_ = os.Chdir("/")
		return
	}
	fmt.Fprintf(s.stdout, "arkerfs: VM %s %s mounted on %s (Ctrl-C or 'arkerfs unmount %s' to stop)\n", vm, root, mnt, mnt)
	if err := sdNotify("READY=1\nSTATUS=VM " + vm + " mounted on " + abs); err != nil {
		s.log.Warn("could not tell systemd the mount is ready", "reason", err.Error())
	}
}

// stopping reports that the mount is gone and what is pending is being
// sent.
func (s *mountSession) stopping() {
	_ = sdNotify("STOPPING=1")
	s.lifecycle("unmounted; sending what is pending", "mountpoint", s.mountpoint)
}

// unmounted reports the end of the session.
func (s *mountSession) unmounted(mnt string) {
	s.lifecycle("stopped", "mountpoint", s.mountpoint)
	if !s.background {
		fmt.Fprintf(s.stdout, "arkerfs: unmounted %s\n", mnt)
	}
}

// lifecycle logs a step of the mount's life, unless the log is the
// terminal, where the one-line messages already say it.
func (s *mountSession) lifecycle(msg string, args ...any) {
	if !s.logOnTerm {
		s.log.Info(msg, args...)
	}
}

// close lets go of the lock (unmount stops waiting) and the log file.
func (s *mountSession) close() {
	s.lock.release()
	if s.logFile != nil {
		s.logFile.Close()
	}
}
