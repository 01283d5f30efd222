package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/emulator"
)

// TestBackgroundMountAndUnmount mounts with the real binary as a user
// would: the command returns once the mount answers, the server runs on
// in a session of its own and logs to the cache directory, and
// `arkerfs unmount` returns once the server has sent what was pending and
// exited. The API key is in no line of the log, debug lines included.
func TestBackgroundMountAndUnmount(t *testing.T) {
	c := newCLIEnv(t)
	os.WriteFile(filepath.Join(c.vmHome, "hello.txt"), []byte("from the VM\n"), 0o644)

	r := c.run(c.apiEnv(), "mount", "local", c.mnt, "--log-format", "json", "--log-level", "debug")
	if r.code != 0 {
		t.Fatalf("mount: exit %d\nstdout: %s\nstderr: %s\nlog: %s", r.code, r.stdout, r.stderr, c.logs())
	}
	oneLine(t, "mount's output", r.stdout)
	if !strings.Contains(r.stdout, "mounted on "+c.mnt+" in the background") || r.stderr != "" {
		t.Fatalf("mount said %q, stderr %q", r.stdout, r.stderr)
	}
	// The command has exited and the mount answers.
	if !c.mounted() {
		t.Fatalf("mount returned 0 but nothing is mounted; log:\n%s", c.logs())
	}
	if b, err := os.ReadFile(filepath.Join(c.mnt, "hello.txt")); err != nil || string(b) != "from the VM\n" {
		t.Fatalf("reading through the mount: %q %v", b, err)
	}
	pids := c.servers()
	if len(pids) != 1 {
		t.Fatalf("want one server, found %v", pids)
	}
	if sid := sessionOf(t, pids[0]); sid != pids[0] {
		t.Fatalf("the server %d is in session %d, not a session of its own", pids[0], sid)
	}

	// Changes made just before unmount are on the VM when unmount returns.
	if err := os.WriteFile(filepath.Join(c.mnt, "note.txt"), []byte("written through the mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(c.mnt, "newdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(c.mnt, "hello.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = c.run(nil, "unmount", c.mnt)
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("unmount: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if c.mounted() {
		t.Fatal("still mounted after unmount")
	}
	if b, err := os.ReadFile(filepath.Join(c.vmHome, "note.txt")); err != nil || string(b) != "written through the mount\n" {
		t.Fatalf("VM has note.txt %q %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(c.vmHome, "newdir")); err != nil || !st.IsDir() {
		t.Fatalf("VM has no newdir once unmount returned: %v", err)
	}
	if st, err := os.Stat(filepath.Join(c.vmHome, "hello.txt")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("VM's hello.txt: %v %v, want mode 0600 once unmount returned", st.Mode(), err)
	}
	c.noServerLeft("the server exits after unmount")

	// The log: JSON records, the mount's life in it, the key nowhere.
	logText := c.logs()
	if strings.Contains(logText, testToken) {
		t.Fatalf("the API key is in the log:\n%s", logText)
	}
	var msgs []string
	sc := bufio.NewScanner(strings.NewReader(logText))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", sc.Text(), err)
		}
		msgs = append(msgs, rec["msg"].(string))
	}
	joined := strings.Join(msgs, "\n")
	for _, want := range []string{"mounted", "unmounted; sending what is pending", "stopped"} {
		if !contains(msgs, want) {
			t.Errorf("no %q record in the log:\n%s", want, joined)
		}
	}
	if !strings.Contains(joined, "/v1/vms/local") {
		t.Errorf("no request in the debug log:\n%s", joined)
	}
}

// TestBackgroundMountFailsInForeground: a mount that cannot start says why
// in one line and exits 1, leaving neither a mount nor a process.
func TestBackgroundMountFailsInForeground(t *testing.T) {
	c := newCLIEnv(t)
	r := c.run([]string{"ARKER_API_KEY=ark_wrong_key_123", "ARKER_BASE_URL=" + c.url}, "mount", "local", c.mnt)
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("mount with a wrong key: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	oneLine(t, "the refusal", r.stderr)
	if !strings.Contains(r.stderr, "$ARKER_API_KEY") || !strings.Contains(r.stderr, "401") || strings.Contains(r.stderr, "wrong_key") {
		t.Fatalf("refusal: %q", r.stderr)
	}
	if c.mounted() {
		t.Fatal("a failed mount left a mount")
	}
	c.noServerLeft("no server after a failed mount")

	r = c.run(c.apiEnv(), "mount", "local", c.mnt, "--root", "/home/user/missing")
	if r.code != 1 || !strings.Contains(r.stderr, "/home/user/missing does not exist") {
		t.Fatalf("mount of a missing root: exit %d, stderr %q", r.code, r.stderr)
	}
	oneLine(t, "the refusal", r.stderr)
	c.noServerLeft("no server after a failed mount")
}

// sessionOf is the session id of a process (field 6 of /proc/PID/stat).
func sessionOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	sid, err := strconv.Atoi(fields[3]) // state ppid pgrp session
	if err != nil {
		t.Fatalf("stat of %d: %q", pid, s)
	}
	return sid
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestForegroundNotifiesAndDrainsOnStop runs the mount as a systemd unit
// with Type=notify does: -f, NOTIFY_SOCKET set. READY=1 comes once the
// mount answers; SIGTERM (systemctl stop) sends what is pending, unmounts
// and exits 0, with STOPPING=1 on the way.
func TestForegroundNotifiesAndDrainsOnStop(t *testing.T) {
	c := newCLIEnv(t)
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, "mount", "-f", "local", c.mnt)
	cmd.Env = append(append(append([]string(nil), c.env...), c.apiEnv()...), "NOTIFY_SOCKET="+sock)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	notes := make(chan string, 4)
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(notes)
				return
			}
			notes <- string(buf[:n])
		}
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case n := <-notes:
			return n
		case err := <-exited:
			t.Fatalf("waiting for %s: mount exited (%v)\n%s%s", what, err, out.String(), errb.String())
		case <-ctx.Done():
			t.Fatalf("no %s within the bound\n%s%s", what, out.String(), errb.String())
		}
		return ""
	}
	if n := next("READY=1"); !strings.HasPrefix(n, "READY=1") {
		t.Fatalf("first notification %q, want READY=1", n)
	}
	if !c.mounted() {
		t.Fatal("READY=1 before the mount is up")
	}
	if err := os.Mkdir(filepath.Join(c.mnt, "made-before-stop"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if n := next("STOPPING=1"); n != "STOPPING=1" {
		t.Fatalf("notification %q, want STOPPING=1", n)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("mount -f exited with %v after SIGTERM\n%s", err, errb.String())
		}
	case <-ctx.Done():
		t.Fatal("mount -f did not exit after SIGTERM")
	}
	if c.mounted() {
		t.Fatal("still mounted after SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(c.vmHome, "made-before-stop")); err != nil {
		t.Fatalf("the change made before stop is not on the VM: %v", err)
	}
	if !strings.Contains(out.String(), "unmounted "+c.mnt) {
		t.Errorf("stdout: %q", out.String())
	}
}

// TestBackgroundMountRelativePaths: a background server leaves its working
// directory, so a relative mountpoint and cache directory must still
// work: a file written through the mount is staged in that cache and
// reaches the VM.
func TestBackgroundMountRelativePaths(t *testing.T) {
	c := newCLIEnv(t)
	c.dir = filepath.Dir(c.mnt)
	rel := filepath.Base(c.mnt)
	r := c.run(c.apiEnv(), "mount", "--cache-dir", "relcache", "local", rel)
	if r.code != 0 {
		t.Fatalf("mount: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := os.WriteFile(filepath.Join(c.mnt, "staged.txt"), []byte("through a relative cache\n"), 0o644); err != nil {
		t.Fatalf("writing through the mount: %v\nlog: %s", err, readAll(filepath.Join(c.dir, "relcache", "logs")))
	}
	if r := c.run(nil, "unmount", rel); r.code != 0 {
		t.Fatalf("unmount: exit %d %s", r.code, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(c.vmHome, "staged.txt")); err != nil || string(b) != "through a relative cache\n" {
		t.Fatalf("VM has %q %v", b, err)
	}
	if logs := readAll(filepath.Join(c.dir, "relcache", "logs")); !strings.Contains(logs, "msg=mounted") {
		t.Fatalf("no log in the relative cache directory: %q", logs)
	}
	c.noServerLeft("the server exits after unmount")
}

// TestBackgroundMountInterrupted: Ctrl-C while the mount is still coming
// up (here, the VM is slow to answer) ends the server too and leaves
// nothing mounted.
func TestBackgroundMountInterrupted(t *testing.T) {
	c := newCLIEnv(t)
	c.emu.InjectFault(emulator.Fault{Kind: emulator.FaultDelay, Delay: time.Minute, Times: -1})
	defer c.emu.ClearFaults()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, "mount", "local", c.mnt)
	cmd.Env = append(append([]string(nil), c.env...), c.apiEnv()...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the server's first request reaches the VM", func() bool {
		var n int64
		for _, v := range c.emu.Stats().Requests {
			n += v
		}
		return n > 0
	})
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("interrupted mount: %v, stderr %q", err, errb.String())
	}
	oneLine(t, "the interruption", errb.String())
	if c.mounted() {
		t.Fatal("an interrupted mount left a mount")
	}
	c.noServerLeft("no server after an interrupted mount")
}
