package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestMountKey(t *testing.T) {
	cases := map[string]string{
		"/":                              "root",
		"/home/me/vm":                    "home_me_vm",
		"/mnt/a b_c%":                    "mnt_a%20b%5Fc%25",
		"/x/" + strings.Repeat("y", 300): "",
	}
	seen := map[string]bool{}
	for in, want := range cases {
		got := mountKey(in)
		if want != "" && got != want {
			t.Errorf("mountKey(%q) = %q, want %q", in, got, want)
		}
		if len(got) > 120 || strings.ContainsAny(got, "/\x00") || seen[got] {
			t.Errorf("mountKey(%q) = %q: not a short, unique file name", in, got)
		}
		seen[got] = true
	}
	if mountKey("/a/b") == mountKey("/a_b") {
		t.Error("/a/b and /a_b share a key")
	}
}

func TestTakeReadyFD(t *testing.T) {
	f, rest, err := takeReadyFD([]string{"--read-only", "vm", "mnt"})
	if f != nil || err != nil || len(rest) != 3 {
		t.Fatalf("no ready fd: %v %v %v", f, rest, err)
	}
	if _, _, err := takeReadyFD([]string{"--ready-fd=x"}); err == nil {
		t.Fatal("--ready-fd=x accepted")
	}
	if _, _, err := takeReadyFD([]string{"--ready-fd=1"}); err == nil {
		t.Fatal("--ready-fd=1 (stdout) accepted")
	}
}

func TestReadyPipe(t *testing.T) {
	for _, c := range []struct {
		do   func(*readyPipe)
		want string
	}{
		{func(p *readyPipe) { p.ready(); p.failed("late") }, "ready\n"},
		{func(p *readyPipe) { p.failed("no VM \"x\":\ncheck the id"); p.ready() }, "error no VM \"x\": check the id\n"},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		c.do(&readyPipe{f: w})
		var b bytes.Buffer
		b.ReadFrom(r)
		r.Close()
		if b.String() != c.want {
			t.Errorf("pipe got %q, want %q", b.String(), c.want)
		}
	}
}

// TestServerLockWait checks that waitServerExit returns once the server
// lets go of its lock, and not before.
func TestServerLockWait(t *testing.T) {
	dir, abs := t.TempDir(), "/mnt/vm"
	lock, err := lockServer(dir, abs, serverState{PID: os.Getpid(), VM: "vm", Log: "/l"})
	if err != nil {
		t.Fatal(err)
	}
	var released atomic.Bool
	done := make(chan bool)
	go func() {
		waitServerExit(dir, abs, os.Stderr)
		done <- released.Load()
	}()
	released.Store(true)
	lock.release()
	select {
	case afterRelease := <-done:
		if !afterRelease {
			t.Fatal("waitServerExit returned while the lock was held")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitServerExit still waiting after release")
	}
	if _, err := os.Stat(filepath.Join(dir, mountKey(abs)+".lock")); !os.IsNotExist(err) {
		t.Fatalf("lock file left: %v", err)
	}
	waitServerExit(dir, "/not/mounted", os.Stderr) // no lock file: returns at once
}

// TestServerLockReplaced checks that a server that lets go of its lock
// after another took the same mountpoint leaves the other's file alone.
func TestServerLockReplaced(t *testing.T) {
	dir, abs := t.TempDir(), "/mnt/x"
	old, err := lockServer(dir, abs, serverState{PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := lockServer(dir, abs, serverState{PID: 2})
	if err != nil {
		t.Fatal(err)
	}
	old.release()
	b, err := os.ReadFile(filepath.Join(dir, mountKey(abs)+".lock"))
	if err != nil || !strings.Contains(string(b), `"pid":2`) {
		t.Fatalf("the newer server's lock file: %q %v", b, err)
	}
	cur.release()
}

func TestSDNotify(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
	socks := []string{filepath.Join(t.TempDir(), "notify")}
	if runtime.GOOS == "linux" { // systemd's abstract form, "@name"
		socks = append(socks, fmt.Sprintf("@arkerfs-test-notify-%d", os.Getpid()))
	}
	for _, sock := range socks {
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("NOTIFY_SOCKET", sock)
		if err := sdNotify("READY=1\nSTATUS=up"); err != nil {
			t.Fatalf("%s: %v", sock, err)
		}
		buf := make([]byte, 128)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		conn.Close()
		if err != nil || string(buf[:n]) != "READY=1\nSTATUS=up" {
			t.Fatalf("%s: systemd got %q %v", sock, buf[:n], err)
		}
	}
}

func TestFuseOptions(t *testing.T) {
	cases := []struct {
		x          mountExtras
		goos       string
		allowOther bool
		want       []string
	}{
		{mountExtras{}, "linux", false, []string{"nosuid", "nodev"}},
		{mountExtras{noexec: true}, "linux", true, []string{"nosuid", "nodev", "noexec", "default_permissions"}},
		{mountExtras{}, "darwin", false, []string{"nosuid", "nodev", "volname=arkerfs vm1", "noappledouble", "noapplexattr"}},
		{mountExtras{volname: "Work", appleDouble: true}, "darwin", true, []string{"nosuid", "nodev", "default_permissions", "volname=Work"}},
	}
	for _, c := range cases {
		if got := c.x.fuseOptions(c.goos, "vm1", c.allowOther); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v on %s: %q, want %q", c.x, c.goos, got, c.want)
		}
	}
}
