package emulator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

func TestRunSeesMappings(t *testing.T) {
	requireRun(t)
	for _, c := range []struct{ userNS, inProcess bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(fmt.Sprintf("userns=%t/inprocess=%t", c.userNS, c.inProcess), func(t *testing.T) {
			e := newEnv(t, wire.LineageA)
			e.s.runs.forceUserNS, e.s.runs.inProcess = c.userNS, c.inProcess
			e.s.runs.stopSandbox()
			e.put("dir/hello.txt", []byte("hi from home"))
			os.WriteFile(filepath.Join(e.tmp, "t.txt"), []byte("hi from tmp"), 0o644)
			r := e.run(map[string]any{"command": `pwd; cat /home/user/dir/hello.txt; echo; cat /tmp/t.txt; echo; echo "$HOME"; echo made > new.txt; echo err >&2`}, nil)
			if r.Status != 200 {
				t.Fatalf("run: %d %s", r.Status, r.Body)
			}
			lines := strings.Split(r.Stdout, "\n")
			if r.State != wire.RunCompleted || exit(r) != 0 || len(lines) < 4 || lines[0] != "/home/user" || lines[1] != "hi from home" || lines[2] != "hi from tmp" || lines[3] != "/home/user" {
				t.Fatalf("run = %+v", r)
			}
			if !strings.HasPrefix(r.RunID, "run_") || r.SessionID == "" || r.StdoutEncoding != wire.RunEncodingUTF8 || r.Stderr != "err\n" {
				t.Errorf("run = %+v", r)
			}
			if got := e.get("new.txt"); string(got) != "made\n" {
				t.Errorf("file made by the run: %q", got)
			}
		})
	}
}

func TestRunBackgroundAndPoll(t *testing.T) {
	requireRun(t)
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		r := e.run(map[string]any{"command": "echo one; sleep 0.3; echo two", "time_to_background": 0, "session_idx": 5}, nil)
		if r.Status != 202 || r.RunID == "" || r.State != wire.RunRunning || r.Stdout != "" {
			t.Fatalf("202: %+v", r)
		}
		var v wire.Run
		eventually(t, 10*time.Second, "stdout grows", func() bool {
			g := e.getRun(r.RunID)
			return strings.HasPrefix(g.Stdout, "one")
		})
		got := e.waitRun(r.RunID, 10*time.Second)
		if got.State != wire.RunCompleted || exit(got) != 0 || got.Stdout != "one\ntwo\n" || got.SessionID != r.SessionID {
			t.Fatalf("run: %+v", got)
		}
		mustJSON(t, []byte(got.Body), &v)
		if v.StartedAt == "" || v.CompletedAt == nil || v.Command == "" || v.VMID != DefaultVMID {
			t.Errorf("run view %s", got.Body)
		}
		// background:true is time_to_background 0.
		r = e.run(map[string]any{"command": "true", "background": true}, nil)
		if r.Status != 202 {
			t.Fatalf("background: %+v", r)
		}
		// A run that outlasts its window is 202.
		r = e.run(map[string]any{"command": "sleep 1.5", "time_to_background": 1}, nil)
		if r.Status != 202 {
			t.Fatalf("window: %+v", r)
		}
		status, b := e.call("GET", vm("/runs/run_nope"), nil, nil)
		e.wantError(status, b, 404, wire.CodeNotFound)
	})
}

func TestRunTimeoutAndExit(t *testing.T) {
	requireRun(t)
	e := newEnv(t, wire.LineageB)
	start := time.Now()
	r := e.run(map[string]any{"command": "sleep 30", "timeout": 1}, nil)
	if r.Status != 200 || r.State != wire.RunFailed || exit(r) >= 0 {
		t.Fatalf("timeout: %+v", r)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	g := e.getRun(r.RunID)
	if g.FailReason == nil || *g.FailReason != "timeout" {
		t.Errorf("fail_reason: %s", g.Body)
	}
	r = e.run(map[string]any{"command": "printf '\\377'; exit 3"}, nil)
	if r.Status != 200 || r.State != wire.RunCompleted || exit(r) != 3 || r.StdoutEncoding != wire.EncodingBase64 || r.Stdout != "/w==" {
		t.Fatalf("exit 3: %+v", r)
	}
}
