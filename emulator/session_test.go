package emulator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arker-ai/arkerfs/wire"
)

// waitStdout polls a run until its stdout contains s.
func (e *env) waitStdout(id, s string) {
	e.t.Helper()
	eventually(e.t, 10*time.Second, fmt.Sprintf("run %s prints %q", id, s), func() bool {
		return strings.Contains(e.getRun(id).Stdout, s)
	})
}

func TestInterruptRule(t *testing.T) {
	requireRun(t)
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		bg := e.run(map[string]any{"command": "echo started; sleep 30", "background": true}, nil)
		if bg.Status != 202 {
			t.Fatalf("background: %+v", bg)
		}
		e.waitStdout(bg.RunID, "started")
		// A run in another session leaves it alone.
		other := e.run(map[string]any{"command": "echo other", "session_idx": 3}, nil)
		if other.Status != 200 || other.Stdout != "other\n" || other.SessionID == bg.SessionID {
			t.Fatalf("other session: %+v", other)
		}
		if g := e.getRun(bg.RunID); g.State != wire.RunRunning {
			t.Fatalf("the background run after a run in another session: %+v", g)
		}
		// A run entering session 0 interrupts it, then runs.
		start := time.Now()
		later := e.run(map[string]any{"command": "echo later", "session_idx": 0}, nil)
		if later.Status != 200 || later.Stdout != "later\n" || later.SessionID != bg.SessionID {
			t.Fatalf("later: %+v", later)
		}
		if time.Since(start) > interruptGrace {
			t.Errorf("SIGINT did not end sleep: %v", time.Since(start))
		}
		g := e.getRun(bg.RunID)
		if g.State != wire.RunFailed || g.FailReason == nil || *g.FailReason != "interrupted" || exit(g) >= 0 {
			t.Fatalf("interrupted run: %s", g.Body)
		}
	})
}

func TestInterruptEscalatesToKill(t *testing.T) {
	requireRun(t)
	e := newEnv(t, wire.LineageA)
	bg := e.run(map[string]any{"command": "trap '' INT; echo started; sleep 30", "time_to_background": 0, "session_idx": 2}, nil)
	e.waitStdout(bg.RunID, "started")
	start := time.Now()
	r := e.run(map[string]any{"command": "echo next", "session_idx": 2}, nil)
	if r.Status != 200 || r.Stdout != "next\n" {
		t.Fatalf("next: %+v", r)
	}
	if d := time.Since(start); d < interruptGrace || d > interruptGrace+5*time.Second {
		t.Errorf("next waited %v", d)
	}
	if g := e.getRun(bg.RunID); g.State != wire.RunFailed || *g.FailReason != "interrupted" || exit(g) != -9 {
		t.Fatalf("killed run: %s", g.Body)
	}
}

func TestSessionQueue(t *testing.T) {
	requireRun(t)
	e := newEnv(t, wire.LineageB)
	gate := filepath.Join(e.tmp, "go")
	var wg sync.WaitGroup
	var first runResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		first = e.run(map[string]any{"command": "echo waiting; while [ ! -e /tmp/go ]; do sleep 0.02; done; echo first", "session_idx": 4}, nil)
	}()
	var firstID string
	eventually(t, 10*time.Second, "the first run is running", func() bool {
		status, b := e.call("GET", vm("/runs?state=running"), nil, nil)
		var l wire.ListRunsResponse
		mustJSON(t, b, &l)
		if status == 200 && len(l.Runs) == 1 {
			firstID = l.Runs[0].RunID
		}
		return firstID != ""
	})
	e.waitStdout(firstID, "waiting")
	second := e.run(map[string]any{"command": "echo second", "session_idx": 4, "time_to_background": 0}, nil)
	if second.Status != 202 {
		t.Fatalf("second: %+v", second)
	}
	if g := e.getRun(second.RunID); g.State != wire.RunPending {
		t.Fatalf("second is %s, want pending", g.State)
	}
	status, b := e.call("GET", vm("/sessions/"+second.SessionID), nil, nil)
	var ss wire.Session
	mustJSON(t, b, &ss)
	if status != 200 || ss.State != wire.SessionRunning || ss.SessionIdx == nil || *ss.SessionIdx != 4 {
		t.Fatalf("session: %d %s", status, b)
	}
	os.WriteFile(gate, nil, 0o644)
	wg.Wait()
	if first.Status != 200 || first.Stdout != "waiting\nfirst\n" || first.State != wire.RunCompleted {
		t.Fatalf("first (must not be interrupted): %+v", first)
	}
	if g := e.waitRun(second.RunID, 10*time.Second); g.State != wire.RunCompleted || g.Stdout != "second\n" {
		t.Fatalf("second: %+v", g)
	}
}

func TestSignalRequest(t *testing.T) {
	requireRun(t)
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		bg := e.run(map[string]any{"command": "trap 'echo got; exit 7' TERM; echo ready; while :; do sleep 0.05; done", "background": true, "session_idx": 6}, nil)
		e.waitStdout(bg.RunID, "ready")
		ack := e.run(map[string]any{"signal": "SIGTERM", "session_idx": 6}, nil)
		if ack.Status != 200 || ack.RunID != "" || ack.StdoutEncoding == "" {
			t.Fatalf("ack: %+v", ack)
		}
		g := e.waitRun(bg.RunID, 10*time.Second)
		if g.State != wire.RunCompleted || exit(g) != 7 || !strings.Contains(g.Stdout, "got") {
			t.Fatalf("signalled run: %s", g.Body)
		}
	})
}

func TestRunRefusals(t *testing.T) {
	requireRun(t)
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		for _, body := range []string{
			`{"command":"true","cwd":"/"}`,
			`{"command":"true","timeout":1.5}`,
			`{"command":"true","timeout":-1}`,
			`{"command":"true","timeout":"1"}`,
			`{"command":"true","background":true,"time_to_background":5}`,
			`{"command":"true","background":false,"time_to_background":5}`,
			`{"timeout":5}`,
			`{}`,
			`{"command":null}`,
			`{"command":"true","Command":"true"}`,
			`{"command":"true","session_idx":-1}`,
			`{"command":"true","session_idx":"1"}`,
			`{"command":"true","vcpu_count":300}`,
			`{"command":"true","memory_backend":"disk"}`,
			`{"signal":"SIGSTOP"}`,
			`{"signal":"SIGINT","time_to_background":0}`,
			`{"signal":"SIGINT","background":true}`,
			`{"command":"true","background":null}`,
			`{"command":"true"} x`,
			`[]`,
			``,
		} {
			status, b := e.call("POST", vm("/runs"), body, nil)
			e.wantError(status, b, 400, wire.CodeBadRequest)
		}
		status, b := e.call("POST", vm("/runs"), `{"command":"true"}`, map[string]string{"Content-Type": "text/plain"})
		e.wantError(status, b, 400, wire.CodeBadRequest)
		status, b = e.call("POST", vm("/runs"), `{"command":"true","session_id":"ses_nope"}`, nil)
		obj := e.wantError(status, b, 404, wire.CodeNotFound)
		if d, _ := obj["details"].(map[string]any); l == wire.LineageA && d["resource"] != "session" {
			t.Errorf("details %s", b)
		}
		for _, key := range []string{strings.Repeat("k", 65), "clé"} {
			status, b = e.call("POST", vm("/runs"), `{"command":"true"}`, map[string]string{"Idempotency-Key": key})
			e.wantError(status, b, 400, wire.CodeBadRequest)
		}
		// What the schema allows passes.
		r := e.run(`{"command":"true","session_id":null,"session_idx":null,"timeout":0,"queueing_timeout":5,"end_symbol":"none","vcpu_count":2,"memory_mib":512,"disk_mib":0,"memory_backend":"file","policies":{"policies":[]}}`, nil)
		if r.Status != 200 || exit(r) != 0 {
			t.Fatalf("allowed fields: %+v", r)
		}
	})
}

func TestIdempotency(t *testing.T) {
	requireRun(t)
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		key := map[string]string{"Idempotency-Key": "arkerfs-01HZX"}
		body := `{"command":"echo x >> /tmp/count; wc -l < /tmp/count","session_idx":1}`
		a := e.run(body, key)
		b := e.run(`{"session_idx":1, "command":"echo x >> /tmp/count; wc -l < /tmp/count"}`, key)
		if a.Status != 200 || b.Status != 200 || a.RunID != b.RunID || a.Stdout != "1\n" || b.Stdout != "1\n" {
			t.Fatalf("replay: %+v %+v", a, b)
		}
		status, body2 := e.call("POST", vm("/runs"), `{"command":"echo other","session_idx":1}`, key)
		code := wire.CodeIdempotencyConflict
		if l == wire.LineageB {
			code = wire.CodeConflict
		}
		e.wantError(status, body2, 409, code)
		// A replay while the run goes on is 202 with its id.
		key2 := map[string]string{"Idempotency-Key": "k2"}
		bg := e.run(`{"command":"sleep 1","time_to_background":0,"session_idx":2}`, key2)
		again := e.run(`{"command":"sleep 1","time_to_background":0,"session_idx":2}`, key2)
		if bg.Status != 202 || again.Status != 202 || again.RunID != bg.RunID {
			t.Fatalf("running replay: %+v %+v", bg, again)
		}
		// A replay waits like the original would have.
		done := e.run(`{"command":"sleep 1","time_to_background":0,"session_idx":2}`, map[string]string{"Idempotency-Key": "k3"})
		e.waitRun(done.RunID, 10*time.Second)
		if got, _ := os.ReadFile(filepath.Join(e.tmp, "count")); string(got) != "x\n" {
			t.Errorf("ran %q times", got)
		}
	})
}

func TestSessionsEndpoints(t *testing.T) {
	requireRun(t)
	forEach(t, func(t *testing.T, l wire.Lineage) {
		e := newEnv(t, l)
		status, b := e.call("POST", vm("/sessions"), `{"cwd":"/tmp","env":{"FOO":"bar"},"pty":false,"cols":80,"rows":24}`, nil)
		var ss wire.Session
		mustJSON(t, b, &ss)
		if status != 200 || ss.SessionID == "" || ss.Cwd != "/tmp" || ss.State != wire.SessionIdle || ss.SessionIdx == nil || *ss.SessionIdx != 1 || ss.Env["FOO"] != "bar" {
			t.Fatalf("create: %d %s", status, b)
		}
		r := e.run(map[string]any{"command": "pwd; echo $FOO", "session_id": ss.SessionID, "session_idx": 9}, nil)
		if r.Status != 200 || r.Stdout != "/tmp\nbar\n" || r.SessionID != ss.SessionID {
			t.Fatalf("run in it: %+v", r)
		}
		status, _ = e.call("POST", vm("/sessions"), "", nil) // body optional
		if status != 200 {
			t.Fatalf("create without a body: %d", status)
		}
		status, b = e.call("GET", vm("/sessions?limit=2"), nil, nil)
		var list wire.ListSessionsResponse
		mustJSON(t, b, &list)
		if status != 200 || len(list.Sessions) != 2 || list.NextCursor == nil || *list.Sessions[0].SessionIdx != 0 {
			t.Fatalf("list: %d %s", status, b)
		}
		status, b = e.call("GET", vm("/sessions?limit=2&cursor="+*list.NextCursor), nil, nil)
		mustJSON(t, b, &list)
		if status != 200 || len(list.Sessions) != 1 || list.NextCursor != nil {
			t.Fatalf("page 2: %d %s", status, b)
		}
		for _, q := range []string{"?limit=0", "?limit=x", "?state=busy", "?cursor=zz", "?foo=1"} {
			status, b = e.call("GET", vm("/sessions"+q), nil, nil)
			e.wantError(status, b, 400, wire.CodeBadRequest)
		}
		status, b = e.call("GET", vm("/sessions/"+ss.SessionID), nil, nil)
		if status != 200 {
			t.Fatalf("get: %d %s", status, b)
		}
		for body, want := range map[string]int{`{"cols":100,"rows":40}`: 200, ``: 200, `{"timeout_secs":60}`: 200,
			`{"cols":100}`: 400, `{"cols":0,"rows":10}`: 400, `{"cols":10,"rows":10,"x":1}`: 400} {
			status, b = e.call("PATCH", vm("/sessions/"+ss.SessionID), body, nil)
			if status != want {
				t.Errorf("PATCH %q: %d %s", body, status, b)
			}
			if want == 200 {
				var p wire.PatchSessionResponse
				mustJSON(t, b, &p)
				if !p.OK || p.SessionID != ss.SessionID {
					t.Errorf("PATCH answer %s", b)
				}
			}
		}
		for _, body := range []string{`{"cwd":"tmp"}`, `{"cols":0}`, `{"env":{"A=B":"x"}}`, `{"shell":"bash"}`} {
			status, b = e.call("POST", vm("/sessions"), body, nil)
			e.wantError(status, b, 400, wire.CodeBadRequest)
		}
		status, b = e.call("DELETE", vm("/sessions/"+ss.SessionID), nil, nil)
		var del wire.DeletedResponse
		mustJSON(t, b, &del)
		if status != 200 || !del.Deleted {
			t.Fatalf("delete: %d %s", status, b)
		}
		for _, m := range []string{"GET", "DELETE", "PATCH"} {
			status, b = e.call(m, vm("/sessions/"+ss.SessionID), nil, nil)
			e.wantError(status, b, 404, wire.CodeNotFound)
		}
		status, b = e.call("POST", vm("/runs"), map[string]any{"command": "true", "session_id": ss.SessionID}, nil)
		e.wantError(status, b, 404, wire.CodeNotFound)
	})
}

func TestCancelRun(t *testing.T) {
	requireRun(t)
	e := newEnv(t, wire.LineageA)
	var wg sync.WaitGroup
	var blocker runResult
	wg.Add(1)
	go func() { // synchronous, so the next run in its session waits
		defer wg.Done()
		blocker = e.run(map[string]any{"command": "echo waiting; while [ ! -e /tmp/go ]; do sleep 0.02; done", "session_idx": 2}, nil)
	}()
	eventually(t, 10*time.Second, "the blocker runs", func() bool {
		_, b := e.call("GET", vm("/runs?state=running"), nil, nil)
		return strings.Contains(string(b), "run_")
	})
	pending := e.run(map[string]any{"command": "touch /tmp/ran", "session_idx": 2, "background": true}, nil)
	if g := e.getRun(pending.RunID); g.State != wire.RunPending {
		t.Fatalf("not pending: %s", g.Body)
	}
	status, b := e.call("DELETE", vm("/runs/"+pending.RunID), nil, nil)
	var c wire.CancelRunResponse
	mustJSON(t, b, &c)
	if status != 200 || !c.Cancelled {
		t.Fatalf("cancel pending: %d %s", status, b)
	}
	if g := e.getRun(pending.RunID); g.State != wire.RunCancelled {
		t.Fatalf("cancelled pending run: %s", g.Body)
	}
	os.WriteFile(filepath.Join(e.tmp, "go"), nil, 0o644)
	wg.Wait()
	if blocker.Status != 200 || blocker.State != wire.RunCompleted {
		t.Fatalf("blocker: %+v", blocker)
	}
	after := e.run(map[string]any{"command": "test -e /tmp/ran && echo ran || echo not", "session_idx": 2}, nil)
	if after.Stdout != "not\n" {
		t.Errorf("the cancelled run ran: %+v", after)
	}
	// Cancelling a running run marks the record; the process goes on.
	bg := e.run(map[string]any{"command": "echo a; while [ ! -e /tmp/go2 ]; do sleep 0.02; done; echo b", "session_idx": 3, "background": true}, nil)
	e.waitStdout(bg.RunID, "a")
	status, b = e.call("DELETE", vm("/runs/"+bg.RunID), nil, nil)
	mustJSON(t, b, &c)
	if status != 200 || !c.Cancelled || e.getRun(bg.RunID).State != wire.RunCancelled {
		t.Fatalf("cancel running: %d %s", status, b)
	}
	os.WriteFile(filepath.Join(e.tmp, "go2"), nil, 0o644)
	e.waitStdout(bg.RunID, "b")
	status, b = e.call("DELETE", vm("/runs/"+blocker.RunID), nil, nil)
	mustJSON(t, b, &c)
	if status != 200 || c.Cancelled {
		t.Fatalf("cancel a finished run: %d %s", status, b)
	}
	status, b = e.call("DELETE", vm("/runs/run_nope"), nil, nil)
	e.wantError(status, b, 404, wire.CodeNotFound)
}
