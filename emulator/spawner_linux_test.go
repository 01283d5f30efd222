package emulator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/arker-ai/arkerfs/wire"
)

// spawnerParentEnv makes TestHelperSpawnerParent act.
const spawnerParentEnv = "ARKER_EMULATOR_TEST_SPAWNER_PARENT"

// TestHelperSpawnerParent is not a test: TestSpawnerEndsWithItsParent runs
// this binary with it, as the parent it kills. It starts a spawner, prints
// its pid and waits.
func TestHelperSpawnerParent(t *testing.T) {
	if os.Getenv(spawnerParentEnv) == "" {
		t.Skip("the parent process of TestSpawnerEndsWithItsParent")
	}
	sp, err := startSpawner()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(sp.proc.Process.Pid)
	select {}
}

// gone reports whether process pid has ended (or is a zombie nobody
// reaped).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(after, "Z") || strings.HasPrefix(after, "X")
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return string(bytes.TrimRight(b, "\x00"))
}

// TestRunsAreForkedByTheSpawner: in a program that opted in (this test
// binary), a run's parent is the spawner, not the emulator's process;
// without it, the emulator's process.
func TestRunsAreForkedByTheSpawner(t *testing.T) {
	requireRun(t)
	for _, inProcess := range []bool{false, true} {
		t.Run("inprocess="+strconv.FormatBool(inProcess), func(t *testing.T) {
			e := newEnv(t, wire.LineageA)
			e.s.runs.inProcess = inProcess
			e.s.runs.stopSandbox()
			r := e.run(map[string]any{"command": "echo $PPID"}, nil)
			ppid, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
			if r.State != wire.RunCompleted || err != nil {
				t.Fatalf("run: %+v", r)
			}
			if inProcess {
				if ppid != os.Getpid() {
					t.Fatalf("parent %d (%q), want this process, %d", ppid, cmdline(ppid), os.Getpid())
				}
				return
			}
			if ppid == os.Getpid() || cmdline(ppid) != spawnerArgv0 {
				t.Fatalf("parent %d (%q), want the spawner", ppid, cmdline(ppid))
			}
		})
	}
}

// TestSpawnerEndsWithItsParent: a spawner does not outlive the process
// that started it, even one killed outright.
func TestSpawnerEndsWithItsParent(t *testing.T) {
	requireRun(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSpawnerParent$")
	cmd.Env = append(os.Environ(), spawnerParentEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var pid int
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() { // the pid, maybe after the test's own lines
		pid, _ = strconv.Atoi(strings.TrimSpace(sc.Text()))
	}
	if pid == 0 {
		t.Fatalf("the parent printed no pid: %v", sc.Err())
	}
	if gone(pid) || cmdline(pid) != spawnerArgv0 {
		t.Fatalf("spawner %d: %q", pid, cmdline(pid))
	}
	cmd.Process.Kill()
	eventually(t, 5*time.Second, "the spawner ends", func() bool { return gone(pid) })
}

// TestSpawnerEndsWhenClosed: closing the link ends the spawner, cleanly.
func TestSpawnerEndsWhenClosed(t *testing.T) {
	requireRun(t)
	sp, err := startSpawner()
	if err != nil {
		t.Fatal(err)
	}
	sp.close()
	if ps := sp.proc.ProcessState; ps == nil || !ps.Success() {
		t.Fatalf("spawner ended with %v", ps)
	}
	if _, err := sp.makeNS(nil, nil, false); err == nil {
		t.Fatal("a closed spawner made a namespace")
	}
}

// TestRunFailsWhenTheSpawnerGoes: a run whose spawner dies ends failed
// and its process group is killed; the next run gets a new spawner.
func TestRunFailsWhenTheSpawnerGoes(t *testing.T) {
	requireRun(t)
	e := newEnv(t, wire.LineageB)
	r := e.run(map[string]any{"command": "echo $$; exec sleep 60", "time_to_background": 0}, nil)
	var pid int
	eventually(t, 10*time.Second, "the run prints its pid", func() bool {
		var err error
		pid, err = strconv.Atoi(strings.TrimSpace(e.getRun(r.RunID).Stdout))
		return err == nil
	})
	sp, err := sharedSpawner()
	if err != nil {
		t.Fatal(err)
	}
	sp.proc.Process.Kill()
	got := e.waitRun(r.RunID, 10*time.Second)
	if got.State != wire.RunFailed || got.FailReason == nil || !strings.Contains(*got.FailReason, "spawner went away") {
		t.Fatalf("run after its spawner died: %+v", got)
	}
	eventually(t, 5*time.Second, "the run's process ends", func() bool { return gone(pid) })
	r = e.run(map[string]any{"command": "echo again"}, nil)
	if r.State != wire.RunCompleted || r.Stdout != "again\n" {
		t.Fatalf("next run: %+v", r)
	}
	if sp2, _ := sharedSpawner(); sp2 == sp {
		t.Fatal("the dead spawner is still the shared one")
	}
}

// TestSpawnConnFrames: frames larger than a socket buffer, sent from
// several goroutines with descriptors, arrive whole, each with its own.
func TestSpawnConnFrames(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newSpawnConn(os.NewFile(uintptr(pair[0]), "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := newSpawnConn(os.NewFile(uintptr(pair[1]), "b"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, w, err := os.Pipe()
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			defer w.Close()
			tag := strconv.Itoa(i)
			req := spawnRequest{ID: uint64(i), Op: spawnStart, Spec: runSpec{Command: tag + strings.Repeat("x", 1<<20), Env: []string{"I=" + tag}}}
			if err := a.send(req, r, w); err != nil {
				t.Error(err)
			}
		})
	}
	for range n {
		var req spawnRequest
		fds, err := b.receive(&req)
		if err != nil {
			t.Fatal(err)
		}
		tag := strconv.Itoa(int(req.ID))
		if len(fds) != 2 || len(req.Spec.Command) != len(tag)+1<<20 || !strings.HasPrefix(req.Spec.Command, tag) || req.Spec.Env[0] != "I="+tag {
			t.Fatalf("frame %d: %d descriptors, command of %d bytes, env %q", req.ID, len(fds), len(req.Spec.Command), req.Spec.Env)
		}
		// The two descriptors are the two ends of one pipe.
		if _, err := fds[1].Write([]byte(tag)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(tag))
		if _, err := fds[0].Read(got); err != nil || string(got) != tag {
			t.Fatalf("frame %d: the pipe carried %q %v", req.ID, got, err)
		}
		closeFiles(fds)
	}
	wg.Wait()
	a.close()
	var req spawnRequest
	if _, err := b.receive(&req); !errors.Is(err, io.EOF) {
		t.Fatalf("receive after the other end closed: %v, want EOF", err)
	}
	b.close()
}
