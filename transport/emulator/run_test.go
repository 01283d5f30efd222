package emulator

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/transport/wire"
)

func requireRun(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("runs need Linux mount namespaces")
	}
}

func TestRunSeesHome(t *testing.T) {
	requireRun(t)
	for _, userNS := range []bool{false, true} {
		t.Run("userns="+strconv.FormatBool(userNS), func(t *testing.T) {
			e := newEnv(t)
			e.s.runs.forceUserNS = userNS
			e.put("dir/hello.txt", []byte("hi from home"))
			status, r, b := e.run(`pwd; cat /home/user/dir/hello.txt; echo; echo "$HOME"; env | sort | tr '\n' ' '; echo made > new.txt`, 0, nil)
			if status != 200 {
				t.Fatalf("run: %d %s", status, b)
			}
			lines := strings.Split(r.Stdout, "\n")
			if r.State != wire.RunCompleted || r.ExitCode != 0 || len(lines) < 4 || lines[0] != "/home/user" || lines[1] != "hi from home" || lines[2] != "/home/user" {
				t.Fatalf("run = %+v", r)
			}
			if !strings.HasPrefix(r.RunID, "run_") || r.StdoutEncoding != wire.EncodingUTF8 || r.Stderr != "" {
				t.Errorf("run = %+v", r)
			}
			for _, v := range strings.Fields(lines[3]) {
				name, _, _ := strings.Cut(v, "=")
				if !slices.Contains([]string{"PATH", "HOME", "PWD", "LANG", "SHLVL", "OLDPWD", "_"}, name) {
					t.Errorf("unexpected variable %s in the run's environment", v)
				}
			}
			if got := e.get("new.txt"); string(got) != "made\n" {
				t.Errorf("file made by the run: %q", got)
			}
			if _, err := os.Stat("/home/user/dir/hello.txt"); err == nil && !strings.HasPrefix(e.home, "/home/user") {
				t.Error("home leaked onto the host's /home/user")
			}
		})
	}
}

func TestRunOutputsAndExitCodes(t *testing.T) {
	requireRun(t)
	e := newEnv(t)
	_, r, _ := e.run(`printf 'ok\377\376'; printf 'plain err' >&2; exit 3`, 0, nil)
	raw, err := base64.StdEncoding.DecodeString(r.Stdout)
	if r.StdoutEncoding != wire.EncodingBase64 || err != nil || string(raw) != "ok\xff\xfe" {
		t.Errorf("stdout %q (%s)", r.Stdout, r.StdoutEncoding)
	}
	if r.Stderr != "plain err" || r.StderrEncoding != wire.EncodingUTF8 {
		t.Errorf("stderr %q (%s)", r.Stderr, r.StderrEncoding)
	}
	if r.State != wire.RunCompleted || r.ExitCode != 3 || r.FailReason != nil {
		t.Errorf("run = %+v", r)
	}
	_, r, _ = e.run(`kill -9 $$`, 0, nil)
	if r.State != wire.RunCompleted || r.ExitCode != 137 {
		t.Errorf("killed: %+v", r)
	}
	// Nothing reads stdin: it is /dev/null.
	_, r, _ = e.run(`cat; echo done`, 5, nil)
	if r.Stdout != "done\n" {
		t.Errorf("stdin: %+v", r)
	}
}

func TestRunBadRequests(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{`{"command":""}`, `{"command":"  "}`, `{"command":"true","timeout":0}`,
		`{"command":"true","timeout":-1}`, `{"command":"true","timeout":601}`, `nope`} {
		resp, b, err := e.request(http.MethodPost, e.runPath(), []byte(body), nil)
		if err != nil || resp.StatusCode != 400 || errorOf(t, b).Code != wire.CodeBadRequest {
			t.Errorf("%s: %v %v %s", body, err, resp.Status, b)
		}
	}
}

// groupAlive reports whether a process of group pgid is alive (zombies
// are not).
func groupAlive(t *testing.T, pgid int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if _, err := strconv.Atoi(ent.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:])) // state ppid pgrp ...
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			return true
		}
	}
	return false
}

func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for groupAlive(t, pgid) {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still alive", pgid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunTimeoutKillsGroup(t *testing.T) {
	requireRun(t)
	e := newEnv(t)
	start := time.Now()
	status, r, b := e.run(`echo $$; sleep 30 & sleep 30`, 0.3, nil)
	if status != 200 {
		t.Fatalf("%d %s", status, b)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("timeout took %v", took)
	}
	if r.State != wire.RunFailed || r.FailReason == nil || *r.FailReason != "timeout" {
		t.Fatalf("run = %+v", r)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if err != nil {
		t.Fatalf("stdout %q", r.Stdout)
	}
	waitGroupGone(t, pgid)
}

func TestRunCancelledByClient(t *testing.T) {
	requireRun(t)
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := `{"command":"echo $$ > pid; exec sleep 30"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+e.runPath(), strings.NewReader(body))
	req.Header.Set(wire.HeaderAuthorization, "Bearer "+testToken)
	errc := make(chan error, 1)
	go func() {
		resp, err := e.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 {
		if b, err := os.ReadFile(filepath.Join(e.home, "pid")); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			t.Fatal("the run did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled request succeeded")
	}
	waitGroupGone(t, pid)
}

func TestRunIdempotencyKey(t *testing.T) {
	requireRun(t)
	e := newEnv(t)
	key := map[string]string{wire.HeaderIdempotencyKey: "key-1"}
	cmd := `echo x >> count; cat /proc/sys/kernel/random/uuid`
	_, r1, _ := e.run(cmd, 10, key)
	_, r2, _ := e.run(cmd, 10, key)
	if r1.RunID != r2.RunID || r1.Stdout != r2.Stdout || r1.Stdout == "" {
		t.Fatalf("replay differs: %+v vs %+v", r1, r2)
	}
	if got := e.get("count"); string(got) != "x\n" {
		t.Fatalf("the command ran %d times", strings.Count(string(got), "x"))
	}
	status, _, b := e.run(`echo other`, 10, key)
	if status != http.StatusConflict || errorOf(t, b).Code != wire.CodeConflict {
		t.Fatalf("same key, other request: %d %s", status, b)
	}
	// Without a key every request runs.
	e.run(cmd, 10, nil)
	if got := e.get("count"); string(got) != "x\nx\n" {
		t.Fatalf("count %q", got)
	}
	// Concurrent duplicates wait for the first and get its answer.
	slow := `sleep 0.3; echo y >> count2; cat /proc/sys/kernel/random/uuid`
	var wg sync.WaitGroup
	outs := make([]string, 3)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, r, _ := e.run(slow, 10, map[string]string{wire.HeaderIdempotencyKey: "key-2"})
			outs[i] = r.Stdout
		}()
	}
	wg.Wait()
	if outs[0] == "" || outs[0] != outs[1] || outs[1] != outs[2] {
		t.Fatalf("duplicates answered %q", outs)
	}
	if got := e.get("count2"); string(got) != "y\n" {
		t.Fatalf("the command ran %d times", strings.Count(string(got), "y"))
	}
}

// TestRunOverhead measures the median time of a trivial run over HTTP on
// loopback, for both sandboxes.
func TestRunOverhead(t *testing.T) {
	requireRun(t)
	for _, userNS := range []bool{false, true} {
		e := newEnv(t)
		e.s.runs.forceUserNS = userNS
		e.run("true", 0, nil) // make the sandbox
		var times []time.Duration
		for range 30 {
			start := time.Now()
			if status, r, b := e.run("true", 0, nil); status != 200 || r.ExitCode != 0 {
				t.Fatalf("%d %s", status, b)
			}
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		t.Logf("userns=%v: median run %v (min %v, max %v)", userNS, times[len(times)/2], times[0], times[len(times)-1])
	}
}
